/**
 * The attestation, in two parts. `verifyAttestation` does what depends only on the token and the
 * enrolled key (header, signature, exact claim types, the cnf key): its result may be cached.
 * `checkAttestationFor` does what depends on the verifier's options and the clock (audience, exp,
 * nbf, iat, lifetime and age, nonce): it runs on every request, cached or not.
 */
import type { AttestationClaims, PublicJwk } from '../shared/claims.js';
import { ALG, ATTESTATION_HEADER, ATTESTATION_TYP } from '../shared/claims.js';
import type { Evaluation } from '../shared/evaluate.js';
import type { Policy } from '../shared/policy.js';
import { isAttestationClaims, str } from './claim-types.js';
import { Deny } from './deny.js';
import type { CompactParts, KnownHeader } from './tokens.js';
import type { DeviceRecord, SignatureVerifier, VerifyOptions } from './verify-request.js';

export interface VerifiedAttestation {
  claims: AttestationClaims & { nbf?: number };
  kid: string;
  /** The enrolled key the signature was verified with: a cached entry is trusted only while the store still says so. */
  deviceJwk: PublicJwk;
  cnfKey: unknown;
  /** base64url SHA-256 of the attestation text: what proofs carry as ath. */
  hash: string;
  /** The header of this attestation's proofs once one passed every check with the cnf key. */
  proofHeader?: KnownHeader & { jwk: PublicJwk };
  /** The last evaluation of this attestation, reused for a while under the same policy. */
  evaluation?: { policy: Policy; atMs: number; securityPendingSince?: number; result: Evaluation };
}

/** The clock and limits one request is checked under. */
export interface AttestationTimes {
  now: number;
  nowMs: number;
  skew: number;
  maxAge: number;
}

export async function verifyAttestation(
  parts: CompactParts,
  lookup: (kid: string) => Promise<DeviceRecord>,
  sig: SignatureVerifier,
  hash: string,
): Promise<VerifiedAttestation> {
  const h = parts.header;
  if ('crit' in h) throw new Deny('crit_unsupported', ATTESTATION_HEADER);
  if ('jwk' in h || 'jku' in h || 'x5c' in h || 'x5u' in h) throw new Deny('attestation_embedded_key');
  if (h.typ !== ATTESTATION_TYP || h.alg !== ALG || !str(h.kid, 128))
    throw new Deny('attestation_header_invalid');
  const device = await lookup(h.kid);
  const key = await Promise.resolve()
    .then(() => sig.importKey(device.jwk))
    .catch(() => {
      throw new Deny('store_unavailable', 'enrolled key unreadable');
    });
  if (!(await sig.verify(key, parts))) throw new Deny('attestation_signature_invalid');

  const c = parts.payload;
  if (!isAttestationClaims(c)) throw new Deny('attestation_claims_invalid');
  if (c.iss !== c.sub || c.sub !== device.deviceId) throw new Deny('attestation_subject_mismatch');
  const cnfKey = await Promise.resolve()
    .then(() => sig.importKey(c.cnf.jwk))
    .catch(() => {
      throw new Deny('attestation_claims_invalid', 'cnf');
    });
  return { claims: c, kid: device.kid, deviceJwk: device.jwk, cnfKey, hash };
}

/** Audience, times, age and nonce, under this verifier's options: on every request. */
export async function checkAttestationFor(
  claims: VerifiedAttestation['claims'],
  options: Pick<VerifyOptions, 'audience' | 'nonce'>,
  t: AttestationTimes,
): Promise<void> {
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!audiences.includes(claims.aud)) throw new Deny('attestation_audience_invalid');
  if (claims.exp <= t.now) throw new Deny('attestation_expired');
  if (claims.iat > t.now + t.skew) throw new Deny('attestation_not_yet_valid');
  if (claims.nbf !== undefined && claims.nbf > t.now + t.skew) throw new Deny('attestation_not_yet_valid');
  if (claims.exp - claims.iat > t.maxAge || t.now - claims.iat > t.maxAge)
    throw new Deny('attestation_too_old');
  if (options.nonce) {
    const nonce = claims.eat_nonce;
    const ok =
      nonce === undefined
        ? !options.nonce.required
        : await options.nonce.verify(nonce, t.nowMs).catch(() => false);
    if (!ok) throw new Deny('attestation_nonce_invalid');
  }
}
