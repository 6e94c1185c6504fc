/**
 * The native key helpers of Windows and macOS (native-probes/, protocol posture-native/1), as
 * commands. Written against Microsoft's and Apple's documented interfaces; not run here (no
 * Windows, no Mac).
 */
import { isAbsolute, join } from 'node:path';
import { powershellScript } from '../host/powershell.js';
import type { NativeHelper } from './native-helper.js';

/**
 * Windows: `native-probes/windows/device-key.ps1`, one CNG key storage provider.
 * - `platform` (kind `tpm`): the Microsoft Platform Crypto Provider, i.e. the TPM;
 * - `software` (kind `os_keystore`): the Microsoft Software Key Storage Provider.
 * `machine`: a machine key (NCRYPT_MACHINE_KEY_FLAG, .NET `CngKeyCreationOptions.MachineKey`), the
 * kind a service running as LocalSystem owns; otherwise a key of the calling user's profile.
 */
export function windowsKeyHelper(
  config: { systemRoot: string },
  installDir: string,
  options: { provider: 'platform' | 'software'; machine: boolean },
): NativeHelper {
  const script = join(installDir, 'native-probes', 'windows', 'device-key.ps1');
  return {
    kind: options.provider === 'platform' ? 'tpm' : 'os_keystore',
    command: (op, ref, sign) =>
      powershellScript(config.systemRoot, script, [
        '-Op',
        op,
        '-Name',
        ref,
        '-Provider',
        options.provider === 'platform' ? 'Platform' : 'Software',
        ...(options.machine ? ['-Machine'] : []),
        ...(sign ? ['-Digest', sign.digest] : []),
      ]),
  };
}

export function macKeyHelperPath(installDir: string): string {
  return join(installDir, 'native-probes', 'darwin', 'posture-keyhelper');
}

/**
 * macOS: `native-probes/darwin/posture-keyhelper`, a Secure Enclave P-256 key.
 * - a key name (a user's agent): SecKeyCreateRandomKey with the Secure Enclave token, kept in the
 *   user's data protection keychain; the helper signs the SHA-256 digest it is given;
 * - an absolute path (the LaunchDaemon, which has no data protection keychain, TN3137): a CryptoKit
 *   `SecureEnclave.P256.Signing.PrivateKey` whose `dataRepresentation` — the key wrapped so that
 *   only this Mac's Secure Enclave can use it — the helper keeps in that root-only file
 *   (`--blob <path>`); CryptoKit hashes the message itself, so the helper gets the message.
 */
export function macKeyHelper(installDir: string): NativeHelper {
  const binary = macKeyHelperPath(installDir);
  return {
    kind: 'secure_enclave',
    command: (op, ref, sign) =>
      isAbsolute(ref)
        ? { command: binary, args: [op, '--blob', ref, ...(sign ? ['--message', sign.message] : [])] }
        : { command: binary, args: [op, ref, ...(sign ? [sign.digest] : [])] },
  };
}
