/**
 * keychain: a software P-256 key whose private part is stored only in the OS credential store —
 * macOS Keychain, Windows Credential Manager, Linux Secret Service — through @napi-rs/keyring
 * (maintained, prebuilt N-API binaries for all three; keytar was archived in 2022). The secret is
 * read once when the key is opened and kept in memory. A locked or absent store is an error that
 * says what to do; there is no plaintext fallback.
 */
import { Entry } from '@napi-rs/keyring';
import { KeyError } from './errors.js';
import { generatePrivateJwk, parsePrivateJwk, softwareKey } from './software-key.js';
import type { KeyStore } from './types.js';

export const KEYCHAIN_SERVICE = 'org.posture-agent.device-key';

function entry(ref: string): Entry {
  return new Entry(KEYCHAIN_SERVICE, ref);
}

/** Translates the binding's errors (it reports them as text) into stable codes. */
function keychainError(error: unknown, action: string): KeyError {
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
    `the OS keychain cannot be reached, so the device key cannot be ${action} (${message}). On Linux a Secret Service (gnome-keyring or KeePassXC) must run in the user's session; on a headless machine use a TPM (key.store: tpm) or, if policy allows, an explicit file key (key.store: file).`,
    { cause: error },
  );
}

export function keychainStore(): KeyStore {
  return {
    kind: 'keychain',
    async create(ref) {
      let existing: string | null | undefined;
      try {
        existing = entry(ref).getPassword();
      } catch (error) {
        throw keychainError(error, 'created');
      }
      if (existing)
        throw new KeyError(
          'ERR_ROTATION_FAILED',
          `a device key already exists in the keychain under "${ref}"; refusing to overwrite it.`,
        );
      const jwk = generatePrivateJwk();
      const createdAt = new Date().toISOString();
      try {
        entry(ref).setPassword(JSON.stringify({ ...jwk, createdAt }));
      } catch (error) {
        throw keychainError(error, 'stored');
      }
      return softwareKey(jwk, 'keychain', ref, createdAt);
    },
    async open(ref, createdAt) {
      let secret: string | null | undefined;
      try {
        secret = entry(ref).getPassword();
      } catch (error) {
        throw keychainError(error, 'read');
      }
      if (!secret) {
        throw new KeyError(
          'ERR_KEY_NOT_FOUND',
          `no device key "${ref}" in the OS keychain (was it deleted, or is this another user?). Run \`posture key rotate --force-new\` and enroll again.`,
        );
      }
      return softwareKey(parsePrivateJwk(secret, `the keychain entry "${ref}"`), 'keychain', ref, createdAt);
    },
    async remove(ref) {
      try {
        entry(ref).deletePassword();
      } catch (error) {
        const e = keychainError(error, 'deleted');
        if (
          e.code !== 'ERR_KEYCHAIN_UNAVAILABLE' ||
          !/no (result|entry|matching)/i.test(String((error as Error)?.message))
        )
          throw e;
      }
    },
  };
}
