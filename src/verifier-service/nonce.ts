/**
 * Stateless nonces: base64url(issued-at seconds ‖ 8 random bytes ‖ HMAC-SHA256 tag truncated to 16
 * bytes). Any replica holding the secret accepts them until they expire. Secrets rotate: the first is
 * used to issue, all are accepted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface NonceIssuer {
  issue(nowMs: number): { nonce: string; expiresAt: number };
  verify(nonce: string, nowMs: number): boolean;
}

export function createNonces(secrets: readonly string[], ttlSeconds: number): NonceIssuer {
  if (secrets.length === 0) throw new Error('at least one nonce secret is needed');
  const keys = secrets.map((s) => Buffer.from(s, 'utf8'));
  const tag = (key: Buffer, body: Buffer) => createHmac('sha256', key).update(body).digest().subarray(0, 16);
  return {
    issue(nowMs) {
      const body = Buffer.alloc(16);
      body.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000)), 0);
      randomBytes(8).copy(body, 8);
      return {
        nonce: Buffer.concat([body, tag(keys[0] as Buffer, body)]).toString('base64url'),
        expiresAt: Math.floor(nowMs / 1000) * 1000 + ttlSeconds * 1000,
      };
    },
    verify(nonce, nowMs) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
      const raw = Buffer.from(nonce, 'base64url');
      if (raw.length !== 32) return false;
      const body = raw.subarray(0, 16);
      const given = raw.subarray(16);
      const issued = Number(body.readBigUInt64BE(0)) * 1000;
      if (issued > nowMs + 5000 || nowMs - issued > ttlSeconds * 1000) return false;
      return keys.some((k) => timingSafeEqual(tag(k, body), given));
    },
  };
}
