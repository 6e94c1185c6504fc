/**
 * `posture enroll` and `posture key rotate` while the agent's daemon runs: the daemon holds the
 * device key and the enrollment, so it does the work (an administrator's request: root, or a member
 * of `adminGroups`). Doing it in this process instead would make a second key and enrollment beside
 * the daemon's, which it would not use. No daemon answering: this process does it (the `posture`
 * command on its own, as before). `--no-daemon` never asks; `--require-daemon` never falls back.
 *
 * Only on Linux for now: elsewhere the daemon cannot yet tell who is asking (docs/local-api.md, "Who
 * is asking") and refuses every administrator request, so there the work stays in process unless
 * --require-daemon asks otherwise (then restart the service to make it read the new identity).
 */
import { isNoDaemon, DaemonRefusal } from '../agent/daemon/status-client.js';
import { PostureError } from '../shared/errors.js';

export interface DaemonFlags {
  /** false with --no-daemon. */
  daemon?: boolean;
  requireDaemon?: boolean;
}

/** What the daemon answered, or undefined when this process should do the work itself. */
export async function viaDaemon<T>(
  flags: DaemonFlags,
  ask: () => Promise<T>,
  platform: NodeJS.Platform = process.platform,
): Promise<T | undefined> {
  if (flags.daemon === false && flags.requireDaemon)
    throw new PostureError('ERR_USAGE', '--no-daemon and --require-daemon contradict each other.');
  if (flags.daemon === false || (platform !== 'linux' && !flags.requireDaemon)) return undefined;
  try {
    return await ask();
  } catch (error) {
    if (isNoDaemon(error) && !flags.requireDaemon) return undefined;
    if (error instanceof DaemonRefusal && error.localCode === 'forbidden')
      throw new PostureError(
        error.code,
        `${error.message}. The agent service runs on this device, and only root or a member of its adminGroups may change its enrollment or key (sudo posture …); --no-daemon acts for this user's own agent instead.`,
      );
    throw agentErrorOf(error);
  }
}

/**
 * A refusal that carries the agent core's own code (ERR_DEVICE_REVOKED, ERR_SERVER_UNREACHABLE, …)
 * becomes that error, so the exit code is the same as when this process does the work.
 */
function agentErrorOf(error: unknown): unknown {
  if (!(error instanceof DaemonRefusal) || !error.agentCode) return error;
  const message = error.message
    .replace(/^the Posture Agent daemon refused: /, '')
    .replace(/ \[[a-z_]+\]$/, '')
    .replace(/ \[ERR_[A-Z0-9_]+\]$/, '');
  return new PostureError(error.agentCode, `the agent service: ${message}`);
}
