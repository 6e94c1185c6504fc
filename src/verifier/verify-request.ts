/**
 * verifyRequest: every check of DESIGN §2.7, in that order; the first failure denies with a stable
 * reason code. Never throws: an error inside denies too (fail closed).
 */
import type { AttestationClaims, AttestedPosture, KeyProtection, PublicJwk } from '../shared/claims.js';
import {
  ALG,
  ATTESTATION_HEADER,
  ATTESTATION_TYP,
  EAT_PROFILE,
  MAX_ATTESTATION_LIFETIME_S,
  MAX_HEADER_BYTES,
  PROOF_HEADER,
  PROOF_TYP,
} from '../shared/claims.js';
import type { CheckVerdict, Evaluation } from '../shared/evaluate.js';
import { evaluatePosture } from '../shared/evaluate.js';
import type { Policy } from '../shared/policy.js';
import type { CheckId, PostureChecks } from '../shared/posture.js';
import { AttestationCache } from './cache.js';
import type { ReasonCode } from './reasons.js';
import { REASONS } from './reasons.js';
import type { ReplayStore } from './replay.js';
import type { CompactParts, KnownHeader, VerifyKey } from './tokens.js';
import {
  asPublicP256,
  importVerifyKey,
  normalizeHtu,
  parseCompact,
  sha256Base64url,
  verifySignature,
} from './tokens.js';

export type DeviceStatus = 'active' | 'revoked' | 'locked';

export interface DeviceRecord {
  deviceId: string;
  /** RFC 7638 thumbprint of the device key: the attestation's `kid`. */
  kid: string;
  jwk: PublicJwk;
  status: DeviceStatus;
  keyProtection?: KeyProtection;
  /**
   * The verifier's own record (ms since 1970) of when this device first reported pending security
   * updates, kept until it reports none. The policy's age limit counts from the earlier of this and
   * the device's own dates, so deleting the agent's first-seen file resets nothing.
   */
  securityPendingSince?: number;
}

export interface VerifyRequestInput {
  /** The original request's method, from trusted forwarded headers. */
  method: string;
  /** The original request's absolute URL, from trusted forwarded headers. */
  url: string;
  /** The request headers; names are matched case-insensitively; an array means the header came several times. */
  headers: Record<string, string | string[] | undefined>;
}

export interface VerifyOptions {
  audience: string | readonly string[];
  lookupDevice(kid: string): Promise<DeviceRecord | undefined>;
  policy: Policy;
  replayStore: ReplayStore;
  now?: () => number;
  /** How old a proof may be (default 60 s). */
  proofMaxAgeSeconds?: number;
  /** Tolerated clock difference for times in the future (default 5 s). */
  clockSkewSeconds?: number;
  /** How old an attestation may be, and how long it may live (default and maximum 900 s). */
  maxAttestationAgeSeconds?: number;
  /** When set, attestations must carry an eat_nonce this accepts. */
  nonce?: { required: boolean; verify(nonce: string, nowMs: number): Promise<boolean> };
  cache?: AttestationCache<VerifiedAttestation>;
  decisionId?: () => string;
  /**
   * The ES256 primitive. Default: the platform's WebCrypto (any runtime). A host with a faster one
   * (Node's synchronous node:crypto) may pass it; it must verify raw r‖s signatures over SHA-256.
   */
  signatures?: SignatureVerifier;
  /** Where device keys may live; e.g. ["tpm", "secure_enclave", "keychain"] refuses file keys. Default: any. */
  allowedKeyProtection?: readonly KeyProtection[];
  /**
   * Called once a request's signatures, binding and replay check have passed, before the policy:
   * the device as looked up and the posture it attested (e.g. to keep the verifier's record of
   * pending security updates). Must not throw; it cannot change this decision.
   */
  onVerified?(facts: { decisionId: string; device: DeviceRecord; posture: AttestedPosture }): void;
}

export interface DenyReason {
  code: ReasonCode;
  message: string;
  check?: CheckId;
  remediation?: string;
}

export interface Decision {
  allowed: boolean;
  status: number;
  reasons: DenyReason[];
  decisionId: string;
  policyRevision: string;
  device?: { id: string; kid: string; keyProtection: KeyProtection };
  evaluation?: Evaluation;
  /** When the attestation ends (ms since 1970): a session cookie must not outlive it. */
  attestationExpiresAt?: number;
}

export interface SignatureVerifier {
  importKey(jwk: PublicJwk): Promise<unknown>;
  verify(key: unknown, parts: CompactParts): Promise<boolean> | boolean;
}

/** WebCrypto, available on every JS runtime. */
export const webCryptoSignatures: SignatureVerifier = {
  importKey: importVerifyKey,
  verify: (key, parts) => verifySignature(key as VerifyKey, parts),
};

export interface VerifiedAttestation {
  claims: AttestationClaims;
  kid: string;
  cnfKey: unknown;
  /** base64url SHA-256 of the attestation text: what proofs carry as ath. */
  hash: string;
  /** The header of this attestation's proofs once one passed every check with the cnf key. */
  proofHeader?: KnownHeader & { jwk: PublicJwk };
  /** The last evaluation of this attestation, reused for EVALUATION_TTL_MS under the same policy. */
  evaluation?: { policy: Policy; atMs: number; securityPendingSince?: number; result: Evaluation };
}

const EVALUATION_TTL_MS = 30_000;

const KEY_PROTECTIONS = new Set(['tpm', 'secure_enclave', 'keychain', 'file']);
const CHECK_STATUSES = new Set(['observed', 'unknown']);
const defaultCache = new AttestationCache<VerifiedAttestation>();

class Deny {
  constructor(
    readonly code: ReasonCode,
    readonly detail?: string,
  ) {}
}

export async function verifyRequest(request: VerifyRequestInput, options: VerifyOptions): Promise<Decision> {
  const decisionId = options.decisionId?.() ?? crypto.randomUUID();
  const policyRevision = options.policy.revision;
  try {
    return await verify(request, options, decisionId);
  } catch (error) {
    const code: ReasonCode = error instanceof Deny ? error.code : 'internal_error';
    const [status, message] = REASONS[code];
    const detail = error instanceof Deny && error.detail ? ` (${error.detail})` : '';
    return {
      allowed: false,
      status,
      reasons: [{ code, message: `${message}${detail}` }],
      decisionId,
      policyRevision,
    };
  }
}

function headerValue(headers: VerifyRequestInput['headers'], name: string): string {
  const wanted = name.toLowerCase();
  let value: string | undefined;
  let count = 0;
  for (const key of Object.keys(headers)) {
    // Node hands names in lower case; other callers may not.
    if (key.length !== wanted.length || (key !== wanted && key.toLowerCase() !== wanted)) continue;
    const v = headers[key];
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      count += v.length;
      value = v[0];
    } else {
      count += 1;
      value = v;
    }
  }
  if (count === 0 || value === undefined) throw new Deny('headers_missing');
  // A JWS has no comma: one means a proxy joined repeated headers.
  if (count > 1 || value.includes(',')) throw new Deny('header_duplicated', name);
  value = value.trim();
  if (value.length > MAX_HEADER_BYTES) throw new Deny('header_too_large', name);
  return value;
}

const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const str = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

async function verify(
  request: VerifyRequestInput,
  options: VerifyOptions,
  decisionId: string,
): Promise<Decision> {
  const nowMs = (options.now ?? Date.now)();
  const now = Math.floor(nowMs / 1000);
  const skew = options.clockSkewSeconds ?? 5;
  const proofMaxAge = options.proofMaxAgeSeconds ?? 60;
  const maxAge = Math.min(
    options.maxAttestationAgeSeconds ?? MAX_ATTESTATION_LIFETIME_S,
    MAX_ATTESTATION_LIFETIME_S,
  );
  const cache = options.cache ?? defaultCache;

  // 1. Header count, size and compact-JWS shape.
  const attestationText = headerValue(request.headers, ATTESTATION_HEADER);
  const proofText = headerValue(request.headers, PROOF_HEADER);
  // A verified attestation is cached by its exact text; only a new one is parsed and hashed.
  const cached = cache.get(attestationText, nowMs);
  const known = cached?.proofHeader;
  const proof = parseCompact(proofText, known);
  const attestation = cached ? undefined : parseCompact(attestationText);
  if (!proof || (!cached && !attestation))
    throw new Deny('malformed_token', proof ? ATTESTATION_HEADER : PROOF_HEADER);

  // 2. Proof: pinned typ and alg, its embedded public key, its signature. A header identical to
  // one that already passed all of this with this attestation's cnf key is not checked again.
  const ph = proof.header;
  const sig = options.signatures ?? webCryptoSignatures;
  const attestationHash = cached?.hash ?? (await sha256Base64url(attestationText));
  let proofJwk: PublicJwk;
  let proofKey: unknown;
  if (known && ph === known.header) {
    proofJwk = known.jwk;
    proofKey = cached.cnfKey;
  } else {
    if ('crit' in ph) throw new Deny('crit_unsupported', PROOF_HEADER);
    const jwk = asPublicP256(ph.jwk);
    if (ph.typ !== PROOF_TYP || ph.alg !== ALG || !jwk) throw new Deny('proof_header_invalid');
    proofJwk = jwk;
    const sameKey = cached && sameJwk(cached.claims.cnf.jwk, proofJwk);
    proofKey = sameKey ? cached.cnfKey : await sig.importKey(proofJwk).catch(() => undefined);
  }
  if (!proofKey) throw new Deny('proof_header_invalid');
  if (!(await sig.verify(proofKey, proof))) throw new Deny('proof_signature_invalid');

  // 3. Proof claims against the original request, and its age.
  const pc = proof.payload;
  if (
    !str(pc.htm, 16) ||
    !str(pc.htu) ||
    !int(pc.iat) ||
    !str(pc.jti, 128) ||
    pc.jti.length < 16 ||
    !str(pc.ath, 64)
  ) {
    throw new Deny('proof_claims_invalid');
  }
  if (pc.htm !== request.method.toUpperCase()) throw new Deny('proof_method_mismatch');
  if (!sameHtu(pc.htu, request.url)) throw new Deny('proof_url_mismatch');
  if (pc.iat < now - proofMaxAge || pc.iat > now + skew) throw new Deny('proof_iat_out_of_window');

  // 4. Attestation: signature by the enrolled device key, then its claims.
  const verified =
    cached ??
    (await verifyAttestation(
      attestation as CompactParts,
      options,
      now,
      skew,
      maxAge,
      nowMs,
      attestationHash,
    ));
  if (!cached) cache.set(attestationText, verified, verified.claims.exp * 1000);
  const claims = verified.claims;
  if (claims.exp <= now) throw new Deny('attestation_expired');

  // 5. Device status, looked up every time so revocation takes effect at once.
  const device = await lookup(options, verified.kid);
  if (device.status === 'revoked') throw new Deny('device_revoked');
  if (device.status === 'locked') throw new Deny('device_locked');
  if (device.deviceId !== claims.sub) throw new Deny('attestation_subject_mismatch');
  const protection = device.keyProtection ?? claims.key_protection;
  if (options.allowedKeyProtection && !options.allowedKeyProtection.includes(protection)) {
    throw new Deny('key_protection_not_allowed', protection);
  }

  // 6. Binding of the proof to this attestation.
  if (pc.ath !== attestationHash) throw new Deny('binding_ath_mismatch');
  if (!sameJwk(claims.cnf.jwk, proofJwk)) throw new Deny('binding_cnf_mismatch');
  verified.proofHeader ??= { segment: proof.headerSegment, header: ph, jwk: proofJwk };

  // 7. Replay, only once all the cryptography has passed.
  let replay;
  try {
    replay = await options.replayStore.remember(
      `proof:${pc.jti}`,
      (pc.iat + proofMaxAge + skew) * 1000,
      nowMs,
    );
  } catch {
    replay = 'unavailable' as const;
  }
  if (replay === 'replayed') throw new Deny('proof_replayed');
  if (replay === 'unavailable') throw new Deny('replay_store_unavailable');

  try {
    options.onVerified?.({ decisionId, device, posture: claims.posture });
  } catch {
    // A recorder that fails changes nothing about this decision.
  }

  // 8. Policy, with the same evaluation the agent shows its user, plus the verifier's own clock.
  // The same attestation under the same policy and clock gives the same verdicts for a while; ages
  // that the policy counts in days do not move within EVALUATION_TTL_MS.
  const since = device.securityPendingSince;
  let evaluation = verified.evaluation;
  if (
    !evaluation ||
    evaluation.policy !== options.policy ||
    evaluation.securityPendingSince !== since ||
    nowMs - evaluation.atMs >= EVALUATION_TTL_MS ||
    nowMs < evaluation.atMs
  ) {
    try {
      const result = evaluatePosture(
        claims.posture.checks as PostureChecks,
        options.policy,
        claims.posture.platform,
        new Date(nowMs),
        since === undefined ? {} : { securityPendingSince: new Date(since).toISOString() },
      );
      evaluation = {
        policy: options.policy,
        atMs: nowMs,
        ...(since === undefined ? {} : { securityPendingSince: since }),
        result,
      };
      verified.evaluation = evaluation;
    } catch {
      throw new Deny('attestation_claims_invalid', 'posture');
    }
  }
  const result = evaluation.result;
  const deviceInfo = { id: device.deviceId, kid: device.kid, keyProtection: claims.key_protection };
  const base = {
    decisionId,
    policyRevision: options.policy.revision,
    device: deviceInfo,
    evaluation: result,
    attestationExpiresAt: claims.exp * 1000,
  };
  if (result.overall === 'pass') return { ...base, allowed: true, status: 200, reasons: [] };
  const code: ReasonCode = result.overall === 'fail' ? 'posture_failed' : 'posture_unknown';
  const failing = result.checks.filter((c) => c.verdict === result.overall);
  return {
    ...base,
    allowed: false,
    status: REASONS[code][0],
    reasons: failing.map((c) => postureReason(code, c)),
  };
}

function postureReason(code: ReasonCode, v: CheckVerdict): DenyReason {
  return {
    code,
    check: v.check,
    message: v.reason,
    ...(v.remediation ? { remediation: v.remediation } : {}),
  };
}

async function lookup(options: VerifyOptions, kid: string): Promise<DeviceRecord> {
  let device: DeviceRecord | undefined;
  try {
    device = await options.lookupDevice(kid);
  } catch {
    throw new Deny('store_unavailable');
  }
  if (!device || device.kid !== kid) throw new Deny('device_unknown');
  return device;
}

async function verifyAttestation(
  parts: CompactParts,
  options: VerifyOptions,
  now: number,
  skew: number,
  maxAge: number,
  nowMs: number,
  hash: string,
): Promise<VerifiedAttestation> {
  const h = parts.header;
  if ('crit' in h) throw new Deny('crit_unsupported', ATTESTATION_HEADER);
  if ('jwk' in h || 'jku' in h || 'x5c' in h || 'x5u' in h) throw new Deny('attestation_embedded_key');
  if (h.typ !== ATTESTATION_TYP || h.alg !== ALG || !str(h.kid, 128))
    throw new Deny('attestation_header_invalid');
  const device = await lookup(options, h.kid);
  const sig = options.signatures ?? webCryptoSignatures;
  const key = await sig.importKey(device.jwk).catch(() => {
    throw new Deny('store_unavailable', 'enrolled key unreadable');
  });
  if (!(await sig.verify(key, parts))) throw new Deny('attestation_signature_invalid');

  const c = parts.payload;
  const cnf = asPublicP256((c.cnf as { jwk?: unknown } | undefined)?.jwk);
  const posture = c.posture as { platform?: unknown; checks?: unknown; collectedAt?: unknown } | undefined;
  const checksValid =
    posture?.checks !== null &&
    typeof posture?.checks === 'object' &&
    Object.values(posture.checks as object).every(
      (r) =>
        r !== null && typeof r === 'object' && CHECK_STATUSES.has((r as { status?: string }).status ?? ''),
    );
  if (
    !str(c.iss, 200) ||
    !str(c.sub, 200) ||
    !str(c.aud) ||
    !int(c.iat) ||
    !int(c.exp) ||
    !str(c.jti, 128) ||
    c.eat_profile !== EAT_PROFILE ||
    !KEY_PROTECTIONS.has(String(c.key_protection)) ||
    !cnf ||
    !checksValid ||
    typeof posture?.platform !== 'string'
  ) {
    throw new Deny('attestation_claims_invalid');
  }
  if (c.iss !== c.sub || c.sub !== device.deviceId) throw new Deny('attestation_subject_mismatch');
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!audiences.includes(c.aud)) throw new Deny('attestation_audience_invalid');
  if (c.exp <= now) throw new Deny('attestation_expired');
  if (c.iat > now + skew) throw new Deny('attestation_not_yet_valid');
  if (c.exp - c.iat > maxAge || now - c.iat > maxAge) throw new Deny('attestation_too_old');
  if (options.nonce) {
    const nonce = c.eat_nonce;
    const ok =
      nonce === undefined
        ? !options.nonce.required
        : str(nonce, 512) && (await options.nonce.verify(nonce, nowMs).catch(() => false));
    if (!ok) throw new Deny('attestation_nonce_invalid');
  }
  return {
    claims: c as unknown as AttestationClaims,
    kid: device.kid,
    cnfKey: await sig.importKey(cnf),
    hash,
  };
}

/** htu equals the request URL without query and fragment; the exact string first, URL parsing only when they differ. */
function sameHtu(htu: string, url: string): boolean {
  const end = url.search(/[?#]/);
  const bare = end < 0 ? url : url.slice(0, end);
  if (htu === bare && /^https?:\/\/[a-z0-9.-]+(:\d+)?\//.test(bare)) return true;
  const expected = normalizeHtu(url);
  return expected !== undefined && normalizeHtu(htu) === expected;
}

function sameJwk(a: PublicJwk, b: PublicJwk): boolean {
  return a.x === b.x && a.y === b.y && a.crv === b.crv && a.kty === b.kty;
}
