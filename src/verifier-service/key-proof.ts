/**
 * Proofs that a caller holds a key, for enrollment (typ posture-enroll+jwt, signed by the device key it
 * enrolls) and for key rotation (typ posture-rotate+jwt, signed by the new key): ES256 with the key in
 * the header, audience this service, a current nonce, issued within the last five minutes.
 */
import { calculateJwkThumbprint } from 'jose';
import type { PublicJwk } from '../shared/claims.js';
import { asPublicP256, importVerifyKey, parseCompact, verifySignature } from '../verifier/tokens.js';
import type { NonceIssuer } from './nonce.js';

export type KeyProofResult =
  { ok: true; jwk: PublicJwk; kid: string; claims: Record<string, unknown> } | { ok: false; error: string };

export async function verifyKeyProof(
  token: unknown,
  typ: string,
  audience: string,
  nonces: NonceIssuer,
  nowMs: number,
): Promise<KeyProofResult> {
  if (typeof token !== 'string' || token.length > 8192) return { ok: false, error: 'proof_malformed' };
  const parts = parseCompact(token);
  if (!parts) return { ok: false, error: 'proof_malformed' };
  const jwk = asPublicP256(parts.header.jwk);
  if (parts.header.alg !== 'ES256' || parts.header.typ !== typ || !jwk || 'crit' in parts.header)
    return { ok: false, error: 'proof_header_invalid' };
  const key = await importVerifyKey(jwk).catch(() => undefined);
  if (!key || !(await verifySignature(key, parts))) return { ok: false, error: 'proof_signature_invalid' };
  const c = parts.payload;
  if (c.aud !== audience) return { ok: false, error: 'proof_audience_invalid' };
  if (typeof c.nonce !== 'string' || !nonces.verify(c.nonce, nowMs))
    return { ok: false, error: 'nonce_invalid' };
  if (
    typeof c.iat !== 'number' ||
    !Number.isSafeInteger(c.iat) ||
    c.iat * 1000 > nowMs + 5000 ||
    nowMs - c.iat * 1000 > 300_000
  ) {
    return { ok: false, error: 'proof_iat_out_of_window' };
  }
  return { ok: true, jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), claims: c };
}
