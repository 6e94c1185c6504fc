/**
 * Builds the key manager's dependencies from the configuration: which store a new key goes into,
 * and which store opens a recorded key. "auto" for a user: hardware when present, else the OS
 * keychain. "auto" for the system service (`posture daemon`, no user session, so no user keychain):
 * service-store.ts decides per OS. Never a file unless configured.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { execCommand } from '../host/exec.js';
import type { KeyProtection } from '../shared/claims.js';
import { KeyError } from './errors.js';
import { fileStore, newFileKeyRef, placeFileKey } from './file-store.js';
import { keychainStore } from './keychain.js';
import type { KeyManagerDeps } from './manager.js';
import { nativeHelperStore } from './native-helper.js';
import { macKeyHelper, macKeyHelperPath, windowsKeyHelper } from './os-key-helpers.js';
import { serviceKeyStore, tpmAbsence, whenNoHardware } from './service-store.js';
import { tpmStore } from './tpm.js';
import type { KeyStore } from './types.js';

/** The settings that decide where the device key lives (the agent's configuration supplies them). */
export interface KeyConfig {
  /** Where the key state file (device-key.json) is kept. */
  stateDir: string;
  /** Where a new key goes: hardware when present, else the OS keychain ("auto"). */
  keyStore: 'auto' | 'keychain' | 'tpm' | 'secure_enclave' | 'file';
  /** The key file; used only with keyStore "file". */
  keyFile?: string;
  /** tpm2-tools TCTI, e.g. "device:/dev/tpmrm0". */
  tpmTcti: string;
  platform: NodeJS.Platform;
  /** %SystemRoot% on Windows. */
  systemRoot: string;
  /**
   * The agent runs as the system service (`posture daemon`: root, LocalSystem), outside any user
   * session: "auto" then never means a user keychain (service-store.ts).
   */
  service?: boolean;
}

/** What the selection asks of the machine; injected so each OS's choice is tested anywhere. */
export interface KeySystem {
  exists(path: string, mode?: number): Promise<boolean>;
  exec: typeof execCommand;
}

export const liveKeySystem: KeySystem = {
  exists: (path, mode = constants.F_OK) =>
    access(path, mode).then(
      () => true,
      () => false,
    ),
  exec: execCommand,
};

export function keyStatePath(config: Pick<KeyConfig, 'stateDir'>): string {
  return join(config.stateDir, 'device-key.json');
}

export function keyManagerDeps(
  config: KeyConfig,
  installDir: string,
  system: KeySystem = liveKeySystem,
): KeyManagerDeps {
  const machine = config.service === true;
  const stores = new Map<KeyProtection, () => KeyStore>([
    ['keychain', () => keychainStore()],
    ['file', () => fileStore()],
    [
      'tpm',
      () =>
        config.platform === 'win32'
          ? nativeHelperStore(
              windowsKeyHelper(config, installDir, { provider: 'platform', machine }),
              system.exec,
            )
          : tpmStore({ tcti: config.tpmTcti }),
    ],
    ['secure_enclave', () => nativeHelperStore(macKeyHelper(installDir), system.exec)],
    [
      'os_keystore',
      () => {
        if (config.platform !== 'win32')
          throw new KeyError('ERR_KEY_STATE_CORRUPT', 'an "os_keystore" key exists only on Windows');
        return nativeHelperStore(
          windowsKeyHelper(config, installDir, { provider: 'software', machine: true }),
          system.exec,
        );
      },
    ],
  ]);
  const storeFor = (kind: KeyProtection): KeyStore => {
    if (kind === 'file' && config.keyStore !== 'file') {
      throw new KeyError(
        'ERR_FILE_KEY_NOT_ALLOWED',
        'a file key is used only when configured explicitly (keyStore "file" and keyFile); set both, or rotate to a keychain or TPM key.',
      );
    }
    const make = stores.get(kind);
    if (!make) throw new KeyError('ERR_KEY_STATE_CORRUPT', `unknown key store "${kind}"`);
    return make();
  };
  const hardware = async (): Promise<KeyStore | undefined> => {
    if (config.platform === 'linux')
      return (await tpmAbsence(config, system)) === undefined ? storeFor('tpm') : undefined;
    if (config.platform === 'darwin')
      return (await system.exists(macKeyHelperPath(installDir), constants.X_OK))
        ? storeFor('secure_enclave')
        : undefined;
    if (config.platform === 'win32') return storeFor('tpm');
    return undefined;
  };
  return {
    statePath: keyStatePath(config),
    storeFor,
    async chooseStore() {
      switch (config.keyStore) {
        case 'keychain':
          return storeFor('keychain');
        case 'file':
          if (!config.keyFile)
            throw new KeyError(
              'ERR_FILE_KEY_NOT_ALLOWED',
              'keyStore "file" needs keyFile (a root-only path such as /var/lib/posture-agent/device-private-key.json).',
            );
          return storeFor('file');
        case 'tpm':
        case 'secure_enclave': {
          const store = await hardware();
          if (!store)
            throw new KeyError(
              'ERR_TPM_UNAVAILABLE',
              'keyStore asks for a hardware key, but no TPM or Secure Enclave helper is available here. Use keyStore "auto" or "keychain".',
            );
          return store;
        }
        default: {
          if (machine) return serviceKeyStore(config, await hardware(), storeFor, system);
          const store = await hardware();
          return store
            ? whenNoHardware(store, (_error, ref) => storeFor('keychain').create(ref))
            : storeFor('keychain');
        }
      }
    },
    async newRef(store) {
      const stamp = Date.now().toString(36);
      if (store.kind === 'tpm' && config.platform !== 'win32')
        return tpmStore({ tcti: config.tpmTcti }).freeHandle();
      if (store.kind === 'file') return newFileKeyRef(config.keyFile as string);
      // The daemon's Secure Enclave key: its wrapped form in a root-only file beside the state.
      if (store.kind === 'secure_enclave' && machine)
        return join(config.stateDir, `device-key-${stamp}.se-key`);
      return `device-key-${stamp}`;
    },
    ...(config.keyStore === 'file' && config.keyFile ? { place: placeFileKey(config.keyFile) } : {}),
  };
}
