/**
 * The one way the agent writes a file it must never leave half-written (a capture, the enrollment,
 * the key state, a key file): write a temporary file beside it, flush it to disk, rename it over the
 * target in one step. A failure removes the temporary file and rethrows the file-system error.
 *
 * A process killed in the middle (kill -9, power loss) leaves its temporary file behind, never a
 * half-written target. The next write of the same target removes such leftovers: temporaries of
 * that target whose writer (the pid in the name) no longer runs.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(
  path: string,
  data: string,
  options: { mode?: number } = {},
): Promise<void> {
  await removeAbandoned(path);
  // Unique per process and per call: two writers never share a temporary file.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', options.mode ?? 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** `<name>.<pid>.<12 hex>.tmp`: the temporary names writeFileAtomic makes. */
const TEMPORARY = /^\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Removes the temporaries of `path` left by writers that no longer run. Best effort. */
async function removeAbandoned(path: string): Promise<void> {
  const folder = dirname(path);
  const name = basename(path);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const other of names) {
    if (!other.startsWith(name)) continue;
    const pid = TEMPORARY.exec(other.slice(name.length))?.[1];
    if (pid === undefined || Number(pid) === process.pid || running(Number(pid))) continue;
    await rm(join(folder, other), { force: true }).catch(() => undefined);
  }
}

/** Whether a process with this pid runs (signal 0 checks without sending; EPERM: it runs, not ours). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
