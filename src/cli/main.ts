#!/usr/bin/env node
/** The `posture` command. */
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../agent/config.js';
import { KeyError } from '../keys/errors.js';
import { PostureError } from '../shared/errors.js';
import { createLiveHost } from '../probes/live-host.js';
import { AGENT } from '../probes/run.js';
import { formatCheckTable } from './format.js';
import { registerPresentCommands } from './present.js';
import {
  EXIT,
  exitCodeFor,
  exitCodeForError,
  loadPolicyFile,
  runCapture,
  runCheck,
  runReplay,
  writeFileAtomic,
} from './posture.js';

const program = new Command();
program
  .name('posture')
  .description("Posture Agent: observes this device's security posture and checks it against policy.")
  .version(AGENT.version)
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes of "check": 0 every check passes, 1 a check fails, 2 none fails but one is unknown,
3 bad usage, policy, config or capture file, 4 internal error, 5 the device key cannot be used
(keychain locked or absent, TPM unreachable; the message ends with a code such as [ERR_KEYCHAIN_LOCKED]).
Exit codes of "enroll", besides 3-5: 6 the verifier refused (ask IT for a new enrollment token;
retrying will not help), 7 the verifier could not be reached (retry later).
Environment: POSTURE_POLICY, POSTURE_CACHE_DIR, POSTURE_CONFIG, POSTURE_PATCH_CACHE_TTL_MINUTES,\nPOSTURE_STATE_DIR, POSTURE_KEY_STORE, POSTURE_KEY_FILE, POSTURE_TPM_TCTI, POSTURE_AUDIENCE.
Managed settings (${'/etc/posture-agent/managed.json'} on Linux) override all of them.`,
  );

program
  .command('check')
  .description('observe this device (or a capture) and judge it against the policy')
  .option('--json', 'print the report and verdicts as JSON (schema posture-check/v1, docs/schema.md)')
  .option('--policy <file>', 'policy file (JSON or YAML); default: the configured or built-in policy')
  .option('--replay <capture>', 'evaluate a capture file made by "posture capture" instead of this device')
  .option('--no-cache', 'do not reuse cached package-manager results')
  .action(async (opts: { json?: boolean; policy?: string; replay?: string; cache: boolean }) => {
    const config = loadConfig({ flags: opts.policy ? { policyFile: opts.policy } : {} });
    const policy = await loadPolicyFile(opts.policy ?? config.policyFile);
    const output = opts.replay
      ? await runReplay(opts.replay, config, policy)
      : await runCheck({ host: createLiveHost(), config, policy, cache: opts.cache, trackFirstSeen: true });
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(output, null, 2)}\n`
        : `${formatCheckTable(output.report, output.evaluation, process.stdout.columns ?? 100)}\n`,
    );
    process.exitCode = exitCodeFor(output.evaluation);
  });

program
  .command('capture')
  .description('record every command output and file the probes read here, for offline replay and support')
  .requiredOption('--out <file>', 'where to write the capture (JSON, docs/capture-format.md)')
  .option('--note <text>', 'a note stored in the capture: which machine, why')
  .action(async (opts: { out: string; note?: string }) => {
    const config = loadConfig();
    const { capture, report } = await runCapture(createLiveHost(), config, opts.note);
    await writeFileAtomic(opts.out, `${JSON.stringify(capture, null, 2)}\n`);
    const unknown = Object.values(report.checks).filter((c) => c?.status === 'unknown').length;
    process.stderr.write(
      `wrote ${opts.out}: ${capture.commands.length} commands, ${capture.files.length} files${unknown ? `, ${unknown} checks unknown` : ''}\n`,
    );
  });

registerPresentCommands(program);

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    if (error instanceof PostureError) {
      process.stderr.write(`posture: ${error.message} [${error.code}]\n`);
      process.exitCode = error instanceof KeyError ? EXIT.key : exitCodeForError(error.code);
      return;
    }
    process.stderr.write(
      `posture: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = EXIT.error;
  }
}

await main(process.argv);
