/**
 * Builds the key manager's dependencies from the configuration: which store a new key goes into
 * ("auto": hardware when present, else the OS keychain; never a file unless configured), and
 * which store opens a recorded key.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyProtection } from '../shared/claims.js';
import { KeyError } from './errors.js';
import { fileStore, newFileKeyRef, placeFileKey } from './file-store.js';
import { keychainStore } from './keychain.js';
import type { KeyManagerDeps } from './manager.js';
import type { NativeHelper } from './native-helper.js';
import { nativeHelperStore } from './native-helper.js';
import { powershellScript } from '../host/powershell.js';
import { DEFAULT_TCTI, tpmStore } from './tpm.js';
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
}

export function keyStatePath(config: Pick<KeyConfig, 'stateDir'>): string {
  return join(config.stateDir, 'device-key.json');
}

const exists = (path: string, mode = constants.F_OK) =>
  access(path, mode).then(
    () => true,
    () => false,
  );

export function windowsKeyHelper(config: KeyConfig, installDir: string): NativeHelper {
  const script = join(installDir, 'native-probes', 'windows', 'device-key.ps1');
  return {
    kind: 'tpm',
    command: (op, ref, digest) =>
      powershellScript(config.systemRoot, script, [
        '-Op',
        op,
        '-Name',
        ref,
        ...(digest ? ['-Digest', digest] : []),
      ]),
  };
}

export function macKeyHelper(installDir: string): NativeHelper {
  const binary = join(installDir, 'native-probes', 'darwin', 'posture-keyhelper');
  return {
    kind: 'secure_enclave',
    command: (op, ref, digest) => ({ command: binary, args: [op, ref, ...(digest ? [digest] : [])] }),
  };
}

export function keyManagerDeps(config: KeyConfig, installDir: string): KeyManagerDeps {
  const stores = new Map<KeyProtection, () => KeyStore>([
    ['keychain', () => keychainStore()],
    ['file', () => fileStore()],
    [
      'tpm',
      () =>
        config.platform === 'win32'
          ? nativeHelperStore(windowsKeyHelper(config, installDir))
          : tpmStore({ tcti: config.tpmTcti }),
    ],
    ['secure_enclave', () => nativeHelperStore(macKeyHelper(installDir))],
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
    if (config.platform === 'linux') {
      const device =
        config.tpmTcti === DEFAULT_TCTI ? await exists('/dev/tpmrm0', constants.R_OK | constants.W_OK) : true;
      return device && (await exists('/usr/bin/tpm2_sign', constants.X_OK)) ? storeFor('tpm') : undefined;
    }
    if (config.platform === 'darwin')
      return (await exists(join(installDir, 'native-probes', 'darwin', 'posture-keyhelper'), constants.X_OK))
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
              'keyStore "file" needs keyFile (a root-only path such as /etc/posture-agent/device-key.json).',
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
          const store = await hardware();
          return store ? withFallback(store, storeFor('keychain')) : storeFor('keychain');
        }
      }
    },
    async newRef(store) {
      const stamp = Date.now().toString(36);
      if (store.kind === 'tpm' && config.platform !== 'win32')
        return tpmStore({ tcti: config.tpmTcti }).freeHandle();
      if (store.kind === 'file') return newFileKeyRef(config.keyFile as string);
      return `device-key-${stamp}`;
    },
    ...(config.keyStore === 'file' && config.keyFile ? { place: placeFileKey(config.keyFile) } : {}),
  };
}

/** "auto" on Windows: a TPM key when the helper can make one, else the keychain. */
function withFallback(primary: KeyStore, fallback: KeyStore): KeyStore {
  return {
    kind: primary.kind,
    async create(ref) {
      try {
        return await primary.create(ref);
      } catch (error) {
        if (error instanceof KeyError && error.code === 'ERR_TPM_UNAVAILABLE') return fallback.create(ref);
        throw error;
      }
    },
    open: primary.open,
    remove: primary.remove,
  };
}
