/** A P-256 key held in this process (from the keychain or a file): signing with node:crypto. */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
// The subpath, not 'jose': the package index loads all of JOSE (JWE, JWKS, …), which the agent never uses.
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint';
import type { KeyProtection, PublicJwk } from '../shared/claims.js';
import { KeyError } from './errors.js';
import type { DeviceKey } from './types.js';

export interface PrivateJwk extends PublicJwk {
  d: string;
}

export function generatePrivateJwk(): PrivateJwk {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y), d: String(jwk.d) };
}

export function publicJwkOf(jwk: PublicJwk): PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

export async function thumbprint(jwk: PublicJwk): Promise<string> {
  return calculateJwkThumbprint(publicJwkOf(jwk), 'sha256');
}

/** Parses stored key material; ERR_KEY_CORRUPT when it is not a P-256 private JWK whose halves match. */
export function parsePrivateJwk(text: string, where: string): PrivateJwk {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new KeyError(
      'ERR_KEY_CORRUPT',
      `the device key in ${where} is not readable JSON. Run \`posture key rotate --force-new\` to replace it (the device must enroll again).`,
    );
  }
  if (
    data?.kty !== 'EC' ||
    data.crv !== 'P-256' ||
    typeof data.x !== 'string' ||
    typeof data.y !== 'string' ||
    typeof data.d !== 'string'
  ) {
    throw new KeyError(
      'ERR_KEY_CORRUPT',
      `the device key in ${where} is not a P-256 private key. Run \`posture key rotate --force-new\` to replace it.`,
    );
  }
  const jwk: PrivateJwk = { kty: 'EC', crv: 'P-256', x: data.x, y: data.y, d: data.d };
  try {
    const derived = createPublicKey(createPrivateKey({ key: { ...jwk }, format: 'jwk' })).export({
      format: 'jwk',
    });
    if (derived.x !== jwk.x || derived.y !== jwk.y) throw new Error('mismatch');
  } catch {
    throw new KeyError(
      'ERR_KEY_CORRUPT',
      `the device key in ${where} is damaged (its public half does not match). Run \`posture key rotate --force-new\`.`,
    );
  }
  return jwk;
}

export async function softwareKey(
  jwk: PrivateJwk,
  protection: KeyProtection,
  ref: string,
  createdAt: string,
): Promise<DeviceKey> {
  const privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
  const publicJwk = publicJwkOf(jwk);
  return {
    kid: await thumbprint(publicJwk),
    publicJwk,
    protection,
    createdAt,
    ref,
    sign: async (data) =>
      new Uint8Array(cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}
