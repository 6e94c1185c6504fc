/**
 * Prepares the path of the local API's Unix socket and sets its mode and owner once listening.
 * The folder must not be writable by anyone but its owner (root): otherwise another user could
 * remove the daemon's socket and put one of their own in its place. A socket file left by a
 * daemon that died is removed; one that still answers means another daemon runs.
 */
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { DaemonError } from './errors.js';

export async function assertSafeSocketDir(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  // A missing folder is made, writable by this user only (the service unit's RuntimeDirectory does
  // the same; a daemon started by hand has none); an existing one is checked as it is.
  const info = await lstat(dir)
    .catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await chmod(dir, 0o755); // the umask does not narrow it further, nor may it widen it
      return lstat(dir);
    })
    .catch((error: unknown) => {
      throw new DaemonError('ERR_SOCKET_DIR_UNSAFE', `cannot use ${dir}: ${String(error)}`, { cause: error });
    });
  const ownUid = process.getuid?.() ?? 0;
  if (!info.isDirectory()) {
    throw new DaemonError('ERR_SOCKET_DIR_UNSAFE', `${dir} is not a directory (a symlink is refused)`);
  }
  if ((info.mode & 0o022) !== 0 || (info.uid !== 0 && info.uid !== ownUid)) {
    throw new DaemonError(
      'ERR_SOCKET_DIR_UNSAFE',
      `${dir} can be written by other users (mode ${(info.mode & 0o777).toString(8)}, owner ${info.uid}); ` +
        'use a folder only root can write, such as /run/posture-agent',
    );
  }
}

/** Removes a stale socket file at `socketPath`; refuses when a live daemon answers there. */
export async function clearStaleSocket(socketPath: string): Promise<void> {
  const info = await lstat(socketPath).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) {
    throw new DaemonError('ERR_SOCKET_IN_USE', `${socketPath} exists and is not a socket; remove it first`);
  }
  if (await answers(socketPath)) {
    throw new DaemonError('ERR_SOCKET_IN_USE', `another daemon answers on ${socketPath}`);
  }
  await unlink(socketPath);
}

export async function setSocketAccess(
  socketPath: string,
  access: { mode: number; uid?: number; gid?: number },
): Promise<void> {
  if (access.uid !== undefined || access.gid !== undefined) {
    await chown(socketPath, access.uid ?? -1, access.gid ?? -1);
  }
  await chmod(socketPath, access.mode);
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
