/**
 * The decision for one request: `verifyRequest` with the service's options, then metrics, the
 * decision log and the device's last-seen posture (written at most once a second per device, off
 * the request's path: the admin API shows it current to the second).
 */
import { randomUUID } from 'node:crypto';
import type { Policy } from '../shared/policy.js';
import { AttestationCache } from '../verifier/cache.js';
import type {
  Decision,
  DeviceRecord,
  VerifiedAttestation,
  VerifyOptions,
} from '../verifier/verify-request.js';
import { verifyRequest } from '../verifier/verify-request.js';
import type { ServiceContext } from './context.js';
import { nodeSignatures } from './node-signatures.js';
import { SecurityPendingRecorder } from './security-pending.js';

/** A forward-auth call denied before verification: its forwarded request could not be used. */
export interface Refusal {
  decisionId: string;
  status: number;
  code: string;
  message: string;
}

const SEEN_WRITE_INTERVAL_MS = 1_000;

export type RequestHeaders = Record<string, string | string[] | undefined>;

export class RequestDecider {
  private readonly cache = new AttestationCache<VerifiedAttestation>();
  private readonly lastSeenWrite = new Map<string, number>();
  private verifyOptions: VerifyOptions | undefined;
  private readonly securityPending: SecurityPendingRecorder;

  constructor(private readonly ctx: ServiceContext) {
    this.securityPending = new SecurityPendingRecorder(ctx.store, ctx.now);
  }

  async decide(method: string, url: string, headers: RequestHeaders): Promise<Decision> {
    const { ctx } = this;
    const started = performance.now();
    const policy = ctx.policy();
    const decision = await verifyRequest({ method, url, headers }, this.optionsFor(policy));
    await this.securityPending.settle(decision.decisionId);

    const seconds = (performance.now() - started) / 1000;
    ctx.metrics.observe(decision, seconds);
    ctx.logDecision({
      ts: new Date(ctx.now()).toISOString(),
      decisionId: decision.decisionId,
      device: decision.device?.id ?? null,
      allowed: decision.allowed,
      status: decision.status,
      reasons: decision.reasons.map((r) => (r.check ? `${r.code}:${r.check}` : r.code)),
      policyRevision: decision.policyRevision,
      method,
      url,
      latencyMs: Math.round(seconds * 100_000) / 100,
    });
    this.recordSeen(decision);
    return decision;
  }

  /** Logs and counts a refusal like a decision, so the decision log shows every denial. */
  refuse(code: string, status: number, message: string, method: string, url: string): Refusal {
    const { ctx } = this;
    const refusal = { decisionId: randomUUID(), status, code, message };
    ctx.metrics.refused(code);
    ctx.logDecision({
      ts: new Date(ctx.now()).toISOString(),
      decisionId: refusal.decisionId,
      device: null,
      allowed: false,
      status,
      reasons: [code],
      policyRevision: ctx.policy().revision,
      method,
      url,
      latencyMs: 0,
    });
    return refusal;
  }

  /** The options object is made once per policy, not once per request. */
  optionsFor(policy: Policy): VerifyOptions {
    if (this.verifyOptions?.policy === policy) return this.verifyOptions;
    const { config, store, nonces, replay, now } = this.ctx;
    // A stored device is a DeviceRecord with more fields; verifyRequest reads only the record's.
    const lookupDevice = (kid: string): Promise<DeviceRecord | undefined> => store.deviceByKid(kid);
    this.verifyOptions = {
      audience: config.audience,
      lookupDevice,
      policy,
      replayStore: replay,
      cache: this.cache,
      now,
      ...(config.nonce.required
        ? { nonce: { required: true, verify: async (n: string, at: number) => nonces.verify(n, at) } }
        : {}),
      ...(config.allowedKeyProtection ? { allowedKeyProtection: config.allowedKeyProtection } : {}),
      ...(config.push.heartbeatMaxAgeMinutes
        ? { maxPushAgeSeconds: config.push.heartbeatMaxAgeMinutes * 60 }
        : {}),
      signatures: nodeSignatures,
      onVerified: (facts) => this.securityPending.observe(facts),
    };
    return this.verifyOptions;
  }

  private recordSeen(decision: Decision): void {
    if (!decision.device || !decision.evaluation) return;
    const { store, now } = this.ctx;
    const last = this.lastSeenWrite.get(decision.device.id) ?? 0;
    if (now() - last < SEEN_WRITE_INTERVAL_MS) return;
    this.lastSeenWrite.set(decision.device.id, now());
    const failing = decision.evaluation.checks
      .filter((c) => c.verdict === 'fail' || c.verdict === 'unknown')
      .map((c) => c.check);
    void store
      .recordSeen(decision.device.id, now(), {
        overall: decision.evaluation.overall,
        failing,
        policyRevision: decision.policyRevision,
        at: now(),
      })
      .catch(() => undefined);
  }
}
