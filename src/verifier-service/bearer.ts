/** Bearer tokens stored as their SHA-256 (hex), compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export type BearerCheck = (req: FastifyRequest) => boolean;

export function bearerCheck(tokenSha256: readonly string[]): BearerCheck {
  const hashes = tokenSha256.map((h) => Buffer.from(h, 'hex'));
  return function hasValidBearer(req) {
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!token) return false;
    const given = createHash('sha256').update(token).digest();
    return hashes.some((h) => h.length === given.length && timingSafeEqual(h, given));
  };
}
