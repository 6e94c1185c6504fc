/**
 * How the `posture` command ends: a coded error as one line on stderr (and, for --json, as a JSON
 * document on stdout, so a script that parses stdout always gets JSON), never a stack trace for a
 * known failure; a reader that goes away (`posture --help | head`) ends the output quietly.
 */
import { PostureError } from '../shared/errors.js';
import { EXIT, exitCodeForError } from './exit-codes.js';

export interface ErrorDocument {
  error: { code: string; message: string; exitCode: number; publicUrl?: string };
}

/** Prints the error (on stderr unless already printed: `quiet`) and returns its exit code. */
export function reportError(error: unknown, options: { json: boolean; quiet?: boolean }): number {
  const known = error instanceof PostureError;
  const code = known ? error.code : 'ERR_INTERNAL';
  const exitCode = known ? exitCodeForError(error.code) : EXIT.error;
  const message = error instanceof Error ? error.message : String(error);
  if (options.quiet) {
    // already on stderr
  } else if (known) process.stderr.write(`posture: ${message} [${code}]\n`);
  else
    process.stderr.write(
      `posture: internal error: ${error instanceof Error ? (error.stack ?? message) : message}\n`,
    );
  if (options.json) {
    const publicUrl = (error as { publicUrl?: unknown }).publicUrl;
    const doc: ErrorDocument = {
      error: { code, message, exitCode, ...(typeof publicUrl === 'string' ? { publicUrl } : {}) },
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
  return exitCode;
}

/**
 * A closed pipe on stdout or stderr (the reader exited) is not an error of this command: further
 * output is dropped and the command ends with its own exit code. Any other write error is reported
 * once, as a coded error, on whichever stream still works.
 */
export function endQuietlyOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // EPIPE: the reader exited; ERR_STREAM_DESTROYED: a later write to that same closed stream.
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      process.exitCode = EXIT.error;
      const other = stream === process.stdout ? process.stderr : process.stdout;
      if (other.writable)
        other.write(
          `posture: cannot write output (${error.code ?? error.message}) [ERR_OUTPUT_UNWRITABLE]\n`,
        );
    });
  }
}
