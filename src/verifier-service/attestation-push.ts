/**
 * `POST /v1/devices/attestation`: the agent pushes each new attestation, and the same call with its
 * current attestation is its heartbeat. Authenticated like every request: the attestation in
 * `Posture-Attestation`, signed by the enrolled device key, and a fresh `Posture-Proof` signed by
 * its session key for `POST <publicUrl>/v1/devices/attestation`. It is verified fully by
 * `verifyRequest` (signatures, binding, times, audience, nonce, device status, replay of the proof)
 * with two differences: an attestation made for this verifier's own `publicUrl` is accepted besides
 * the configured audiences (the push is addressed to it), and the device's newest attestation is not compared there, because the store
 * decides that in the same conditional write that records this one (replicas racing cannot make an
 * older attestation the newest). A posture the policy refuses is still recorded: the verifier must
 * learn of a non-compliant device at once, and the older, compliant attestation is then superseded.
 *
 * Each push is a line in the decision log (method POST, this URL), its status the push's answer.
 *
 * Answers: 200 with the verifier's decision for this attestation (what the proxy will decide);
 * 409 `attestation_superseded` when the device already pushed a newer one; 429
 * `push_rate_limited` with Retry-After when the device pushes faster than `push.rateLimit` (counted
 * per device, after verification, before the store's write: such a push is not recorded); the
 * verification's reason code and status otherwise (401, 403, 429, 503). No body is read.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ATTESTATION_HEADER, PUSH_PATH } from '../shared/claims.js';
import type { DeviceRecord, VerifyOptions } from '../verifier/verify-request.js';
import { verifyRequest } from '../verifier/verify-request.js';
import { parseCompact } from '../verifier/tokens.js';
import type { ServiceContext } from './context.js';
import type { RequestDecider } from './decider.js';
import { problem } from './problem.js';

export { PUSH_PATH };

export interface PushDeps {
  ctx: ServiceContext;
  decider: RequestDecider;
}

/** Denials that still record the attestation: it verified, only its posture fails the policy. */
const POSTURE_CODES = new Set(['posture_failed', 'posture_unknown']);

/** The URL the agent makes its proof for: this verifier's public URL and the push path. */
export function pushUrl(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${PUSH_PATH}`;
}

export async function pushAttestation(deps: PushDeps, req: FastifyRequest, reply: FastifyReply) {
  const { ctx, decider } = deps;
  const policy = ctx.policy();
  const base = decider.optionsFor(policy);
  const options: VerifyOptions = {
    ...base,
    // A push is addressed to this verifier: an attestation made for its own public URL (the agent's
    // audience when none is configured: the verifier it enrolled with) is as good as one for a proxy.
    audience: [...new Set([...[base.audience].flat(), ctx.config.publicUrl])],
    // The push itself is the heartbeat; the newest attestation is compared by the store's write.
    lookupDevice: async (kid) => withoutPushFacts(await base.lookupDevice(kid)),
  };
  delete options.maxPushAgeSeconds;
  const url = pushUrl(ctx.config.publicUrl);
  const started = performance.now();
  const d = await verifyRequest({ method: 'POST', url, headers: req.headers }, options);
  const log = (status: number, reasons: string[]) =>
    ctx.logDecision({
      ts: new Date(ctx.now()).toISOString(),
      decisionId: d.decisionId,
      device: d.device?.id ?? null,
      allowed: d.allowed && status === 200,
      status,
      reasons,
      policyRevision: d.policyRevision,
      method: 'POST',
      url,
      latencyMs: Math.round((performance.now() - started) * 100) / 100,
    });
  const verified = d.allowed || (d.reasons.length > 0 && d.reasons.every((r) => POSTURE_CODES.has(r.code)));
  if (!verified || !d.device || !d.evaluation) {
    const reason = d.reasons[0];
    log(
      d.status,
      d.reasons.map((r) => r.code),
    );
    if (d.status === 401) reply.header('www-authenticate', 'PostureAttestation');
    return problem(reply, d.status, reason?.code ?? 'internal_error', reason?.message ?? 'Denied.', {
      decisionId: d.decisionId,
    });
  }
  const limited = await refusedByRate(ctx, d.device.id, reply, d.decisionId);
  if (limited) {
    log(limited.status, [limited.code]);
    return limited.sent;
  }
  // Verified above: its claims are well typed and signed by the device.
  const claims = parseCompact(String(req.headers[ATTESTATION_HEADER.toLowerCase()]))?.payload as {
    iat: number;
    jti: string;
  };
  const at = ctx.now();
  const failing = d.evaluation.checks
    .filter((c) => c.verdict === 'fail' || c.verdict === 'unknown')
    .map((c) => c.check);
  const recorded = await ctx.store.recordAttestation(d.device.id, { iat: claims.iat, jti: claims.jti }, at, {
    overall: d.evaluation.overall,
    failing,
    policyRevision: d.policyRevision,
    at,
  });
  log(recorded ? 200 : 409, recorded ? reasonList(d.reasons) : ['attestation_superseded']);
  if (!recorded)
    return problem(
      reply,
      409,
      'attestation_superseded',
      'The verifier already holds a newer attestation from this device; push the current one.',
      { decisionId: d.decisionId },
    );
  return reply.code(200).send({
    deviceId: d.device.id,
    newest: { iat: claims.iat, jti: claims.jti },
    decision: {
      allowed: d.allowed,
      status: d.status,
      reasons: d.reasons,
      decisionId: d.decisionId,
      policyRevision: d.policyRevision,
    },
  });
}

/**
 * Counts this push against the device's rate (push-rate.ts); over it, answers 429
 * `push_rate_limited` with Retry-After (whole seconds, at least 1), or 503 when the shared counter
 * cannot be reached. Undefined when the push may go on.
 */
async function refusedByRate(
  ctx: ServiceContext,
  deviceId: string,
  reply: FastifyReply,
  decisionId: string,
): Promise<{ status: number; code: string; sent: FastifyReply } | undefined> {
  const rate = await ctx.pushRate.take(deviceId, ctx.now());
  if (rate.allowed) return undefined;
  if ('unavailable' in rate) {
    const code = 'push_rate_unavailable';
    const sent = problem(reply, 503, code, 'The verifier cannot count pushes right now; push again later.', {
      decisionId,
    });
    return { status: 503, code, sent };
  }
  const retryAfterSeconds = Math.max(1, Math.ceil(rate.retryAfterMs / 1000));
  reply.header('retry-after', String(retryAfterSeconds));
  const code = 'push_rate_limited';
  const sent = problem(
    reply,
    429,
    code,
    'This device pushes more often than the verifier allows; push the latest attestation after Retry-After.',
    { decisionId, retryAfterSeconds },
  );
  return { status: 429, code, sent };
}

const reasonList = (reasons: ReadonlyArray<{ code: string; check?: string }>) =>
  reasons.map((r) => (r.check ? `${r.code}:${r.check}` : r.code));

function withoutPushFacts(device: DeviceRecord | undefined): DeviceRecord | undefined {
  if (!device) return undefined;
  const { newestAttestation: _n, lastPushAt: _p, ...rest } = device;
  return rest;
}
