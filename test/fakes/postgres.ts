/**
 * A real PostgreSQL for tests: a private cluster (initdb) in a temporary folder on a loopback port,
 * run as the `postgres` system user when the tests run as root (PostgreSQL refuses root).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface Postgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().at(-1);
  return version ? join(root, version, 'bin') : undefined;
}

export function postgresAvailable(): boolean {
  const bin = binDir();
  return bin !== undefined && existsSync(join(bin, 'initdb'));
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function run(command: string, args: string[]): void {
  if (asRoot)
    execFileSync('/usr/sbin/runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'ignore' });
  else execFileSync(command, args, { stdio: 'ignore' });
}

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir() as string;
  const dir = mkdtempSync(join(tmpdir(), 'posture-pg-'));
  chmodSync(dir, 0o700);
  if (asRoot) {
    const uid = Number(execFileSync('/usr/bin/id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('/usr/bin/id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  run(join(bin, 'initdb'), ['-D', data, '-U', 'posture', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ];
    // setpriv execs postgres in place, so signals reach the postmaster itself.
    child = asRoot
      ? spawn(
          '/usr/bin/setpriv',
          ['--reuid=postgres', '--regid=postgres', '--init-groups', join(bin, 'postgres'), ...args],
          { stdio: 'ignore' },
        )
      : spawn(join(bin, 'postgres'), args, { stdio: 'ignore' });
    await waitForPort(port, 'postgres');
    await new Promise((r) => setTimeout(r, 300));
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGINT'); // fast shutdown
    });
  };
  await start();
  return { url: `postgres://posture@127.0.0.1:${port}/postgres`, start, stop };
}

/**
 * A PostgreSQL for the enclosing `describe`: started before its tests, stopped after them. Its `url`
 * is read inside tests (it exists once `beforeAll` has run).
 */
export function postgresForSuite(): Postgres {
  let pg: Postgres | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });
  const started = (): Postgres => {
    if (!pg) throw new Error('PostgreSQL is not started yet: use it inside a test or a hook');
    return pg;
  };
  return {
    get url() {
      return started().url;
    },
    start: () => started().start(),
    stop: () => started().stop(),
  };
}
