/** The host that asks this machine for real. */
import { readFile, stat } from 'node:fs/promises';
import { arch, release } from 'node:os';
import type { DeviceInventory } from '../shared/posture.js';
import { execCommand } from '../host/exec.js';
import type { FileOutcome, Host, StatOutcome } from '../host/host.js';
import { collectInventory } from './inventory.js';

const MAX_FILE_BYTES = 8 * 1024 * 1024;

export function createLiveHost(options: { inventoryTimeoutMs?: number } = {}): Host {
  let inventory: Promise<DeviceInventory> | undefined;
  return {
    platform: { os: process.platform, release: release(), arch: arch() },
    run: execCommand,
    readFile: readTextFile,
    stat: statFile,
    inventory: () => (inventory ??= collectInventory(options.inventoryTimeoutMs ?? 5000)),
    now: () => new Date(),
  };
}

async function readTextFile(path: string): Promise<FileOutcome> {
  try {
    const data = await readFile(path);
    if (data.length > MAX_FILE_BYTES)
      return { ok: false, error: 'too_large', detail: `${path} is larger than ${MAX_FILE_BYTES} bytes` };
    return { ok: true, content: data.toString('utf8') };
  } catch (error) {
    return fileError(path, error);
  }
}

async function statFile(path: string): Promise<StatOutcome> {
  try {
    const s = await stat(path);
    return { ok: true, mtimeMs: Math.trunc(s.mtimeMs), isDirectory: s.isDirectory() };
  } catch (error) {
    return fileError(path, error);
  }
}

function fileError(
  path: string,
  error: unknown,
): { ok: false; error: 'not_found' | 'insufficient_privilege' | 'read_failed'; detail: string } {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return { ok: false, error: 'not_found', detail: `${path} does not exist` };
  if (code === 'EACCES' || code === 'EPERM')
    return { ok: false, error: 'insufficient_privilege', detail: `not allowed to read ${path}` };
  return { ok: false, error: 'read_failed', detail: `could not read ${path}: ${code ?? String(error)}` };
}
