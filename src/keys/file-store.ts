/**
 * file: only for headless machines without a credential store or TPM, and only when explicitly
 * configured (key store "file" and a path). The key file is created 0600 and refused when anyone
 * else can read or write it. Reported as protection "file" so policy can refuse such devices.
 *
 * The configured path (`keyFile`) always holds the active key, as an admin expects: a new key is
 * written beside it (`<keyFile>.new-<stamp>`, exclusive, flushed) and renamed over it in one step,
 * after the previous key got a second name (`<keyFile>.previous-<stamp>`, a hard link) under which
 * it is kept until the verifier has acknowledged the new key.
 */
import { constants } from 'node:fs';
import { copyFile, link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeyError } from './errors.js';
import type { KeyManagerDeps, KeyRecord } from './manager.js';
import { generatePrivateJwk, parsePrivateJwk, softwareKey } from './software-key.js';
import type { DeviceKey, KeyStore } from './types.js';

export function fileStore(): KeyStore {
  return {
    kind: 'file',
    async create(path) {
      const jwk = generatePrivateJwk();
      const createdAt = new Date().toISOString();
      let handle;
      try {
        handle = await open(path, 'wx', 0o600);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== undefined && STORAGE_FAILURES.has(code)) throw writeFailed(path, code);
        throw new KeyError(
          code === 'EEXIST' ? 'ERR_ROTATION_FAILED' : 'ERR_FILE_KEY_INSECURE',
          code === 'EEXIST'
            ? `${path} already exists; refusing to overwrite a device key.`
            : `cannot create ${path} (${code}). Check that its folder exists and is writable only by the agent.`,
        );
      }
      try {
        await handle.writeFile(JSON.stringify({ ...jwk, createdAt }));
        await handle.sync();
      } catch (error) {
        // Half a private key must not stay behind: the file is removed, the current key is untouched.
        await handle.close().catch(() => undefined);
        handle = undefined;
        await rm(path, { force: true }).catch(() => undefined);
        throw writeFailed(path, (error as NodeJS.ErrnoException).code ?? String(error));
      } finally {
        await handle?.close();
      }
      return softwareKey(jwk, 'file', path, createdAt);
    },
    async open(path, createdAt) {
      let info;
      try {
        info = await stat(path);
      } catch {
        throw new KeyError(
          'ERR_KEY_NOT_FOUND',
          `the device key file ${path} does not exist. Run \`posture key rotate --force-new\` and enroll again.`,
        );
      }
      if ((info.mode & 0o077) !== 0) {
        throw new KeyError(
          'ERR_FILE_KEY_INSECURE',
          `${path} is readable or writable by others (mode ${(info.mode & 0o777).toString(8)}); the key may be compromised. Replace it: \`posture key rotate --force-new\`, then \`chmod 600\` is kept by the agent.`,
        );
      }
      if (typeof process.getuid === 'function' && process.getuid() === 0 && info.uid !== 0) {
        throw new KeyError(
          'ERR_FILE_KEY_INSECURE',
          `${path} is not owned by root; refusing to use it as the device key.`,
        );
      }
      return softwareKey(parsePrivateJwk(await readFile(path, 'utf8'), path), 'file', path, createdAt);
    },
    async remove(path) {
      await rm(path, { force: true });
    },
  };
}

/** Errors of the storage itself, not of the folder's setup: the disk is full, read-only or failing. */
const STORAGE_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

function writeFailed(path: string, code: string): KeyError {
  return new KeyError(
    'ERR_KEY_WRITE_FAILED',
    `cannot write the new device key ${path} (${code}): the disk is full, read-only or failing. Nothing was replaced; free space and try again.`,
  );
}

/** A reference for a new file key: beside the configured path, moved onto it by `placeFileKey`. */
export function newFileKeyRef(keyFile: string): string {
  return `${keyFile}.new-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** KeyManagerDeps.place for file keys: the new key ends up at `keyFile`, the previous one kept aside. */
export function placeFileKey(keyFile: string): NonNullable<KeyManagerDeps['place']> {
  return async (fresh: DeviceKey, previous: KeyRecord | undefined, keepPrevious) => {
    if (fresh.protection !== 'file' || fresh.ref === keyFile) return fresh;
    const stamp = Date.now().toString(36);
    try {
      const present = await exists(keyFile);
      if (present && previous?.store === 'file' && previous.ref === keyFile) {
        const kept = `${keyFile}.previous-${stamp}`;
        await secondName(keyFile, kept);
        await keepPrevious({ ...previous, ref: kept });
      } else if (present) {
        // A key file no state names (a first run cut short, a lost state file): never overwritten.
        await secondName(keyFile, `${keyFile}.replaced-${stamp}`);
      }
      await rename(fresh.ref, keyFile);
      await syncFolder(dirname(keyFile));
    } catch (error) {
      if (error instanceof KeyError) throw error;
      throw new KeyError(
        'ERR_ROTATION_FAILED',
        `cannot move the new device key to ${keyFile} (${(error as NodeJS.ErrnoException).code ?? String(error)}); the previous key is unchanged.`,
        { cause: error },
      );
    }
    const key = await fileStore().open(keyFile, fresh.createdAt);
    if (key.kid !== fresh.kid)
      throw new KeyError('ERR_ROTATION_FAILED', `${keyFile} changed while the new key was moved there.`);
    return key;
  };
}

/** Gives a key file a second name: a hard link (same file), or a 0600 copy where links are not possible. */
async function secondName(path: string, other: string): Promise<void> {
  try {
    await link(path, other);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw error;
    await copyFile(path, other, constants.COPYFILE_EXCL);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Makes a rename durable: the folder entry is flushed too (POSIX; a no-op where folders cannot be opened). */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Windows and some file systems cannot flush a folder; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}
