/**
 * verifyRequest: every check of DESIGN §2.7, in that order; the first failure denies with a stable
 * reason code. Never throws: an error inside denies too (fail closed).
 */
import type { AttestedPosture, KeyProtection, PublicJwk } from '../shared/claims.js';
import {
  ALG,
  ATTESTATION_HEADER,
  MAX_ATTESTATION_LIFETIME_S,
  MAX_HEADER_BYTES,
  PROOF_HEADER,
  PROOF_TYP,
} from '../shared/claims.js';
import type { CheckVerdict, Evaluation } from '../shared/evaluate.js';
import { evaluatePosture } from '../shared/evaluate.js';
import type { Policy } from '../shared/policy.js';
import type { CheckId, PostureChecks } from '../shared/posture.js';
import type { VerifiedAttestation } from './attestation.js';
import { checkAttestationFor, verifyAttestation } from './attestation.js';
import { AttestationCache } from './cache.js';
import { isMethod, isProofClaims } from './claim-types.js';
import { Deny } from './deny.js';
import type { ReasonCode } from './reasons.js';
import { REASONS } from './reasons.js';
import type { ReplayStore } from './replay.js';
import type { CompactParts, VerifyKey } from './tokens.js';
import {
  asPublicP256,
  COMPACT_JWS,
  importVerifyKey,
  normalizeHtu,
  parseCompact,
  sha256Base64url,
  verifySignature,
} from './tokens.js';

export type { VerifiedAttestation } from './attestation.js';

export type DeviceStatus = 'active' | 'revoked' | 'locked';

export interface DeviceRecord {
  deviceId: string;
  /** RFC 7638 thumbprint of the device key: the attestation's `kid`. */
  kid: string;
  jwk: PublicJwk;
  status: DeviceStatus;
  /**
   * Where the key lives, as recorded at enrollment (as the device claimed it then; not yet proven by
   * a hardware key attestation). Decisions report this, never an attestation's own claim.
   */
  keyProtection: KeyProtection;
  /**
   * The verifier's own record (ms since 1970) of when this device first reported pending security
   * updates, kept until it reports none. The policy's age limit counts from the earlier of this and
   * the device's own dates, so deleting the agent's first-seen file resets nothing.
   */
  securityPendingSince?: number;
  /**
   * The newest attestation the device itself pushed to the verifier (`iat` in seconds, `jti`). One
   * issued earlier, or another one issued in the same second, is superseded: its posture is no
   * longer the device's, and it is denied `attestation_superseded`. Absent: nothing was pushed.
   */
  newestAttestation?: { iat: number; jti: string };
  /** When the device last pushed an attestation or a heartbeat (ms since 1970). */
  lastPushAt?: number;
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
  /** When set, attestations must carry an eat_nonce this accepts (checked on every request). */
  nonce?: { required: boolean; verify(nonce: string, nowMs: number): Promise<boolean> };
  /**
   * Verified attestations. Default: one cache for this options object (a verifier instance), never
   * one shared by verifiers with other options. Audience, times, age and nonce are checked on every
   * request whatever the cache holds.
   */
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
   * When set, a device must have pushed an attestation or a heartbeat within this many seconds
   * (DeviceRecord.lastPushAt), or it is denied `device_stale`.
   */
  maxPushAgeSeconds?: number;
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
  device?: DecisionDevice;
  evaluation?: Evaluation;
  /** When the attestation ends (ms since 1970): a session cookie must not outlive it. */
  attestationExpiresAt?: number;
}

export interface DecisionDevice {
  id: string;
  kid: string;
  /** The protection recorded at enrollment (see keyProtectionSource), not the attestation's claim. */
  keyProtection: KeyProtection;
  /**
   * How keyProtection is known: as claimed by the device at enrollment, not yet proven by a hardware
   * key attestation (a later capability will add 'hardware_attested').
   */
  keyProtectionSource: 'claimed_at_enrollment';
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

const EVALUATION_TTL_MS = 30_000;

/** One cache per options object when the caller passes none: scoped to that verifier. */
const cachesByOptions = new WeakMap<VerifyOptions, AttestationCache<VerifiedAttestation>>();

function cacheFor(options: VerifyOptions): AttestationCache<VerifiedAttestation> {
  if (options.cache) return options.cache;
  let cache = cachesByOptions.get(options);
  if (!cache) {
    cache = new AttestationCache<VerifiedAttestation>();
    cachesByOptions.set(options, cache);
  }
  return cache;
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
      ...(error instanceof Deny && error.device ? { device: error.device } : {}),
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
  if (count > 1) throw new Deny('header_duplicated', name);
  // A compact JWS has no comma: one means a proxy joined repeated headers when every piece is a
  // compact JWS; anything else with a comma (a JWS JSON serialisation, a trailing comma) is malformed.
  if (value.includes(',')) {
    const joined = value.split(',').every((piece) => COMPACT_JWS.test(piece.trim()));
    throw new Deny(joined ? 'header_duplicated' : 'malformed_token', name);
  }
  value = value.trim();
  if (value.length > MAX_HEADER_BYTES) throw new Deny('header_too_large', name);
  return value;
}

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
  const cache = cacheFor(options);

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

  // 3. Proof claims against the original request, and its times: iat in the window, exp (no
  // tolerance, as for the attestation) and nbf (the same skew as every time in the future).
  const pc = proof.payload;
  if (!isProofClaims(pc)) throw new Deny('proof_claims_invalid');
  // ASCII upper case of an ASCII token only: a non-ASCII method ("poſt") never matches.
  if (!isMethod(request.method) || pc.htm !== request.method.toUpperCase())
    throw new Deny('proof_method_mismatch');
  if (!sameHtu(pc.htu, request.url)) throw new Deny('proof_url_mismatch');
  if (pc.iat < now - proofMaxAge || pc.iat > now + skew) throw new Deny('proof_iat_out_of_window');
  if (pc.exp !== undefined && pc.exp <= now) throw new Deny('proof_expired');
  if (pc.nbf !== undefined && pc.nbf > now + skew) throw new Deny('proof_not_yet_valid');

  // 4. Attestation: signature by the enrolled device key and claim types (cached), then audience,
  // times, age and nonce under these options (every request).
  const verified =
    cached ??
    (await verifyAttestation(
      attestation as CompactParts,
      (kid) => lookup(options, kid),
      sig,
      attestationHash,
    ));
  const claims = verified.claims;
  await checkAttestationFor(claims, options, { now, nowMs, skew, maxAge });
  if (!cached) cache.set(attestationText, verified, claims.exp * 1000);

  // 5. Device status, looked up every time so revocation takes effect at once; the key the
  // signature was verified with must still be the enrolled one; key protection is the enrolled one.
  const device = await lookup(options, verified.kid);
  if (!sameJwk(device.jwk, verified.deviceJwk)) throw new Deny('attestation_signature_invalid');
  if (device.status === 'revoked') throw new Deny('device_revoked', undefined, decisionDevice(device));
  if (device.status === 'locked') throw new Deny('device_locked', undefined, decisionDevice(device));
  if (device.deviceId !== claims.sub) throw new Deny('attestation_subject_mismatch');
  if (claims.key_protection !== device.keyProtection)
    throw new Deny('key_protection_mismatch', `enrolled ${device.keyProtection}`);
  if (options.allowedKeyProtection && !options.allowedKeyProtection.includes(device.keyProtection)) {
    throw new Deny('key_protection_not_allowed', device.keyProtection);
  }
  // The device's own newest attestation wins over an older one a client still presents.
  if (isSuperseded(claims, device.newestAttestation)) throw new Deny('attestation_superseded');
  if (
    options.maxPushAgeSeconds !== undefined &&
    (device.lastPushAt === undefined || nowMs - device.lastPushAt > options.maxPushAgeSeconds * 1000)
  )
    throw new Deny('device_stale');

  // 6. Binding of the proof to this attestation.
  if (pc.ath !== attestationHash) throw new Deny('binding_ath_mismatch');
  if (!sameJwk(claims.cnf.jwk, proofJwk)) throw new Deny('binding_cnf_mismatch');
  verified.proofHeader ??= { segment: proof.headerSegment, header: ph, jwk: proofJwk };

  // 7. Replay, only once all the cryptography has passed; each device has its own share.
  let replay;
  try {
    replay = await options.replayStore.remember(
      `proof:${pc.jti}`,
      (pc.iat + proofMaxAge + skew) * 1000,
      nowMs,
      device.deviceId,
    );
  } catch {
    replay = 'unavailable' as const;
  }
  if (replay === 'replayed') throw new Deny('proof_replayed');
  if (replay === 'quota_exceeded') throw new Deny('replay_quota_exceeded');
  if (replay !== 'fresh') throw new Deny('replay_store_unavailable');

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
  const deviceInfo = decisionDevice(device);
  const base = {
    decisionId,
    policyRevision: options.policy.revision,
    device: deviceInfo,
    evaluation: result,
    attestationExpiresAt: claims.exp * 1000,
  };
  if (result.overall === 'pass') return { ...base, allowed: true, status: 200, reasons: [] };
  const code: ReasonCode = result.overall === 'fail' ? 'posture_failed' : 'posture_unknown';
  // Every check that keeps the device out, failing ones first: a person who fixes only what failed
  // and still cannot tell the rest would be denied again without being told why.
  const failing = result.checks.filter((c) => c.verdict === 'fail');
  const unknown = result.checks.filter((c) => c.verdict === 'unknown');
  return {
    ...base,
    allowed: false,
    status: REASONS[code][0],
    reasons: [
      ...failing.map((c) => postureReason('posture_failed', c)),
      ...unknown.map((c) => postureReason('posture_unknown', c)),
    ],
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

function decisionDevice(device: DeviceRecord): DecisionDevice {
  return {
    id: device.deviceId,
    kid: device.kid,
    keyProtection: device.keyProtection,
    keyProtectionSource: 'claimed_at_enrollment',
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

/** htu equals the request URL without query and fragment; the exact string first, URL parsing only when they differ. */
function sameHtu(htu: string, url: string): boolean {
  const end = url.search(/[?#]/);
  const bare = end < 0 ? url : url.slice(0, end);
  if (htu === bare && /^https?:\/\/[a-z0-9.-]+(:\d+)?\//.test(bare)) return true;
  const expected = normalizeHtu(url);
  return expected !== undefined && normalizeHtu(htu) === expected;
}

/**
 * Whether an attestation is older than the device's newest pushed one: issued in an earlier second,
 * or in the same second with another jti (iat counts whole seconds; the last push wins a tie).
 */
export function isSuperseded(
  claims: { iat: number; jti: string },
  newest: DeviceRecord['newestAttestation'],
): boolean {
  if (!newest) return false;
  return claims.iat < newest.iat || (claims.iat === newest.iat && claims.jti !== newest.jti);
}

function sameJwk(a: PublicJwk, b: PublicJwk): boolean {
  return a.x === b.x && a.y === b.y && a.crv === b.crv && a.kty === b.kty;
}
