/**
 * Strict reading of compact JWS parts, before any cryptography: base64url only, JSON objects only,
 * and the exact header shapes this protocol allows. Uses jose's base64url and the platform's
 * WebCrypto, so it runs on any JS runtime.
 */
import { base64url } from 'jose';
import type { PublicJwk } from '../shared/claims.js';

/** The platform's WebCrypto key type, named without DOM or Node typings. */
export type VerifyKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface CompactParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Uint8Array;
  signature: Uint8Array;
  /** The header exactly as it came (base64url). */
  headerSegment: string;
}

/** A header already read and checked, by its exact base64url text: it is not decoded again. */
export interface KnownHeader {
  segment: string;
  header: Record<string, unknown>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Node's Buffer where there is one (native, several times faster than jose's portable decoder). */
const nodeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: 'base64url'): Uint8Array } })
  .Buffer;

/**
 * base64url to bytes, strictly: the caller has checked the alphabet (COMPACT_JWS); a length that
 * leaves 1 over 4 is no base64 at all, and both decoders then refuse it.
 */
function decodePart(part: string): Uint8Array {
  if (!nodeBuffer) return base64url.decode(part);
  if (part.length % 4 === 1) throw new TypeError('invalid base64url length');
  return nodeBuffer.from(part, 'base64url');
}

function decodeObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(decodePart(part)));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits and decodes a compact JWS; undefined when any part is not what it must be. When the header
 * text equals `known.segment`, `known.header` stands for it (a session's proofs share one header).
 */
export function parseCompact(token: string, known?: KnownHeader): CompactParts | undefined {
  if (!COMPACT_JWS.test(token)) return undefined;
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = known && h === known.segment ? known.header : decodeObject(h);
  const payload = decodeObject(p);
  if (!header || !payload) return undefined;
  let signature: Uint8Array;
  try {
    signature = decodePart(s);
  } catch {
    return undefined;
  }
  return { header, payload, signingInput: encoder.encode(`${h}.${p}`), signature, headerSegment: h };
}

/** A public P-256 JWK and nothing private. */
export function asPublicP256(value: unknown): PublicJwk | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const jwk = value as Record<string, unknown>;
  const coordinate = /^[A-Za-z0-9_-]{43}$/;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || 'd' in jwk) return undefined;
  if (
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    !coordinate.test(jwk.x) ||
    !coordinate.test(jwk.y)
  )
    return undefined;
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

export function importVerifyKey(jwk: PublicJwk): Promise<VerifyKey> {
  return crypto.subtle.importKey(
    'jwk',
    { ...jwk, ext: true },
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['verify'],
  );
}

export function verifySignature(key: VerifyKey, parts: CompactParts): Promise<boolean> {
  // ES256 signatures are exactly 64 bytes (r‖s); anything else is refused before WebCrypto sees it.
  if (parts.signature.length !== 64) return Promise.resolve(false);
  return crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    parts.signature as Uint8Array<ArrayBuffer>,
    parts.signingInput as Uint8Array<ArrayBuffer>,
  );
}

export async function sha256Base64url(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
}

/** htu comparison form: scheme and host lower-cased, default port dropped, no query or fragment. */
export function normalizeHtu(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}
