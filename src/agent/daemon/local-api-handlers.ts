/**
 * What the daemon answers on each local API endpoint (the server routes, checks access and
 * formats; see local-api-server.ts). Enrolling and rotating run through the agent core, then the
 * next re-check signs with the new identity.
 */
import { PostureError } from '../../shared/errors.js';
import type { CheckId } from '../../shared/posture.js';
import type { DaemonStatus, EnrollRequest } from '../../shared/local-api.js';
import type { Agent } from '../agent.js';
import { LocalApiFailure } from './errors.js';
import type { Trigger } from './events/trigger.js';
import { ALL_CHECKS } from './events/trigger.js';
import type { LocalApiHandlers } from './local-api-server.js';

export interface DaemonControl {
  currentStatus(): DaemonStatus;
  currentAgent(): Agent;
  trigger(trigger: Trigger): { coalesced: boolean; checks: CheckId[] };
  reload(): Promise<{ reloadedAt: string; changed: string[] }>;
  identityChanged(): Promise<void>;
  /** An administrator's action ended: logged and shown as a problem when it failed, cleared when it worked. */
  actionEnded(action: 'enroll' | 'rotate', error?: unknown): void;
}

export function daemonHandlers(daemon: DaemonControl): LocalApiHandlers {
  return {
    status: () => daemon.currentStatus(),
    recheck: async (request) =>
      daemon.trigger({
        source: 'request',
        checks: request.checks ?? ALL_CHECKS,
        at: new Date().toISOString(),
        detail: 'local API re-check',
      }),
    enroll: (request) => noted(daemon, 'enroll', () => enroll(daemon, request)),
    rotate: () =>
      noted(daemon, 'rotate', async () => {
        const outcome = await coded(() => daemon.currentAgent().rotate({ forceNew: false }));
        await daemon.identityChanged();
        return { keyId: outcome.active.kid };
      }),
    reload: () => coded(() => daemon.reload()),
  };
}

async function enroll(daemon: DaemonControl, request: EnrollRequest) {
  const agent = daemon.currentAgent();
  const server = request.verifierUrl ?? (await agent.enrollment().catch(() => undefined))?.server;
  if (!server)
    throw new LocalApiFailure(
      'malformed_request',
      'name the verifier (verifierUrl): this device is enrolled nowhere yet',
    );
  const outcome = await coded(() => agent.enroll({ server, token: request.token, newKeyIfRevoked: true }));
  const key = await coded(() => agent.key());
  await daemon.identityChanged();
  return { deviceId: outcome.deviceId, keyProtection: key.protection };
}

/** Runs an administrator's action and tells the daemon how it ended (a full disk, a verifier away…). */
async function noted<T>(
  daemon: DaemonControl,
  action: 'enroll' | 'rotate',
  work: () => Promise<T>,
): Promise<T> {
  try {
    const result = await work();
    daemon.actionEnded(action);
    return result;
  } catch (error) {
    daemon.actionEnded(action, error);
    throw error;
  }
}

/** A coded failure of the agent core answered as `unavailable` naming its code (never a stack). */
async function coded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LocalApiFailure) throw error;
    if (error instanceof PostureError)
      throw new LocalApiFailure('unavailable', `${error.message} [${error.code}]`);
    throw error;
  }
}
