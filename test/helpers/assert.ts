import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { KeyError } from '../../src/keys/errors.js';

/** The code of the KeyError a promise rejects with (fails the test on any other outcome). */
export async function keyErrorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    return (error as KeyError).code;
  }
}

/** Whether `signature` (JOSE r‖s) is a valid ES256 signature of `data` by the public JWK. */
export function verifiesEs256(jwk: object, data: Uint8Array, signature: Uint8Array): boolean {
  return cryptoVerify(
    'sha256',
    data,
    { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    signature,
  );
}
