/**
 * Where "auto" puts the device key when the agent runs as the system service (`posture daemon`:
 * root on Linux and macOS, LocalSystem on Windows). A service has no user session, so no user
 * keychain; docs/keys.md ("Under the system service") gives the reasons for each choice:
 *
 * - Linux: the TPM 2.0 (/dev/tpmrm0 or the configured TCTI). Without one, nothing stronger than a
 *   root-only file exists for a service (no Secret Service on the system bus; kernel keyrings do
 *   not survive a reboot; systemd-creds without a TPM encrypts with a host key on the same disk),
 *   and a file is never chosen silently: ERR_NO_SERVICE_KEY_STORE names the two choices.
 * - macOS: the Secure Enclave through CryptoKit, its wrapped key in a root-only file (a daemon has
 *   no data protection keychain, TN3137). No Secure Enclave or no helper: ERR_NO_SERVICE_KEY_STORE.
 * - Windows: a TPM machine key (Platform Crypto Provider); without a TPM, a machine key of the
 *   Software Key Storage Provider (DPAPI-machine protected), reported "os_keystore", never "tpm".
 */
import { constants } from 'node:fs';
import type { KeyProtection } from '../shared/claims.js';
import { KeyError } from './errors.js';
import type { KeyConfig, KeySystem } from './select.js';
import { DEFAULT_TCTI } from './tpm.js';
import type { KeyStore } from './types.js';

export const TPM2_SIGN = '/usr/bin/tpm2_sign';
const TPM_DEVICE = '/dev/tpmrm0';

/** Why no TPM can be used on Linux (undefined: one can). A configured TCTI counts as present. */
export async function tpmAbsence(
  config: Pick<KeyConfig, 'tpmTcti'>,
  system: Pick<KeySystem, 'exists'>,
): Promise<string | undefined> {
  if (config.tpmTcti === DEFAULT_TCTI) {
    if (!(await system.exists(TPM_DEVICE))) return `there is no TPM (${TPM_DEVICE} does not exist)`;
    if (!(await system.exists(TPM_DEVICE, constants.R_OK | constants.W_OK)))
      return `${TPM_DEVICE} is not readable and writable by the service`;
  }
  if (!(await system.exists(TPM2_SIGN, constants.X_OK))) return `tpm2-tools are not installed (${TPM2_SIGN})`;
  return undefined;
}

const CHOICES: Partial<Record<NodeJS.Platform, string>> = {
  linux:
    'Choose one: give the machine a TPM 2.0 (enable it in the firmware; /dev/tpmrm0, tpm2-tools) or set tpmTcti; or set keyStore "file" with keyFile a root-only path in a folder the service can write (e.g. /var/lib/posture-agent/device-private-key.json in the service state folder), whose key_protection is "file" and which a verifier policy may refuse (allowedKeyProtection).',
  darwin:
    'Choose one: install the signed key helper (native-probes/darwin/posture-keyhelper) on a Mac with a Secure Enclave; or set keyStore "file" with keyFile a root-only path, whose key_protection is "file" and which a verifier policy may refuse (allowedKeyProtection).',
};

/** The coded refusal: no key store a system service can use, what to do, and that nothing was made. */
export function noServiceKeyStore(platform: NodeJS.Platform, why: string): KeyError {
  const choices =
    CHOICES[platform] ??
    'Set keyStore "file" with keyFile a path only the service can read; its key_protection is "file".';
  return new KeyError(
    'ERR_NO_SERVICE_KEY_STORE',
    `the agent runs as a system service, which has no user keychain, and ${why}. ${choices} No key was made.`,
  );
}

/** The store "auto" gives the system service (see the top of this file). */
export async function serviceKeyStore(
  config: Pick<KeyConfig, 'platform' | 'tpmTcti'>,
  hardware: KeyStore | undefined,
  storeFor: (kind: KeyProtection) => KeyStore,
  system: Pick<KeySystem, 'exists'>,
): Promise<KeyStore> {
  switch (config.platform) {
    case 'linux':
      if (hardware) return hardware;
      throw noServiceKeyStore('linux', (await tpmAbsence(config, system)) ?? 'no TPM can be used');
    case 'darwin':
      if (!hardware) throw noServiceKeyStore('darwin', 'the Secure Enclave key helper is not installed');
      return whenNoHardware(hardware, (error) => {
        throw noServiceKeyStore('darwin', `the Secure Enclave cannot be used (${error.message})`);
      });
    case 'win32':
      return whenNoHardware(storeFor('tpm'), (_error, ref) => storeFor('os_keystore').create(ref));
    default:
      throw noServiceKeyStore(
        config.platform,
        `this OS (${config.platform}) has no supported key store for it`,
      );
  }
}

/**
 * `primary`, except that a creation refused for want of hardware goes to `otherwise` (the service's
 * Software KSP on Windows, or for a user on Windows the keychain).
 */
export function whenNoHardware(
  primary: KeyStore,
  otherwise: (error: KeyError, ref: string) => ReturnType<KeyStore['create']>,
): KeyStore {
  return {
    kind: primary.kind,
    async create(ref) {
      try {
        return await primary.create(ref);
      } catch (error) {
        if (error instanceof KeyError && error.code === 'ERR_TPM_UNAVAILABLE') return otherwise(error, ref);
        throw error;
      }
    },
    open: primary.open,
    remove: primary.remove,
  };
}
