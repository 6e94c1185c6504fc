/**
 * Helpers for tests that run the built `posture daemon` as a child process: polling until something
 * holds (generous timeouts; speed is the benchmarks'), and its JSON-lines log as it comes.
 */
import type { ChildProcess } from 'node:child_process';

/** Polls `probe` every 250 ms until it returns a value; fails after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Appends each line of the child's stdout, parsed as JSON, to `lines` as it comes. */
export function followJsonLines<T>(child: ChildProcess, lines: T[]): void {
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) lines.push(JSON.parse(line) as T);
  });
}
