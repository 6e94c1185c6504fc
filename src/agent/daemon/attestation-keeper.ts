/**
 * The attestation the daemon presents: signed anew only when the posture changed, none exists, or
 * the current one nears expiry (a timer asks for a re-check before that point); handed to
 * `onAttestation` (the push to the verifier plugs in there). Fail closed: when the posture changed
 * and no new attestation can be signed, the old one is dropped rather than presented for a device
 * it no longer describes; an expired one is never kept.
 */
import type { Attestation } from '../../attest/attestation.js';
import type { DaemonStatus } from '../../shared/local-api.js';
import type { PostureReport } from '../../shared/posture.js';
import type { Agent } from '../agent.js';
import type { AgentConfig } from '../config.js';
import type { DaemonLog } from './log.js';
import { attestationDue, renewBeforeMs } from './posture-state.js';

export type AttestationOutcome = 'issued' | 'kept' | 'none' | 'failed';

export interface AttestationKeeperDeps {
  log: DaemonLog;
  onAttestation?: (attestation: Attestation) => Promise<void> | void;
  /** Shows (message) or clears (undefined) a problem in the status. */
  setProblem: (code: string, message: string | undefined) => void;
  /** Asks for the re-check that renews the attestation before it nears its end. */
  requestRenewal: () => void;
  /**
   * The attestation held so far was dropped and none replaces it: whatever keeps presenting it
   * (the verifier link's heartbeat) must stop, so the verifier does not go on taking it as current.
   */
  onDropped?: () => Promise<void> | void;
  now: () => Date;
}

export class AttestationKeeper {
  private current: Attestation | undefined;
  /** The report `current` was signed from (local clients get other audiences signed from it). */
  private signedFrom: PostureReport | undefined;
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AttestationKeeperDeps) {}

  /** After an enrollment or key rotation: the next re-check signs with the new identity. */
  forget(): void {
    this.current = undefined;
  }

  stop(): void {
    if (this.renewal) clearTimeout(this.renewal);
    this.renewal = undefined;
  }

  summary(): DaemonStatus['attestation'] {
    const a = this.current;
    return a
      ? {
          issuedAt: new Date(a.claims.iat * 1000).toISOString(),
          expiresAt: new Date(a.expiresAt).toISOString(),
        }
      : null;
  }

  /** The attestation presented now and the report it was signed from; undefined when none. */
  held(): { attestation: Attestation; report: PostureReport } | undefined {
    return this.current && this.signedFrom
      ? { attestation: this.current, report: this.signedFrom }
      : undefined;
  }

  keyProtection(): string | undefined {
    return this.current?.claims.key_protection;
  }

  /** Signs a new attestation for `report` when due; says what happened, for the log. */
  async refresh(options: {
    agent: Agent;
    config: AgentConfig;
    report: PostureReport;
    changed: boolean;
  }): Promise<AttestationOutcome> {
    const { agent, config } = options;
    const nowMs = this.deps.now().getTime();
    const lead = renewBeforeMs(config.attestationLifetimeSeconds);
    if (!attestationDue({ current: this.current, changed: options.changed, nowMs, renewBeforeMs: lead }))
      return 'kept';
    const audience = config.audience ?? (await agent.enrollment().catch(() => undefined))?.server;
    if (!audience) {
      await this.drop();
      this.deps.setProblem('no_audience', 'no audience configured and not enrolled: no attestation is made');
      return 'none';
    }
    this.deps.setProblem('no_audience', undefined);
    let signed: Attestation;
    try {
      signed = await agent.attest({ audience, report: options.report });
      this.deps.setProblem('attestation_failed', undefined);
    } catch (error) {
      if (options.changed || (this.current && this.current.expiresAt <= nowMs)) await this.drop();
      this.deps.setProblem('attestation_failed', `cannot sign an attestation: ${describeError(error)}`);
      this.deps.log('attestation_failed', { error: describeError(error) });
      return 'failed';
    }
    this.current = signed;
    this.signedFrom = options.report;
    this.scheduleRenewal(signed, lead);
    this.deps.log('attestation', {
      jti: signed.claims.jti,
      expiresAt: new Date(signed.expiresAt).toISOString(),
    });
    try {
      await this.deps.onAttestation?.(signed);
      this.deps.setProblem('attestation_not_delivered', undefined);
    } catch (error) {
      this.deps.setProblem(
        'attestation_not_delivered',
        `the new attestation was not delivered: ${describeError(error)}`,
      );
    }
    return 'issued';
  }

  private async drop(): Promise<void> {
    const held = this.current !== undefined;
    this.current = undefined;
    if (held) await this.deps.onDropped?.();
  }

  private scheduleRenewal(attestation: Attestation, lead: number): void {
    this.stop();
    const wait = Math.max(1_000, attestation.expiresAt - lead - this.deps.now().getTime());
    this.renewal = setTimeout(() => this.deps.requestRenewal(), wait);
    this.renewal.unref();
  }
}

/** An error for the log and the status: its message, and its stable code when it has one. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} [${code}]` : error.message;
  }
  return String(error);
}
