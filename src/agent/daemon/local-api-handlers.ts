/**
 * What the daemon answers on each local API endpoint (the server routes, checks access and
 * formats; see local-api-server.ts). Enrolling and rotating run through the agent core, then the
 * next re-check signs with the new identity.
 */
import { PostureError } from '../../shared/errors.js';
import type { CheckId } from '../../shared/posture.js';
import type { DaemonStatus, EnrollRequest } from '../../shared/local-api.js';
import { LOCAL_API_LIMITS } from '../../shared/local-api.js';
import type { Attestation } from '../../attest/attestation.js';
import type { Agent } from '../agent.js';
import { LocalApiFailure } from './errors.js';
import type { HeldAttestation } from './local-signing.js';
import { createLocalSigning } from './local-signing.js';
import { createTokenBuckets } from './rate-limit.js';
import type { Trigger } from './events/trigger.js';
import { ALL_CHECKS } from './events/trigger.js';
import type { LocalApiHandlers } from './local-api-server.js';

export interface DaemonControl {
  currentStatus(): DaemonStatus;
  currentAgent(): Agent;
  trigger(trigger: Trigger): { coalesced: boolean; checks: CheckId[] };
  reload(): Promise<{ reloadedAt: string; changed: string[] }>;
  identityChanged(): Promise<void>;
  /** The attestation presented now and the report it was signed from; undefined when none. */
  heldAttestation(): HeldAttestation | undefined;
  /** An administrator's action ended: logged and shown as a problem when it failed, cleared when it worked. */
  actionEnded(action: 'enroll' | 'rotate', error?: unknown): void;
}

export interface SigningLimits {
  freshSignBurst: number;
  freshSignRefillMs: number;
  maxAudiences: number;
  minRemainingMs: number;
}

export function daemonHandlers(
  daemon: DaemonControl,
  options: { limits?: Partial<SigningLimits>; now?: () => number } = {},
): LocalApiHandlers {
  const limits = { ...LOCAL_API_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const signing = createLocalSigning({
    held: () => daemon.heldAttestation(),
    whyNone: () => whyNoAttestation(daemon.currentStatus()),
    sign: (request) => daemon.currentAgent().attest(request),
    freshSigns: createTokenBuckets({
      burst: limits.freshSignBurst,
      refillMs: limits.freshSignRefillMs,
      now,
    }),
    maxAudiences: limits.maxAudiences,
    minRemainingMs: limits.minRemainingMs,
    now,
  });
  return {
    attestation: async (request, who) => {
      const a = await signing.attestation(request, who.userKey);
      return { token: a.token, ...times(a), audience: a.claims.aud, claims: { ...a.claims } };
    },
    headers: async (request, who) => {
      const { headers, attestation: a } = await signing.headers(request, who.userKey);
      return { headers, audience: a.claims.aud, ...times(a) };
    },
    status: () => daemon.currentStatus(),
    recheck: async (request) =>
      daemon.trigger({
        source: 'request',
        checks: request.checks ?? ALL_CHECKS,
        at: new Date().toISOString(),
        detail: 'local API re-check',
      }),
    enroll: (request) => noted(daemon, 'enroll', () => enroll(daemon, request)),
    rotate: (request) =>
      noted(daemon, 'rotate', async () => {
        const outcome = await coded(() =>
          daemon.currentAgent().rotate({ forceNew: request.forceNew === true }),
        );
        await daemon.identityChanged();
        return {
          keyId: outcome.active.kid,
          keyProtection: outcome.active.protection,
          ...(outcome.notSent ? { notSent: outcome.notSent } : {}),
        };
      }),
    reload: () => coded(() => daemon.reload()),
  };
}

function times(a: Attestation): { issuedAt: string; expiresAt: string } {
  return {
    issuedAt: new Date(a.claims.iat * 1000).toISOString(),
    expiresAt: new Date(a.expiresAt).toISOString(),
  };
}

/** Why the daemon holds no attestation, from what its status shows. */
export function whyNoAttestation(status: DaemonStatus): string {
  if (status.state === 'starting') return 'it is still starting (the first re-check has not ended)';
  const problem = status.problems.find((p) =>
    ['no_audience', 'attestation_failed', 'policy_unavailable', 'recheck_failed'].includes(p.code),
  );
  if (problem) return `${problem.message} [${problem.code}]`;
  return 'none is current; `posture status` shows the daemon’s state';
}

async function enroll(daemon: DaemonControl, request: EnrollRequest) {
  const agent = daemon.currentAgent();
  const server = request.verifierUrl ?? (await agent.enrollment().catch(() => undefined))?.server;
  if (!server)
    throw new LocalApiFailure(
      'malformed_request',
      'name the verifier (verifierUrl): this device is enrolled nowhere yet',
    );
  const outcome = await coded(() =>
    agent.enroll({ server, token: request.token, newKeyIfRevoked: request.newKeyIfRevoked ?? true }),
  );
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
      throw new LocalApiFailure('unavailable', `${error.message} [${error.code}]`, undefined, error.code);
    throw error;
  }
}
