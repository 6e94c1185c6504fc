/**
 * The only module that starts processes. Absolute path, argument array, no shell, a timeout
 * that kills, an output cap that kills, a fixed C locale so output is not translated.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { CommandOutcome, CommandRequest } from './host.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** The environment every probe command gets: nothing inherited but what a command needs to run. */
function commandEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C', LANG: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  // Windows programs need these to start at all; they carry no user input.
  for (const name of [
    'SystemRoot',
    'SYSTEMROOT',
    'windir',
    'ComSpec',
    'PATHEXT',
    'TEMP',
    'TMP',
    'HOME',
    'USERPROFILE',
    'PROGRAMDATA',
  ]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  if (process.platform === 'win32' && process.env.PATH) env.PATH = process.env.PATH;
  return env;
}

export async function execCommand(request: CommandRequest): Promise<CommandOutcome> {
  if (isAbsolute(request.command)) {
    // spawn reports an unexecutable file only as exit 127; ask first, so the reason is exact.
    try {
      await access(request.command, constants.X_OK);
    } catch (error) {
      return spawnError(request.command, error);
    }
  }
  return spawnCommand(request);
}

function spawnCommand(request: CommandRequest): Promise<CommandOutcome> {
  const { command, args } = request;
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cap = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!isAbsolute(command)) {
    return Promise.resolve({
      ok: false,
      error: 'spawn_failed',
      detail: `refusing to run "${command}": not an absolute path`,
    });
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: CommandOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, [...args], {
        shell: false,
        windowsHide: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: commandEnv(),
      });
    } catch (error) {
      finish(spawnError(command, error));
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap * 2) {
        child.kill('SIGKILL');
        finish({
          ok: false,
          error: 'output_too_large',
          detail: `${command} printed more than ${cap * 2} bytes`,
        });
        return;
      }
      into.push(chunk);
    };
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, error: 'timeout', detail: `${command} did not finish within ${timeoutMs} ms` });
    }, timeoutMs);
    child.on('error', (error) => finish(spawnError(command, error)));
    child.on('close', (code, signal) => {
      finish({
        ok: true,
        exitCode: code,
        signal: signal ?? null,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

function spawnError(command: string, error: unknown): CommandOutcome {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return { ok: false, error: 'command_missing', detail: `${command} is not installed` };
  if (code === 'EACCES' || code === 'EPERM') {
    return { ok: false, error: 'insufficient_privilege', detail: `not allowed to run ${command}` };
  }
  return {
    ok: false,
    error: 'spawn_failed',
    detail: `could not start ${command}: ${String((error as Error)?.message ?? error)}`,
  };
}

/**
 * Runs a program the user named (for `posture run`), with the terminal attached. Not a shell: the
 * program is looked up on PATH once, then started by absolute path with its argument array.
 */
export async function runAttached(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const resolved = await resolveOnPath(program, env.PATH ?? '');
  if (!resolved) throw Object.assign(new Error(`${program} not found on PATH`), { code: 'ENOENT' });
  return new Promise((resolve, reject) => {
    const child = spawn(resolved, [...args], { shell: false, stdio: 'inherit', env });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function resolveOnPath(program: string, path: string): Promise<string | undefined> {
  const candidates =
    isAbsolute(program) || program.includes('/')
      ? [program]
      : path
          .split(':')
          .filter(Boolean)
          .map((dir) => `${dir}/${program}`);
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A long-running process whose stdout is read line by line (event sources such as `nft monitor`). */
export interface LineStreamRequest {
  /** Absolute path of the executable. Never a shell. */
  command: string;
  args: readonly string[];
  /** A longer stdout line kills the process (exit reported as output_too_large). Default 64 KiB. */
  maxLineBytes?: number;
  onLine: (line: string) => void;
  /** Called once when the process has ended, for whatever reason, unless stop() ended it. */
  onExit: (outcome: LineStreamExit) => void;
}

export type LineStreamExit =
  | { ok: true; exitCode: number | null; signal: string | null; stderr: string }
  | { ok: false; error: Extract<CommandOutcome, { ok: false }>['error']; detail: string };

export interface LineStream {
  readonly pid: number | undefined;
  /** Kills the process (SIGTERM, then SIGKILL after 2 s) and waits for it to end. */
  stop(): Promise<void>;
}

export function streamLines(request: LineStreamRequest): LineStream {
  const maxLine = request.maxLineBytes ?? 64 * 1024;
  let stopped = false;
  let exited = false;
  const report = (outcome: LineStreamExit) => {
    if (exited) return;
    exited = true;
    if (!stopped) request.onExit(outcome);
  };
  if (!isAbsolute(request.command)) {
    queueMicrotask(() =>
      report({
        ok: false,
        error: 'spawn_failed',
        detail: `refusing to run "${request.command}": not an absolute path`,
      }),
    );
    return { pid: undefined, stop: async () => undefined };
  }
  const [command, args] = diesWithParent(request.command, request.args);
  const child = spawn(command, args, {
    shell: false,
    windowsHide: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: commandEnv(),
  });
  const ended = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let partial = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    let newline = partial.indexOf('\n');
    while (newline >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      request.onLine(line);
      newline = partial.indexOf('\n');
    }
    if (Buffer.byteLength(partial) > maxLine) {
      child.kill('SIGKILL');
      report({
        ok: false,
        error: 'output_too_large',
        detail: `${request.command} printed a line over ${maxLine} bytes`,
      });
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 8192) stderr += chunk.slice(0, 8192 - stderr.length);
  });
  child.on('error', (error) => {
    const outcome = spawnError(request.command, error);
    if (!outcome.ok) report({ ok: false, error: outcome.error, detail: outcome.detail });
  });
  child.on('close', (code, signal) => report({ ok: true, exitCode: code, signal: signal ?? null, stderr }));
  return {
    pid: child.pid,
    async stop() {
      stopped = true;
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await ended;
      clearTimeout(force);
    },
  };
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * A long-running child must not outlive the daemon when the daemon is killed outright (kill -9,
 * OOM): on Linux, util-linux's setpriv asks the kernel to kill it when its parent dies
 * (PR_SET_PDEATHSIG) and then execs the program in place (same pid). Elsewhere, or without setpriv,
 * the program runs as asked (the service manager ends the daemon's process group). A program that
 * does not exist is not wrapped, so it is still reported as missing.
 */
function diesWithParent(command: string, args: readonly string[]): [string, string[]] {
  if (process.platform === 'linux' && existsSync(SETPRIV) && existsSync(command))
    return [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]];
  return [command, [...args]];
}
