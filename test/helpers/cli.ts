/**
 * Runs the built `posture` command (dist/cli/main.js, or an installed bin link) as a user would,
 * in an environment of its own: a temporary HOME, cache and state, no user config file, and an
 * explicit file key (as on a headless machine) unless the caller says otherwise.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error('dist/cli/main.js is missing: run `npm run build` first (the test command does)');
}

/** A fresh agent environment in a temporary folder (`dir`), with a file key at `dir/device-key.json`. */
export function agentEnv(extra: NodeJS.ProcessEnv = {}): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'posture-cli-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    NODE_OPTIONS: '',
    POSTURE_CONFIG: join(dir, 'none.json'),
    POSTURE_CACHE_DIR: join(dir, 'cache'),
    POSTURE_STATE_DIR: join(dir, 'state'),
    POSTURE_KEY_STORE: 'file',
    POSTURE_KEY_FILE: join(dir, 'device-key.json'),
    // No daemon answers here, whatever runs on this machine: headers/run/attest sign in process.
    POSTURE_SOCKET: join(dir, 'no-daemon.sock'),
    ...extra,
  };
  return { dir, env };
}

/** Runs `posture ARGS`: through node and dist/cli/main.js, or the executable `bin` (a bin link). */
export function posture(args: string[], env: NodeJS.ProcessEnv, bin?: string): Promise<CliResult> {
  const [file, argv] = bin ? [bin, args] : [process.execPath, [CLI, ...args]];
  return new Promise((resolve) => {
    execFile(file, argv, { env, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Extra environment giving several agents one probe cache (package-manager results reused). */
export function sharedCache(): NodeJS.ProcessEnv {
  return { POSTURE_CACHE_DIR: mkdtempSync(join(tmpdir(), 'posture-cli-cache-')) };
}
