/**
 * Files and folders the service needs (policy, SQLite store and its folder, decision log, admin
 * socket): each problem is an `ERR_FILE_UNUSABLE` error that names the path and what to do, so
 * `posture-verifier` exits 3 with it instead of a stack trace; `--check` runs the same checks.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { PostureError } from '../shared/errors.js';

export class FileUnusableError extends PostureError {
  readonly path: string;
  constructor(path: string, what: string, advice: string, cause?: unknown) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super('ERR_FILE_UNUSABLE', `${what} ${path}${errno ? ` (${errno})` : ''}: ${advice}`, { cause });
    this.path = path;
  }
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** A file that must be there and readable. */
export function checkReadableFile(path: string, what: string): void {
  try {
    if (!statSync(path).isFile())
      throw new FileUnusableError(path, what, 'is not a file; point the configuration at a file.');
    accessSync(path, constants.R_OK);
  } catch (error) {
    if (error instanceof FileUnusableError) throw error;
    throw new FileUnusableError(
      path,
      what,
      errnoOf(error) === 'ENOENT'
        ? 'does not exist; create it or fix the path in the configuration.'
        : 'cannot be read by this user; fix its permissions or run the service as its owner.',
      error,
    );
  }
}

/**
 * A folder the service writes in: it exists and is writable, or it can be made (its nearest existing
 * ancestor is a writable folder), which the service does at start.
 */
export function checkWritableDir(dir: string, what: string): void {
  let probe = dir;
  try {
    while (!exists(probe)) {
      const parent = dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
    if (!statSync(probe).isDirectory())
      throw new FileUnusableError(probe, what, 'is not a folder; fix the path in the configuration.');
    accessSync(probe, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof FileUnusableError) throw error;
    throw new FileUnusableError(
      probe === dir ? dir : `${dir} (its parent ${probe})`,
      what,
      probe === dir
        ? 'is not writable by this user: fix its owner or permissions, or run the service as its owner.'
        : 'cannot be created by this user: create it (owned by the service user), or point the configuration elsewhere.',
      error,
    );
  }
}

/** A file the service writes (decision log): its folder must be usable; the file, if there, writable. */
export function checkWritableFile(path: string, what: string): void {
  checkWritableDir(dirname(path), `${what} folder`);
  if (!exists(path)) return;
  try {
    accessSync(path, constants.W_OK);
  } catch (error) {
    throw new FileUnusableError(path, what, 'is not writable by this user; fix its permissions.', error);
  }
}
