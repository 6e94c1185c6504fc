/**
 * file: only for headless machines without a credential store or TPM, and only when explicitly
 * configured (key store "file" and a path). The key file is created 0600 and refused when anyone
 * else can read or write it. Reported as protection "file" so policy can refuse such devices.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { KeyError } from './errors.js';
import { generatePrivateJwk, parsePrivateJwk, softwareKey } from './software-key.js';
import type { KeyStore } from './types.js';

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
      } finally {
        await handle.close();
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
