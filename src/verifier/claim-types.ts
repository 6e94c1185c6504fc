/**
 * Exact claim types of the attestation (DESIGN §2.5) and the proof (§2.6), before any claim is
 * compared: a string is a string (never an array or object that stringifies to one), a time is a
 * safe integer, a method is an ASCII token. Anything else denies as "claims invalid".
 */
import type { AttestationClaims, KeyProtection, ProofClaims } from '../shared/claims.js';
import { EAT_PROFILE, KEY_PROTECTIONS } from '../shared/claims.js';
import { asPublicP256 } from './tokens.js';

export const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
export const str = (v: unknown, max = 4096): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const optionalInt = (v: unknown) => v === undefined || int(v);
const object = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** An HTTP method: an RFC 9110 token, ASCII only (so no "poſt" that upper-cases to "POST"). */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}$/;
export const isMethod = (v: unknown): v is string => typeof v === 'string' && METHOD.test(v);

const KNOWN_PROTECTIONS: ReadonlySet<unknown> = new Set<KeyProtection>(KEY_PROTECTIONS);
const CHECK_STATUSES: ReadonlySet<unknown> = new Set(['observed', 'unknown']);

/** Proof claims (RFC 9449 shape): htm, htu, iat, jti (16–128), ath (SHA-256, base64url), optional exp and nbf. */
export function isProofClaims(
  c: Record<string, unknown>,
): c is Record<string, unknown> & ProofClaims & { exp?: number; nbf?: number } {
  return (
    isMethod(c.htm) &&
    str(c.htu) &&
    int(c.iat) &&
    str(c.jti, 128) &&
    c.jti.length >= 16 &&
    typeof c.ath === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test(c.ath) &&
    optionalInt(c.exp) &&
    optionalInt(c.nbf)
  );
}

function isPosture(v: unknown): boolean {
  if (!object(v) || typeof v.platform !== 'string' || typeof v.collectedAt !== 'string') return false;
  const checks = v.checks;
  return object(checks) && Object.values(checks).every((r) => object(r) && CHECK_STATUSES.has(r.status));
}

/** Attestation claims with their exact types; `nbf` and `eat_nonce` are optional. */
export function isAttestationClaims(
  c: Record<string, unknown>,
): c is Record<string, unknown> & AttestationClaims & { nbf?: number } {
  return (
    str(c.iss, 200) &&
    str(c.sub, 200) &&
    str(c.aud) &&
    int(c.iat) &&
    int(c.exp) &&
    optionalInt(c.nbf) &&
    str(c.jti, 128) &&
    (c.eat_nonce === undefined || str(c.eat_nonce, 512)) &&
    c.eat_profile === EAT_PROFILE &&
    str(c.swname, 200) &&
    str(c.swversion, 200) &&
    typeof c.key_protection === 'string' &&
    KNOWN_PROTECTIONS.has(c.key_protection) &&
    object(c.cnf) &&
    asPublicP256(c.cnf.jwk) !== undefined &&
    isPosture(c.posture)
  );
}
