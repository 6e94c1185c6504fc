// Helpers shared by the service benchmarks: table rows, quantiles, loopback ports, process CPU.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const row = (name, value, note = '') =>
  console.log(`${name.padEnd(52)} ${String(value).padEnd(22)} ${note}`);
export const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
export const median = (values) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

const up = (port) =>
  new Promise((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });

export async function waitPort(port) {
  for (let i = 0; i < 300; i++) {
    if (await up(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 15 s`);
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The processes whose parent is `pid` (nginx's workers under its master). */
export function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const PG_ROOT = '/usr/lib/postgresql';

/** A throwaway PostgreSQL from Debian's package on a loopback port, or undefined when none is installed. */
export async function startPostgres() {
  if (!existsSync(PG_ROOT)) return undefined;
  const bin = join(PG_ROOT, readdirSync(PG_ROOT).sort().at(-1), 'bin');
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  chmodSync(dir, 0o700);
  const root = process.getuid?.() === 0;
  if (root)
    chownSync(
      dir,
      Number(execFileSync('/usr/bin/id', ['-u', 'postgres']).toString()),
      Number(execFileSync('/usr/bin/id', ['-g', 'postgres']).toString()),
    );
  const as = (cmd, args) =>
    root
      ? ['/usr/bin/setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]]
      : [cmd, args];
  execFileSync(
    ...as(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'posture', '--auth=trust', '--no-sync']),
    {
      stdio: 'ignore',
    },
  );
  const port = await freePort();
  const pg = spawn(
    ...as(join(bin, 'postgres'), [
      '-D',
      join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  await waitPort(port);
  await sleep(500);
  return { url: `postgres://posture@127.0.0.1:${port}/postgres`, stop: () => pg.kill('SIGINT') };
}

/** A throwaway redis-server on a loopback port, or undefined when none is installed. */
export async function startRedis() {
  if (!existsSync('/usr/bin/redis-server')) return undefined;
  const port = await freePort();
  const redis = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await waitPort(port);
  return { url: `redis://127.0.0.1:${port}`, pid: redis.pid, stop: () => redis.kill('SIGTERM') };
}
