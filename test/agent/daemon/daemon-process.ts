/**
 * The built `posture daemon` (dist/cli/main.js) as a child process, for the tests that drive the
 * whole daemon: an environment of its own in a temporary folder (file key, state, cache, socket,
 * a poll set to once a year so any re-check a test sees is an event's), its JSON-lines log as it
 * comes, `posture status --json` through its socket, and waiting without timing assertions.
 *
 * The command can be wrapped (a network namespace via `ip netns exec`, a private mount namespace,
 * strace), and the environment extended (DBUS_SYSTEM_BUS_ADDRESS, LD_PRELOAD of libfaketime…).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statusResponseSchema, type StatusResponse } from '../../../src/shared/local-api.js';
import { CLI, posture } from '../../helpers/cli.js';

/** One line of the daemon's log (docs/daemon.md, Logs). */
export interface DaemonLogLine {
  event: string;
  trigger?: string[];
  detail?: unknown;
  checks?: string[];
  changes?: { check: string; from: string | null; to: string }[];
  attestation?: string;
  jti?: string;
  outcome?: string;
  heartbeat?: boolean;
  allowed?: boolean;
  reasons?: string[];
  reason?: string;
  status?: number;
  attempt?: number;
  retryInMs?: number;
  code?: string;
  error?: string;
  [field: string]: unknown;
}

/** Once a year: a re-check seen in a test is not the poll's. */
export const RARE_SCHEDULE = { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['firewall'] }] };

/**
 * The daemon's environment in `dir`: config (once-a-year poll), cache, state, a file key, the
 * socket in `dir/run` (made 0700: the socket's folder must be its owner's only).
 */
export function daemonEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ schedule: RARE_SCHEDULE }));
  mkdirSync(join(dir, 'run'), { recursive: true, mode: 0o700 });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    NODE_OPTIONS: '',
    POSTURE_CONFIG: config,
    POSTURE_CACHE_DIR: join(dir, 'cache'),
    POSTURE_STATE_DIR: join(dir, 'state'),
    POSTURE_KEY_STORE: 'file',
    POSTURE_KEY_FILE: join(dir, 'device-key.json'),
    POSTURE_AUDIENCE: 'https://verifier.example',
    POSTURE_SOCKET: join(dir, 'run', 'api.sock'),
    ...extra,
  };
}

export interface RunningDaemon {
  child: ChildProcess;
  /** The daemon's own pid (not a wrapper's): what kill -9 and SIGSTOP aim at. */
  pid(): Promise<number>;
  /** Log lines so far (lines that are not JSON are kept as `{event: 'not_json', text}`). */
  logs: DaemonLogLine[];
  stderr(): string;
  /** Resolves when the child (or its wrapper) exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  status(): Promise<StatusResponse | undefined>;
  /** Waits for a log line (after the first `from` lines) matching `match`. */
  waitForLog(
    what: string,
    match: (l: DaemonLogLine) => boolean,
    from?: number,
    ms?: number,
  ): Promise<DaemonLogLine>;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL to the daemon itself (whatever wraps it), and waits for the exit. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  /** A command put before `node dist/cli/main.js daemon`, e.g. ['/usr/sbin/ip', 'netns', 'exec', name]. */
  wrap?: string[];
}

export function startDaemon(options: StartOptions): RunningDaemon {
  const argv = [...(options.wrap ?? []), process.execPath, CLI, 'daemon'];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: DaemonLogLine[] = [];
  let buffered = '';
  let errors = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as DaemonLogLine);
      } catch {
        logs.push({ event: 'not_json', text: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = async () => {
    if (!options.wrap?.length) return child.pid as number;
    // The wrapper execs node (ip netns exec, unshare) or forks it (strace): find node below it.
    return waitFor('the daemon process', () => nodeBelow(child.pid as number), 30_000);
  };
  const waitForLog = (what: string, match: (l: DaemonLogLine) => boolean, from = 0, ms = 120_000) =>
    waitFor(
      what,
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the daemon exited while waiting for ${what}: ${errors.slice(-2000)}`);
        return logs.slice(from).find(match);
      },
      ms,
    );
  return {
    child,
    pid,
    logs,
    stderr: () => errors,
    exited,
    status: () => daemonStatus(options.env),
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) process.kill(await pid(), 'SIGKILL');
      await exited;
    },
  };
}

/** The node process at or below `pid` (a wrapper that exec'd node is node itself). */
function nodeBelow(pid: number): number | undefined {
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    try {
      const exe = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (exe.includes(CLI) && exe[0] === process.execPath) return p;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) queue.push(...children.split(' ').map(Number));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** `posture status --json` with this environment; undefined when no daemon answers. */
export async function daemonStatus(env: NodeJS.ProcessEnv): Promise<StatusResponse | undefined> {
  const r = await posture(['status', '--json'], env);
  return r.code === 0 ? statusResponseSchema.parse(JSON.parse(r.stdout)) : undefined;
}

/** Polls `probe` until it gives a value; generous by default, never a timing assertion. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 120_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The daemon's re-checks, from its log. */
export const rechecks = (logs: DaemonLogLine[]) => logs.filter((l) => l.event === 'recheck');

/** Appends each line of the child's stdout, parsed as JSON, to `lines` as it comes. */
export function followJsonLines<T>(child: ChildProcess, lines: T[]): void {
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) lines.push(JSON.parse(line) as T);
  });
}
