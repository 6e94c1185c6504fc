/**
 * The session key: an ephemeral P-256 key made in memory with each attestation and never stored.
 * The attestation names it in cnf.jwk (RFC 7800); it signs every per-request proof, so a hardware
 * device key is used once per attestation, not once per request.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { ProofClaims, PublicJwk } from '../shared/claims.js';
import { ALG, PROOF_TYP } from '../shared/claims.js';

export interface SessionKey {
  publicJwk: PublicJwk;
  /** Signs a proof for one request. */
  proof(method: string, url: string, attestation: string, now?: number): string;
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** htu (RFC 9449 §4.2): the request URL without query and fragment. */
export function htuOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** ath: base64url(SHA-256(attestation)), binding a proof to the attestation it travels with. */
export function athOf(attestation: string): string {
  return createHash('sha256').update(attestation, 'ascii').digest('base64url');
}

export function createSessionKey(): SessionKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const publicJwk: PublicJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
  const header = b64(JSON.stringify({ typ: PROOF_TYP, alg: ALG, jwk: publicJwk }));
  let athCache: { attestation: string; ath: string } | undefined;
  return {
    publicJwk,
    proof(method, url, attestation, now = Date.now()) {
      if (athCache?.attestation !== attestation) athCache = { attestation, ath: athOf(attestation) };
      const claims: ProofClaims = {
        htm: method.toUpperCase(),
        htu: htuOf(url),
        iat: Math.floor(now / 1000),
        jti: randomBytes(16).toString('base64url'),
        ath: athCache.ath,
      };
      const input = `${header}.${b64(JSON.stringify(claims))}`;
      return `${input}.${b64(sign('sha256', Buffer.from(input), { key: privateKey as KeyObject, dsaEncoding: 'ieee-p1363' }))}`;
    },
  };
}
