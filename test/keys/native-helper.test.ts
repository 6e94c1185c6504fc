/**
 * The Windows CNG and macOS Secure Enclave key stores, through their helpers' JSON contract
 * (native-probes/PROTOCOL.md). No Windows or Mac exists here: the helper answers below are written
 * from that contract, not recorded, and the exec is a stand-in that answers like a helper would.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { KeyError } from '../../src/keys/errors.js';
import type { NativeHelper } from '../../src/keys/native-helper.js';
import {
  nativeHelperStore,
  parseKeyHelperOutput,
  signatureFromHelper,
} from '../../src/keys/native-helper.js';
import type { CommandOutcome, CommandRequest } from '../../src/host/host.js';

const helper: NativeHelper = {
  kind: 'secure_enclave',
  command: (op, ref, sign) => ({
    command: '/opt/posture/keyhelper',
    args: [op, ref, ...(sign ? [sign.digest] : [])],
  }),
};

/** Behaves like a helper holding one real P-256 key: signs the digest it is given, in DER (like Security.framework). */
function helperExec(format: 'der' | 'p1363') {
  // Hardware signs the digest it is given (SecKeyCreateSignature with a digest algorithm, NCryptSignHash).
  const secret = p256.utils.randomSecretKey();
  const point = p256.getPublicKey(secret, false);
  const x = Buffer.from(point.subarray(1, 33)).toString('base64url');
  const y = Buffer.from(point.subarray(33)).toString('base64url');
  const calls: string[][] = [];
  const exec = async (req: CommandRequest): Promise<CommandOutcome> => {
    calls.push([...req.args]);
    const [op, , digest] = req.args;
    const ok = (data: object) => ({
      ok: true as const,
      exitCode: 0,
      signal: null,
      stderr: '',
      stdout: JSON.stringify({ protocol: 'posture-native/1', probe: 'device_key', ok: true, data }),
    });
    if (op === 'create' || op === 'public') return ok({ x, y });
    if (op === 'delete') return ok({});
    const signature = p256.sign(Buffer.from(digest ?? '', 'base64url'), secret, {
      prehash: false,
      format: format === 'der' ? 'der' : 'compact',
    });
    return ok({ signature: Buffer.from(signature).toString('base64url'), format });
  };
  return { exec, calls };
}

describe('native helper key stores (contract)', () => {
  it.each(['der', 'p1363'] as const)(
    'a %s signature from the helper becomes a valid ES256 signature',
    async (format) => {
      const { exec, calls } = helperExec(format);
      const store = nativeHelperStore(helper, exec);
      const key = await store.create('device-key-1');
      expect(key.protection).toBe('secure_enclave');
      const data = new TextEncoder().encode('header.payload');
      const signature = await key.sign(data);
      const jwk = { ...key.publicJwk };
      expect(
        cryptoVerify(
          'sha256',
          data,
          { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
          signature,
        ),
      ).toBe(true);
      // Only the SHA-256 digest crosses to the helper, never the data or a key.
      expect(calls.at(-1)).toEqual([
        'sign',
        'device-key-1',
        createHash('sha256').update(data).digest('base64url'),
      ]);
    },
  );

  it('maps helper errors to key error codes', () => {
    const env = (error: object) =>
      JSON.stringify({ protocol: 'posture-native/1', probe: 'device_key', ok: false, error });
    expect(() => parseKeyHelperOutput(env({ code: 'unsupported', message: 'no TPM' }))).toThrow(KeyError);
    try {
      parseKeyHelperOutput(env({ code: 'unsupported', message: 'no TPM' }));
    } catch (e) {
      expect((e as KeyError).code).toBe('ERR_TPM_UNAVAILABLE');
    }
    for (const bad of ['', 'Access denied', '{"protocol":"other"}']) {
      try {
        parseKeyHelperOutput(bad);
        throw new Error('accepted');
      } catch (e) {
        expect((e as KeyError).code).toBe('ERR_NATIVE_HELPER_FAILED');
      }
    }
  });

  it('refuses malformed signatures and formats', () => {
    expect(() => signatureFromHelper({ signature: 'AAAA', format: 'der' })).toThrow(KeyError);
    expect(() =>
      signatureFromHelper({ signature: Buffer.alloc(64).toString('base64url'), format: 'asn1' }),
    ).toThrow(KeyError);
    expect(() => signatureFromHelper({ format: 'der' })).toThrow(KeyError);
  });
});
