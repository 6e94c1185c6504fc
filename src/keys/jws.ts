/** Compact JWS (RFC 7515) signed by any DeviceKey: the device key may live in hardware, so jose's signers cannot hold it. */
// The subpath, not 'jose': the package index loads all of JOSE (JWE, JWKS, …), ~7 MB the agent never uses.
import * as base64url from 'jose/base64url';
import type { DeviceKey } from './types.js';

const encoder = new TextEncoder();

export async function signCompact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: Pick<DeviceKey, 'sign'>,
): Promise<string> {
  const signingInput = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  const signature = await key.sign(encoder.encode(signingInput));
  return `${signingInput}.${base64url.encode(signature)}`;
}
