// The parts the daemon benchmarks drive, all real: the built `posture daemon` in a network namespace
// of its own under a real nftables ruleset, enrolled with a file key; the verifier as a process (one
// on SQLite, or two replicas on PostgreSQL + Redis: the daemon pushes to the first, nginx asks the
// second); nginx auth_request in front. The daemon reaches its verifier through a Unix-socket bridge
// (test/fakes/unix-bridge.mjs), so the host's network is never touched; the ruleset accepts loopback.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { promisify } from 'node:util';
import { fileStore } from '../dist/keys/file-store.js';
import { freePort, startPostgres, startRedis } from './lib.js';
import { startNginx } from './nginx.js';
import { startVerifier } from './verifier-process.js';

export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');
const BRIDGE = join(process.cwd(), 'test', 'fakes', 'unix-bridge.mjs');

/**
 * The environment the systemd unit gives the daemon (`Environment="NAME=value"` lines: its V8 and
 * malloc settings), so the daemon is measured as it runs installed; BENCH_DAEMON_ENV (JSON, e.g.
 * {"NODE_OPTIONS":""}) overrides some of it, to compare settings.
 */
export const DAEMON_ENV = { ...unitEnvironment(), ...JSON.parse(process.env.BENCH_DAEMON_ENV ?? '{}') };

function unitEnvironment() {
  const unit = readFileSync(join(process.cwd(), 'installer', 'linux', 'posture-agent.service'), 'utf8');
  const env = {};
  for (const [, name, value] of unit.matchAll(/^Environment="?([A-Z_]+)=([^"\n]*)"?$/gm)) env[name] = value;
  return env;
}

/** Default drop on input; loopback (the bridge to the verifier) accepted. */
export const DROP =
  'table inet f {\n chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }\n}\n';

/** Only the firewall decides (what the benchmark switches); the rest of this machine does not matter. */
const POLICY = {
  version: 1,
  revision: 'bench-drift',
  checks: {
    firewall: { required: true },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
};

/** What is missing for the daemon benchmarks, or undefined when all is here. */
export function missingParts() {
  if (process.getuid?.() !== 0) return 'not root (network namespaces)';
  for (const p of [IP, NFT, '/usr/sbin/nginx']) if (!existsSync(p)) return `${p} is not installed`;
  return undefined;
}

function namespace(name) {
  execFileSync(IP, ['netns', 'add', name], { stdio: 'ignore' });
  const run = (cmd, args, input) =>
    execFileSync(IP, ['netns', 'exec', name, cmd, ...args], { input, stdio: ['pipe', 'pipe', 'inherit'] });
  run(IP, ['link', 'set', 'lo', 'up']);
  return {
    name,
    run,
    nft: (script) => run(NFT, ['-f', '-'], script),
    remove: () => execFileSync(IP, ['netns', 'del', name], { stdio: 'ignore' }),
  };
}

/** The bridge inside the namespace; resolves with its port there. */
function startBridge(ns, socket) {
  const child = spawn(IP, ['netns', 'exec', ns, process.execPath, BRIDGE, socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (chunk) => resolve({ port: Number(chunk.toString().trim()), child }));
  });
}

/** The socket's end outside: each connection to the verifier, from 127.0.0.9 (no proxy's address). */
async function socketToVerifier(socket, port) {
  const open = new Set();
  const server = createServer((c) => {
    const v = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
    open.add(c).add(v);
    c.pipe(v).pipe(c);
    c.on('error', () => v.destroy());
    v.on('error', () => c.destroy());
    c.on('close', () => open.delete(c));
    v.on('close', () => open.delete(v));
  });
  await new Promise((resolve) => server.listen(socket, resolve));
  return () => {
    server.close();
    for (const s of open) s.destroy();
  };
}

/** The daemon's JSON log lines as they come, each with its arrival time; `next` waits for one. */
function followLog(child) {
  const lines = [];
  const waiters = new Set();
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const text of parts) {
      const line = { ...JSON.parse(text), arrivedAt: performance.now() };
      lines.push(line);
      for (const w of waiters) if (w.match(line)) w.done(line);
    }
  });
  return {
    lines,
    /** The first line from now on for which `match` holds. */
    next(what, match, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const w = {
          match,
          done: (line) => {
            clearTimeout(w.timer);
            waiters.delete(w);
            resolve(line);
          },
        };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
        }, ms);
        waiters.add(w);
      });
    },
  };
}

/**
 * Starts every part. `stores`: 'sqlite' or 'postgres' (two replicas on PostgreSQL + Redis: the daemon
 * pushes to A, nginx asks B). Resolves once the daemon's startup attestation was accepted.
 */
export async function startRig(stores) {
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `bench-daemon-${id}-`));
  const stops = [];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ns = namespace(`pa-bench-${id}`);
    stops.push(() => ns.remove());
    ns.nft(DROP);
    const socket = join(dir, 'verifier.sock');
    const bridge = await startBridge(ns.name, socket);
    stops.push(() => bridge.child.kill('SIGTERM'));
    const publicUrl = `http://127.0.0.1:${bridge.port}`;
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(POLICY));
    const nginxPort = await freePort();
    const base = `http://127.0.0.1:${nginxPort}`;
    let backing;
    if (stores === 'postgres') {
      const pg = await startPostgres();
      const redis = await startRedis();
      stops.push(
        () => pg?.stop(),
        () => redis?.stop(),
      );
      if (!pg || !redis) throw new Error('postgresql or redis-server is not installed');
      backing = {
        store: { type: 'postgres', url: pg.url },
        replay: { type: 'redis', url: redis.url },
      };
    } else backing = { store: { type: 'sqlite', path: join(dir, 'devices.db') } };
    const common = { dir, stores: backing, audiences: [base], publicUrl, policyFile };
    const pushed = await startVerifier({ ...common, name: 'verifier-a' });
    stops.push(() => pushed.stop());
    const asked = stores === 'postgres' ? await startVerifier({ ...common, name: 'verifier-b' }) : pushed;
    if (asked !== pushed) stops.push(() => asked.stop());
    stops.push(await socketToVerifier(socket, pushed.port));
    const nginx = await startNginx({ port: nginxPort, verifierPort: asked.port });
    stops.push(() => nginx.stop());

    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    const configFile = join(dir, 'config.json');
    // The poll runs once a year: every re-check measured here comes from an nft event.
    writeFileSync(
      configFile,
      JSON.stringify({ schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['firewall'] }] } }),
    );
    const keyFile = join(dir, 'device-key.json');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      NODE_OPTIONS: '',
      POSTURE_CONFIG: configFile,
      POSTURE_CACHE_DIR: join(dir, 'cache'),
      POSTURE_STATE_DIR: join(dir, 'state'),
      POSTURE_KEY_STORE: 'file',
      POSTURE_KEY_FILE: keyFile,
      POSTURE_AUDIENCE: base,
      POSTURE_SOCKET: join(dir, 'run', 'api.sock'),
    };
    // Not execFileSync: the socket's end outside is served by this process.
    const { stdout: enrolled } = await promisify(execFile)(
      IP,
      [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        CLI,
        'enroll',
        '--server',
        publicUrl,
        '--token',
        await pushed.enrollmentToken(),
        '--json',
      ],
      { env, encoding: 'utf8' },
    );
    const deviceId = JSON.parse(enrolled).deviceId;
    // `ip netns exec` execs the command in place: the child's pid is the daemon's own.
    const daemon = spawn(IP, ['netns', 'exec', ns.name, process.execPath, CLI, 'daemon'], {
      env: { ...env, ...DAEMON_ENV },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    stops.push(
      () =>
        new Promise((resolve) => {
          if (daemon.exitCode !== null) return resolve();
          daemon.once('exit', resolve);
          daemon.kill('SIGTERM');
        }),
    );
    const log = followLog(daemon);
    await log.next('the startup push', (l) => l.event === 'push' && l.outcome === 'accepted', 120_000);
    const key = await fileStore().open(keyFile, new Date().toISOString());
    return { ns, dir, base, deviceId, key, daemon, log, pushed, asked, nginx, stores, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Touches the ruleset until the daemon logs a re-check from an nft event (nft monitor subscribes a moment after it starts). */
export async function waitForNftEvents(rig) {
  for (let i = 0; i < 60; i++) {
    const seen = rig.log.next(
      'an nft event re-check',
      (l) => l.event === 'recheck' && l.trigger?.includes('firewall_ruleset'),
      1000,
    );
    rig.ns.nft(`table ip warmup${i} { }\ndelete table ip warmup${i}\n`);
    try {
      return await seen;
    } catch {
      // not subscribed yet
    }
  }
  throw new Error('the daemon never re-checked from an nft event');
}
