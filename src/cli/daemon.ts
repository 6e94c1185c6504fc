/** `posture daemon` (the service, in the foreground) and `posture status` (asks it over the local API). */
import type { Command } from 'commander';
import { createAgent, INSTALL_DIR } from '../agent/agent.js';
import type { AgentConfig } from '../agent/config.js';
import { loadConfig } from '../agent/config.js';
import { deviceKeyHome } from '../keys/manager.js';
import { keyManagerDeps } from '../keys/select.js';
import type { StatusResponse } from '../shared/local-api.js';

/**
 * The service's own modules (D-Bus signals, cron schedule, local API server, verifier link), loaded
 * by `posture daemon` only: the CLI's other commands never hold them in memory.
 */
async function loadDaemonModules() {
  const [{ PostureDaemon }, { jsonLinesLog }] = await Promise.all([
    import('../agent/daemon/daemon.js'),
    import('../agent/daemon/log.js'),
  ]);
  return { PostureDaemon, jsonLinesLog };
}

/** The local API client `posture status` asks the daemon with. */
async function loadStatusClient() {
  return import('../agent/daemon/status-client.js');
}

export function registerDaemonCommands(program: Command): void {
  program
    .command('daemon')
    .description(
      'run the agent service in the foreground (what the service unit starts): re-checks on events and a schedule, serves the local API; logs JSON lines on stdout',
    )
    .action(async () => {
      const { PostureDaemon, jsonLinesLog } = await loadDaemonModules();
      const daemon = new PostureDaemon({
        loadConfig: () => loadConfig(),
        makeAgent: (config) => createAgent({ config, keys: serviceKeys(config) }),
        keyHome: (config) => deviceKeyHome(serviceKeys(config)),
        log: jsonLinesLog((line) => process.stdout.write(line)),
      });
      // Signals are taken before the start, so an early SIGHUP cannot end the process.
      process.on('SIGHUP', () => void daemon.reload().catch(() => undefined));
      const stopped = new Promise<void>((resolve) => {
        const stop = () => void daemon.stop().finally(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      // SIGTERM may come while the start still waits (a source connecting): the stop ends it then,
      // whether or not the start ever settles. A start that fails before a stop is the error.
      const started = daemon.start();
      started.catch(() => undefined);
      await Promise.race([started, stopped]);
      await stopped;
      // Stopped and logged: the process ends now even if a connection that never completed (a
      // bus that took the connection and never answered) would hold the event loop open.
      setTimeout(() => process.exit(0), 2_000).unref();
    });

  program
    .command('status')
    .description('show what the running daemon last observed and decided, and from when')
    .option('--json', 'print the local API status answer as JSON (docs/local-api.md)')
    .action(async (opts: { json?: boolean }) => {
      const { readDaemonStatus } = await loadStatusClient();
      const answer = await readDaemonStatus(loadConfig().socketPath);
      process.stdout.write(opts.json ? `${JSON.stringify(answer, null, 2)}\n` : `${statusText(answer)}\n`);
    });
}

/** `posture daemon` is the system service: its device key is chosen as a service's (docs/keys.md). */
function serviceKeys(config: AgentConfig) {
  return keyManagerDeps({ ...config, service: true }, INSTALL_DIR);
}

function statusText({ status }: StatusResponse): string {
  const lines = [
    `daemon      ${status.state} since ${status.startedAt} (agent ${status.agentVersion})`,
    status.posture
      ? `posture     ${status.posture.overall} (policy ${status.posture.policyRevision}, judged ${status.posture.evaluatedAt})`
      : 'posture     not judged yet',
    ...(status.posture?.checks ?? []).map(
      (c) => `  ${c.check.padEnd(16)} ${c.verdict.padEnd(8)} ${c.code} (observed ${c.observedAt})`,
    ),
    status.lastRecheck
      ? `last check  ${status.lastRecheck.finishedAt} after ${status.lastRecheck.trigger}: ${status.lastRecheck.checks.join(', ')}`
      : 'last check  none yet',
    status.attestation
      ? `attestation issued ${status.attestation.issuedAt}, expires ${status.attestation.expiresAt}`
      : 'attestation none',
    `enrolled    ${status.enrollment.enrolled ? `yes, as ${status.enrollment.deviceId ?? '?'}` : 'no'}`,
    ...verifierLines(status.verifier),
    ...status.problems.map((p) => `problem     ${p.code}: ${p.message} (since ${p.since})`),
  ];
  return lines.join('\n');
}

/** The verifier's side: what it answered the last push, and what it last decided on this device. */
function verifierLines(verifier: StatusResponse['status']['verifier']): string[] {
  if (!verifier) return [];
  const push = verifier.lastPush;
  const outcome =
    push.outcome === 'refused'
      ? `refused (${push.code ?? '?'})`
      : push.outcome === 'unreachable'
        ? `not reached (${push.reason ?? '?'}${push.httpStatus ? ` ${push.httpStatus}` : ''}), retrying`
        : push.outcome;
  const decision = verifier.lastDecision;
  return [
    `verifier    ${verifier.url}: last push ${push.at} ${outcome}`,
    decision
      ? `  decided   ${decision.allowed ? 'allowed' : `denied: ${decision.reasons.join(', ')}`} (${decision.at})`
      : '  decided   nothing yet',
  ];
}
