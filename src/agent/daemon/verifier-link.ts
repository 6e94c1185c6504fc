/**
 * The daemon's side of push and supersede: each new attestation goes to the verifier this device
 * is enrolled with, through the verifier client (verifier-client.ts: retries, heartbeat, latest
 * only). The client's outcomes become status problems and log lines; nothing here passes the
 * device: an accepted push only says what the verifier decided. Not enrolled → nothing is pushed
 * (said once in the log).
 */
import type { Attestation } from '../../attest/attestation.js';
import type { DaemonStatus } from '../../shared/local-api.js';
import type { DaemonLog } from './log.js';
import type { PushableAttestation, PushOutcome, VerifierClient } from './verifier-client.js';

/** The status problems this link raises and clears. */
const PROBLEMS = ['push_refused', 'verifier_unreachable', 'push_expired'] as const;

export interface VerifierLinkDeps {
  log: DaemonLog;
  /** Shows (message) or clears (undefined) a problem in the status. */
  setProblem: (code: string, message: string | undefined) => void;
  /** The verifier's part of the status: its URL, the last push's outcome, its last decision. */
  setVerifier?: (verifier: PushStatus | undefined) => void;
  /** Makes the client for a verifier's public URL; it reports each outcome to `onOutcome`. */
  connect: (serverUrl: string, onOutcome: (outcome: PushOutcome) => void) => VerifierClient;
}

export type PushStatus = NonNullable<DaemonStatus['verifier']>;

export class VerifierLink {
  private client: { serverUrl: string; client: VerifierClient } | undefined;
  private saidNotEnrolled = false;
  private lastDecision: PushStatus['lastDecision'] = null;

  constructor(private readonly deps: VerifierLinkDeps) {}

  /** Pushes `attestation` to `serverUrl` (the enrollment's), or says once that there is none. */
  async deliver(attestation: Attestation, serverUrl: string | undefined): Promise<void> {
    if (!serverUrl) {
      await this.stop();
      if (!this.saidNotEnrolled)
        this.deps.log('push_skipped', {
          reason: 'not_enrolled',
          detail: 'not enrolled: no verifier to push to',
        });
      this.saidNotEnrolled = true;
      return;
    }
    this.saidNotEnrolled = false;
    if (this.client?.serverUrl !== serverUrl) {
      await this.stop();
      this.client = {
        serverUrl,
        client: this.deps.connect(serverUrl, (o) => this.noteOutcome(serverUrl, o)),
      };
    }
    this.client.client.submit(pushable(attestation));
  }

  /** Stops retries and heartbeats (SIGTERM, or another verifier). */
  async stop(): Promise<void> {
    const current = this.client;
    this.client = undefined;
    for (const code of PROBLEMS) this.deps.setProblem(code, undefined);
    this.lastDecision = null;
    this.deps.setVerifier?.(undefined);
    await current?.client.stop();
  }

  private noteOutcome(serverUrl: string, outcome: PushOutcome): void {
    if (this.client?.serverUrl !== serverUrl) return; // a client being stopped
    const fields = outcomeFields(outcome);
    this.deps.log('push', { server: serverUrl, ...fields });
    this.deps.setVerifier?.(this.pushStatus(serverUrl, outcome));
    const { setProblem } = this.deps;
    setProblem(
      'push_refused',
      outcome.kind === 'refused'
        ? `the verifier refused the attestation: ${outcome.code} (HTTP ${outcome.status})`
        : undefined,
    );
    if (outcome.kind === 'unreachable')
      setProblem(
        'verifier_unreachable',
        outcome.reason === 'rate_limited'
          ? `the verifier at ${serverUrl} refused the push for now: this device pushed more often than it allows (429); pushing the latest again in ${Math.ceil(outcome.retryInMs / 1000)} s`
          : `the verifier at ${serverUrl} cannot be reached (${outcome.reason}${outcome.status ? ` ${outcome.status}` : ''}); retrying in ${Math.ceil(outcome.retryInMs / 1000)} s`,
      );
    else setProblem('verifier_unreachable', undefined);
    setProblem(
      'push_expired',
      outcome.kind === 'expired' ? 'the attestation expired before the verifier could be reached' : undefined,
    );
  }

  private pushStatus(url: string, o: PushOutcome): PushStatus {
    const at = new Date(o.at).toISOString();
    if (o.kind === 'accepted')
      this.lastDecision = {
        at,
        allowed: o.decision.allowed,
        reasons: reasonCodes(o),
        ...(o.decision.decisionId ? { decisionId: o.decision.decisionId } : {}),
        ...(o.decision.policyRevision ? { policyRevision: o.decision.policyRevision } : {}),
      };
    const lastPush: PushStatus['lastPush'] =
      o.kind === 'accepted'
        ? { at, outcome: 'accepted', heartbeat: o.heartbeat }
        : o.kind === 'refused'
          ? { at, outcome: 'refused', code: o.code, httpStatus: o.status }
          : o.kind === 'unreachable'
            ? {
                at,
                outcome: 'unreachable',
                reason: o.reason,
                retryInMs: o.retryInMs,
                ...(o.status !== undefined ? { httpStatus: o.status } : {}),
              }
            : { at, outcome: 'expired' };
    return { url, lastPush, lastDecision: this.lastDecision };
  }
}

function reasonCodes(o: Extract<PushOutcome, { kind: 'accepted' }>): string[] {
  return o.decision.reasons.map((r) => (r.check ? `${r.code}:${r.check}` : r.code));
}

/** What the verifier client needs: the token, its expiry, and proofs by its session key. */
function pushable(a: Attestation): PushableAttestation {
  return {
    token: a.token,
    expiresAt: a.expiresAt,
    proof: (method, url, nowMs) => a.session.proof(method, url, a.token, nowMs),
  };
}

/** A push outcome as log fields: the verifier's decision when it accepted, its code when it refused. */
function outcomeFields(o: PushOutcome): Record<string, unknown> {
  const pushedAt = new Date(o.at).toISOString();
  switch (o.kind) {
    case 'accepted':
      return {
        outcome: 'accepted',
        pushedAt,
        heartbeat: o.heartbeat,
        allowed: o.decision.allowed,
        reasons: reasonCodes(o),
        decisionId: o.decision.decisionId,
        policyRevision: o.decision.policyRevision,
      };
    case 'refused':
      return { outcome: 'refused', pushedAt, status: o.status, code: o.code };
    case 'unreachable':
      return {
        outcome: 'unreachable',
        pushedAt,
        reason: o.reason,
        attempt: o.attempt,
        retryInMs: o.retryInMs,
        ...(o.status !== undefined ? { status: o.status } : {}),
      };
    case 'expired':
      return { outcome: 'expired', pushedAt };
  }
}
