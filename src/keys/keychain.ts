/**
 * keychain: a software P-256 key whose private part is stored only in the OS credential store —
 * macOS Keychain, Windows Credential Manager, Linux Secret Service — through @napi-rs/keyring
 * (maintained, prebuilt N-API binaries for all three; keytar was archived in 2022). The secret is
 * read once when the key is opened and kept in memory. A locked or absent store is an error that
 * says what to do; there is no plaintext fallback.
 *
 * Two behaviours of the binding shape this code (seen with @napi-rs/keyring 2.1 on Linux):
 * it keeps one D-Bus connection per process, and its reads answer "no entry" (null) when the
 * Secret Service cannot be reached at all. So every call runs off the event loop (AsyncEntry) under a
 * timeout, and a missing entry is confirmed by a write probe before it is called missing.
 */
import { createRequire } from 'node:module';
import type { AsyncEntry } from '@napi-rs/keyring';
import { KeyError } from './errors.js';
import { generatePrivateJwk, parsePrivateJwk, softwareKey } from './software-key.js';
import type { KeyStore } from './types.js';

export const KEYCHAIN_SERVICE = 'org.posture-agent.device-key';
const PROBE_ACCOUNT = 'availability-probe';

/**
 * A keychain entry. The native binding (~8 MB once loaded) is loaded when a keychain store is first
 * used, not by every process that imports the key stores (a daemon with a TPM or file key never needs
 * it); synchronously, as it is CommonJS, so its load errors surface where they did.
 */
function keychainEntry(account: string): AsyncEntry {
  const keyring = createRequire(import.meta.url)('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
  return new keyring.AsyncEntry(KEYCHAIN_SERVICE, account);
}

function keychainError(error: unknown, action: string): KeyError {
  if (error instanceof KeyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/locked|prompt|dismissed|user canceled|interaction not allowed/i.test(message)) {
    return new KeyError(
      'ERR_KEYCHAIN_LOCKED',
      `the OS keychain is locked, so the device key cannot be ${action}. Unlock it (log in to the desktop session, or unlock the "login" keyring) and try again.`,
      { cause: error },
    );
  }
  return new KeyError(
    'ERR_KEYCHAIN_UNAVAILABLE',
    `the OS keychain cannot be reached, so the device key cannot be ${action} (${message}). On Linux a Secret Service (gnome-keyring or KeePassXC) must run in the user's session; on a headless machine use a TPM (keyStore "tpm") or, if policy allows, an explicit file key (keyStore "file").`,
    { cause: error },
  );
}

async function withTimeout<T>(work: Promise<T>, ms: number, action: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (error) {
    throw keychainError(error, action);
  } finally {
    clearTimeout(timer);
  }
}

export function keychainStore(options: { timeoutMs?: number } = {}): KeyStore {
  const ms = options.timeoutMs ?? 10_000;
  const entry = keychainEntry;
  /** Reads can say "absent" when the store is unreachable; a write tells the two apart. */
  const probe = async (action: string) => {
    const p = keychainEntry(PROBE_ACCOUNT);
    await withTimeout(p.setPassword('ok'), ms, action);
    await withTimeout(p.deletePassword(), ms, action);
  };
  return {
    kind: 'keychain',
    async create(ref) {
      const existing = await withTimeout(entry(ref).getPassword(), ms, 'created');
      if (existing)
        throw new KeyError(
          'ERR_ROTATION_FAILED',
          `a device key already exists in the keychain under "${ref}"; refusing to overwrite it.`,
        );
      const jwk = generatePrivateJwk();
      const createdAt = new Date().toISOString();
      await withTimeout(entry(ref).setPassword(JSON.stringify({ ...jwk, createdAt })), ms, 'stored');
      return softwareKey(jwk, 'keychain', ref, createdAt);
    },
    async open(ref, createdAt) {
      const secret = await withTimeout(entry(ref).getPassword(), ms, 'read');
      if (!secret) {
        await probe('read');
        throw new KeyError(
          'ERR_KEY_NOT_FOUND',
          `no device key "${ref}" in the OS keychain (was it deleted, or is this another user?). Run \`posture key rotate --force-new\` and enroll again.`,
        );
      }
      return softwareKey(parsePrivateJwk(secret, `the keychain entry "${ref}"`), 'keychain', ref, createdAt);
    },
    async remove(ref) {
      await withTimeout(entry(ref).deletePassword(), ms, 'deleted').catch((error: unknown) => {
        // Deleting what is not there is fine; an unreachable store is not.
        if (
          error instanceof KeyError &&
          error.code === 'ERR_KEYCHAIN_UNAVAILABLE' &&
          /no (result|entry|matching)/i.test(String((error.cause as Error)?.message))
        )
          return;
        throw error;
      });
    },
  };
}
