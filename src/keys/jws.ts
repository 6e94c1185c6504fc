/** Compact JWS (RFC 7515) signed by any DeviceKey: the device key may live in hardware, so jose's signers cannot hold it. */
import { base64url } from 'jose';
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
