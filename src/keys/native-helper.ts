/**
 * Keys held by hardware that only a native API reaches: the Windows TPM through the CNG
 * "Microsoft Platform Crypto Provider", and the macOS Secure Enclave through CryptoKit. A helper
 * (native-probes/, protocol posture-native/1) creates the key, reports its public half and signs a
 * SHA-256 digest; the private key never leaves the hardware.
 *   {"protocol":"posture-native/1","probe":"device_key","ok":true,"data":{"ref":"…","x":"…","y":"…"}}
 *   {"protocol":"posture-native/1","probe":"device_key","ok":true,"data":{"signature":"<base64url>","format":"der"|"p1363"}}
 */
import { createHash } from 'node:crypto';
import type { KeyProtection, PublicJwk } from '../shared/claims.js';
import { execCommand } from '../host/exec.js';
import { parseNativeOutput } from '../host/native-protocol.js';
import { UnexpectedOutputError } from '../host/unexpected-output.js';
import { derToJose } from './der.js';
import { KeyError } from './errors.js';
import { thumbprint } from './software-key.js';
import type { DeviceKey, KeyStore } from './types.js';

export type HelperOp = 'create' | 'public' | 'sign' | 'delete';

/** What a `sign` operation is given, each base64url: the SHA-256 digest and the message itself. */
export interface SignInput {
  digest: string;
  message: string;
}

export interface NativeHelper {
  kind: Extract<KeyProtection, 'tpm' | 'secure_enclave' | 'os_keystore'>;
  /**
   * The absolute command and arguments for one operation; a helper passes on the digest or the
   * message (CryptoKit hashes the message itself, CNG signs a digest).
   */
  command(op: HelperOp, ref: string, sign?: SignInput): { command: string; args: string[] };
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** Parses one helper answer; throws KeyError with what went wrong. */
export function parseKeyHelperOutput(stdout: string): Record<string, unknown> {
  let result;
  try {
    result = parseNativeOutput(stdout, 'device_key');
  } catch (error) {
    if (error instanceof UnexpectedOutputError)
      throw new KeyError(
        'ERR_NATIVE_HELPER_FAILED',
        `the key helper answered unexpectedly: ${error.message}`,
      );
    throw error;
  }
  if (!result.ok) {
    const code =
      result.reason === 'unsupported_platform' ? 'ERR_TPM_UNAVAILABLE' : 'ERR_NATIVE_HELPER_FAILED';
    throw new KeyError(code, `the key helper reported: ${result.message}`);
  }
  return result.data;
}

export function publicJwkFromHelper(data: Record<string, unknown>): PublicJwk {
  const b64 = /^[A-Za-z0-9_-]{43}$/;
  if (typeof data.x !== 'string' || typeof data.y !== 'string' || !b64.test(data.x) || !b64.test(data.y)) {
    throw new KeyError(
      'ERR_NATIVE_HELPER_FAILED',
      'the key helper did not return a P-256 public key (x, y as 32-byte base64url)',
    );
  }
  return { kty: 'EC', crv: 'P-256', x: data.x, y: data.y };
}

export function signatureFromHelper(data: Record<string, unknown>): Uint8Array {
  if (typeof data.signature !== 'string')
    throw new KeyError('ERR_NATIVE_HELPER_FAILED', 'the key helper returned no signature');
  const bytes = new Uint8Array(Buffer.from(data.signature, 'base64url'));
  try {
    if (data.format === 'der') return derToJose(bytes);
    if (data.format === 'p1363' && bytes.length === 64) return bytes;
  } catch (error) {
    throw new KeyError(
      'ERR_NATIVE_HELPER_FAILED',
      `the key helper returned a malformed signature: ${(error as Error).message}`,
    );
  }
  throw new KeyError(
    'ERR_NATIVE_HELPER_FAILED',
    `the key helper returned a signature in an unknown format "${String(data.format)}"`,
  );
}

export function nativeHelperStore(helper: NativeHelper, exec = execCommand): KeyStore {
  const call = async (op: HelperOp, ref: string, sign?: SignInput) => {
    const { command, args } = helper.command(op, ref, sign);
    const out = await exec({ command, args, timeoutMs: 30_000 });
    if (!out.ok) {
      throw new KeyError(
        out.error === 'command_missing' ? 'ERR_TPM_UNAVAILABLE' : 'ERR_NATIVE_HELPER_FAILED',
        `the key helper could not run: ${out.detail}`,
      );
    }
    return parseKeyHelperOutput(out.stdout);
  };
  const keyFrom = async (
    ref: string,
    createdAt: string,
    data: Record<string, unknown>,
  ): Promise<DeviceKey> => {
    const publicJwk = publicJwkFromHelper(data);
    return {
      kid: await thumbprint(publicJwk),
      publicJwk,
      protection: helper.kind,
      createdAt,
      ref,
      sign: async (bytes) =>
        signatureFromHelper(
          await call('sign', ref, {
            digest: b64url(createHash('sha256').update(bytes).digest()),
            message: b64url(bytes),
          }),
        ),
    };
  };
  return {
    kind: helper.kind,
    create: async (ref) => keyFrom(ref, new Date().toISOString(), await call('create', ref)),
    open: async (ref, createdAt) => keyFrom(ref, createdAt, await call('public', ref)),
    remove: async (ref) => {
      await call('delete', ref);
    },
  };
}
