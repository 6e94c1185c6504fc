#!/usr/bin/env node
/** The `posture` command. */
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../agent/config.js';
import { PostureError } from '../shared/errors.js';
import { createAgent } from '../agent/agent.js';
import { AGENT } from '../host/agent-info.js';
import { EXIT_MEANINGS } from './exit-codes.js';
import { formatCheckTable } from './format.js';
import { registerDaemonCommands } from './daemon.js';
import { registerPresentCommands } from './present.js';
import { checkConfig, exitCodeFor, writeOutputFile } from './posture.js';
import { endQuietlyOnClosedPipes, reportError } from './report.js';

endQuietlyOnClosedPipes();

const program = new Command();
program
  .name('posture')
  .description("Posture Agent: observes this device's security posture and checks it against policy.")
  .version(AGENT.version)
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes (an error message ends with its code, e.g. [ERR_KEYCHAIN_LOCKED]; with --json the error is
also printed as JSON on stdout):
${EXIT_MEANINGS.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${wrapped(meaning, 92, 6)}`).join('\n')}
Environment: POSTURE_POLICY, POSTURE_CACHE_DIR, POSTURE_CONFIG, POSTURE_PATCH_CACHE_TTL_MINUTES,\nPOSTURE_STATE_DIR, POSTURE_KEY_STORE, POSTURE_KEY_FILE, POSTURE_TPM_TCTI, POSTURE_AUDIENCE, POSTURE_SOCKET.
Managed settings (/etc/posture-agent/managed.json on Linux) override all of them and --policy.`,
  );

program
  .command('check')
  .description('observe this device (or a capture) and judge it against the policy')
  .option('--json', 'print the report and verdicts as JSON (schema posture-check/v1, docs/schema.md)')
  .option('--policy <file>', 'policy file (JSON or YAML); default: the configured or built-in policy')
  .option('--replay <capture>', 'evaluate a capture file made by "posture capture" instead of this device')
  .option('--no-cache', 'do not reuse cached package-manager results')
  .action(async (opts: { json?: boolean; policy?: string; replay?: string; cache: boolean }) => {
    const { config, notices } = checkConfig(opts.policy ? { policy: opts.policy } : {});
    for (const notice of notices) process.stderr.write(`posture: ${notice}\n`);
    const agent = createAgent({ config });
    const policy = await agent.policy();
    const output = opts.replay
      ? await agent.replay(opts.replay, policy)
      : await agent.check({ policy, cache: opts.cache });
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
    const { capture, report } = await createAgent({ config: loadConfig() }).capture(opts.note);
    await writeOutputFile(opts.out, `${JSON.stringify(capture, null, 2)}\n`);
    const unknown = Object.values(report.checks).filter((c) => c?.status === 'unknown').length;
    process.stderr.write(
      `wrote ${opts.out}: ${capture.commands.length} commands, ${capture.files.length} files${unknown ? `, ${unknown} checks unknown` : ''}\n`,
    );
  });

registerPresentCommands(program);
registerDaemonCommands(program);

/** `text` in lines of at most `width` characters, continuation lines indented by `indent` spaces. */
function wrapped(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** Whether the command asked for JSON output: its errors are then JSON on stdout too. */
let jsonOutput = false;
program.hook('preAction', (_program, action) => {
  const opts = action.opts<{ json?: boolean; format?: string }>();
  jsonOutput = opts.json === true || opts.format === 'json';
});

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed what was wrong; a script that asked for JSON still gets JSON.
      if (error.exitCode === 0) process.exitCode = 0;
      else
        process.exitCode = reportError(new PostureError('ERR_USAGE', error.message), {
          json: asksForJson(argv),
          quiet: true,
        });
      return;
    }
    process.exitCode = reportError(error, { json: jsonOutput });
  }
}

/** --json (or --format json) before any `--`, for errors found before a command's action runs. */
function asksForJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  return args.includes('--json') || args.some((a, i) => a === '--format' && args[i + 1] === 'json');
}

await main(process.argv);
