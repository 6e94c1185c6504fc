/**
 * What the drift-to-denial tests share, whatever verifier stands behind nginx (SQLite, or replicas
 * on PostgreSQL + Redis): a network namespace with a real default-drop nftables ruleset, a bridge
 * from the namespace's loopback to a Unix socket and on to a verifier (so the host's network is never
 * touched; the ruleset accepts loopback, so the bridge works whatever it says about the rest), the
 * built `posture daemon` enrolled from inside the namespace with a file key, its JSON log lines, a
 * client's attestation made with the daemon's key and configuration (through the agent core, as
 * `posture headers` makes it), and the drift and way back asserted through nginx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent } from '../../../src/agent/agent.js';
import type { Attestation } from '../../../src/attest/attestation.js';
import { postureHeaders } from '../../../src/attest/headers.js';
import { validatePolicy } from '../../../src/shared/policy.js';
import type { StatusResponse } from '../../../src/shared/local-api.js';
import { createNamespaceHost, createNetns, IP } from '../../fakes/namespace-host.js';
import { CLI, posture } from '../../helpers/cli.js';
import { testConfig } from '../../helpers/config.js';
import { admin, caller, type Caller } from '../../helpers/service.js';
import { daemonEnv as sharedDaemonEnv, startDaemon, waitFor, type DaemonLogLine } from './daemon-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BRIDGE = join(HERE, '..', '..', 'fakes', 'unix-bridge.mjs');

/** Default drop on input; loopback (the bridge to the verifier) accepted. */
export const DROP =
  'table inet f {\n chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }\n}\n';

/** This machine passes it inside the namespace except for what the test changes: the firewall. */
export const DRIFT_POLICY = validatePolicy({
  version: 1,
  revision: 'drift-to-denial',
  checks: {
    firewall: { required: true },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
});

/** One line of the daemon's log. */
export type LogLine = DaemonLogLine;

export { waitFor };

/** Starts the bridge inside the namespace; resolves with its port there. */
function startBridge(ns: string, socket: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(IP, ['netns', 'exec', ns, process.execPath, BRIDGE, socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`unix-bridge exited ${code}`)));
    child.stdout?.once('data', (chunk: Buffer) => resolve({ port: Number(chunk.toString().trim()), child }));
  });
}

/**
 * The socket end outside: each connection goes to the verifier, from an address that is no proxy's.
 * `close` also cuts the connections open (the daemon's keep-alive ones): the verifier out of reach.
 */
async function socketToVerifier(socket: string, verifierPort: number) {
  const open = new Set<Socket>();
  const server = createServer((c) => {
    const v = connect({ host: '127.0.0.1', port: verifierPort, localAddress: '127.0.0.9' });
    open.add(c).add(v);
    c.pipe(v).pipe(c);
    c.on('error', () => v.destroy());
    v.on('error', () => c.destroy());
    c.on('close', () => open.delete(c));
    v.on('close', () => open.delete(v));
  });
  await new Promise<void>((resolve) => server.listen(socket, () => resolve()));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}

/** The namespace side: the namespace under DROP, a temporary folder and the bridge out of it. */
export interface DriftRig {
  ns: ReturnType<typeof createNetns>;
  dir: string;
  /** The verifier as the daemon sees it: the bridge's address in the namespace. */
  publicUrl: string;
  /** Leads the bridge to the verifier on `port` (the one the daemon pushes to). */
  connect(port: number): Promise<void>;
  /** Cuts the bridge's link to the verifier: the verifier out of the daemon's reach. */
  disconnect(): Promise<void>;
  /** Stops the daemon (if any), the bridge, and removes the namespace and the folder. */
  remove(): Promise<void>;
  daemon?: ChildProcess;
}

export async function openDriftRig(name: string): Promise<DriftRig> {
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const ns = createNetns(`pa-${name}-${id}`);
  const dir = mkdtempSync(join(tmpdir(), `pa-${name}-${id}-`));
  let bridge: ChildProcess | undefined;
  let outside: { close(): Promise<void> } | undefined;
  const socket = join(dir, 'verifier.sock');
  const rig: DriftRig = {
    ns,
    dir,
    publicUrl: '',
    async connect(port) {
      outside = await socketToVerifier(socket, port);
    },
    async disconnect() {
      await outside?.close();
      outside = undefined;
    },
    async remove() {
      if (rig.daemon && rig.daemon.exitCode === null) rig.daemon.kill('SIGKILL');
      bridge?.kill('SIGTERM');
      await rig.disconnect();
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    ns.run(IP, ['link', 'set', 'lo', 'up']);
    ns.nft(DROP);
    const inside = await startBridge(ns.name, socket);
    bridge = inside.child;
    rig.publicUrl = `http://127.0.0.1:${inside.port}`;
    return rig;
  } catch (error) {
    await rig.remove();
    throw error;
  }
}

/** The built daemon's environment in `dir` (daemon-process.ts), attesting for `audience`. */
export function daemonEnv(dir: string, audience: string): NodeJS.ProcessEnv {
  return sharedDaemonEnv(dir, { POSTURE_AUDIENCE: audience });
}

/** The running daemon and what a test asks of it. */
export interface DriftDaemon {
  deviceId: string;
  env: NodeJS.ProcessEnv;
  logs: LogLine[];
  exited: Promise<number | null>;
  /** `posture status --json`, or undefined when it does not answer. */
  status(): Promise<StatusResponse | undefined>;
  /** The daemon's pushes of new attestations (not heartbeats). */
  pushes(): LogLine[];
  /** Once the daemon's newest attestation is the newest at `verifier` (its admin API): its iat in ms. */
  settled(verifier: Caller): Promise<number>;
  /** An attestation with the daemon's key, configuration and namespace, issued after `afterMs`'s second. */
  clientAttestation(afterMs: number): Promise<Attestation>;
}

/**
 * Enrolls from inside the namespace with `token` (through the bridge, under DROP) and starts the
 * built daemon there (`daemonEnv`). Resolves once it says the firewall is on and its startup push was accepted.
 */
export async function startDriftDaemon(rig: DriftRig, token: string, audience: string): Promise<DriftDaemon> {
  const { dir, ns } = rig;
  const env = daemonEnv(dir, audience);
  const enrolled = await posture(
    [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      CLI,
      'enroll',
      '--server',
      rig.publicUrl,
      '--token',
      token,
      '--json',
    ],
    env,
    IP,
  );
  expect(enrolled.code).toBe(0);
  const deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;

  const running = startDaemon({ env, wrap: [IP, 'netns', 'exec', ns.name] });
  rig.daemon = running.child;
  const { logs, status } = running;
  const exited = running.exited.then((end) => end.code);
  const pushes = () => logs.filter((l) => l.event === 'push' && l.heartbeat === false);
  const d: DriftDaemon = {
    deviceId,
    env,
    logs,
    exited,
    status,
    pushes,
    settled: (verifier) =>
      waitFor('the daemon’s newest attestation at the verifier', async () => {
        const signed = logs.filter((l) => l.event === 'attestation').at(-1)?.jti;
        const newest = (
          (
            await verifier({ method: 'GET', url: `/v1/admin/devices/${deviceId}`, headers: admin })
          ).json() as {
            newestAttestation: { jti: string; issuedAt: string } | null;
          }
        ).newestAttestation;
        return signed && newest?.jti === signed ? Date.parse(newest.issuedAt) : undefined;
      }),
    async clientAttestation(afterMs) {
      while (Date.now() < afterMs + 1000) await new Promise((r) => setTimeout(r, 100));
      const config = testConfig({
        stateDir: env.POSTURE_STATE_DIR as string,
        cacheDir: join(dir, 'client-cache'),
        keyStore: 'file',
        keyFile: env.POSTURE_KEY_FILE as string,
        audience,
      });
      return createAgent({ config, host: createNamespaceHost(ns.name) }).attest({ audience });
    },
  };

  // Started: firewall on, the startup attestation pushed and accepted.
  const first = await waitFor('firewall_on', async () => {
    const s = await status();
    return s?.status.posture?.checks.find((c) => c.check === 'firewall')?.code === 'firewall_on'
      ? s
      : undefined;
  });
  expect(first.status.enrollment).toMatchObject({ enrolled: true, deviceId });
  const accepted = await waitFor('the first push', () => pushes().find((l) => l.outcome === 'accepted'));
  expect(accepted).toMatchObject({ allowed: true, reasons: [] });
  expect(logs.some((l) => l.event === 'push_skipped')).toBe(false);

  // nft monitor subscribes a moment after it starts: touch the ruleset until an event re-check is logged.
  await waitFor('an nft event re-check', async () => {
    if (logs.some((l) => l.event === 'recheck' && l.trigger?.includes('firewall_ruleset'))) return true;
    ns.nft(`table ip warmup${randomBytes(3).toString('hex')} { }\n`);
    await new Promise((r) => setTimeout(r, 500));
    return undefined;
  });
  return d;
}

/** A request to nginx at `base` for an application path, with `a` and a fresh proof. */
export function viaNginx(base: string, a: Attestation) {
  const url = `${base}/payroll/2026`;
  return caller(base)({ method: 'GET', url: '/payroll/2026', headers: postureHeaders(a, 'GET', url) });
}

/**
 * The flow itself. `pushedTo` is the admin API of the verifier the daemon pushes to; nginx at `base`
 * asks its own (the same one, or another replica). A client's attestation newer than the daemon's
 * last push is let through; the ruleset emptied → the daemon re-checks from the nft event, signs and
 * pushes a failing posture; the client's unexpired attestation is denied `attestation_superseded`
 * through nginx. The ruleset restored → a fresh attestation is let through, the old one stays denied.
 */
export async function driftToDenialAndBack(rig: DriftRig, d: DriftDaemon, pushedTo: Caller, base: string) {
  const old = await d.clientAttestation(await d.settled(pushedTo));
  const before = await viaNginx(base, old);
  expect(before.statusCode).toBe(200);
  expect(JSON.parse(before.body)).toMatchObject({ upstream: true, device: d.deviceId });

  // The drift: default-drop → empty.
  const pushedBefore = d.pushes().length;
  rig.ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
  const denial = await waitFor('the daemon’s push of the failing posture', () =>
    d
      .pushes()
      .slice(pushedBefore)
      .find((l) => l.outcome === 'accepted' && l.allowed === false),
  );
  expect(denial.reasons).toContain('posture_failed:firewall');
  const driftLog = d.logs.find((l) =>
    l.changes?.some((c) => c.check === 'firewall' && c.to === 'fail:firewall_off'),
  );
  expect(driftLog?.trigger).toEqual(['firewall_ruleset']);
  expect(driftLog?.attestation).toBe('issued');

  // Through nginx, whichever verifier it asks: generous, the other replica learns it by notification.
  const after = await waitFor(
    'the old attestation denied through nginx',
    async () => {
      const r = await viaNginx(base, old);
      return r.statusCode === 200 ? undefined : r;
    },
    30_000,
  );
  expect(after.statusCode).toBe(401);
  expect(after.body).toContain('data-code="attestation_superseded"');
  expect(old.expiresAt).toBeGreaterThan(Date.now());
  const drifted = await d.status();
  expect(drifted?.status.posture?.overall).toBe('fail');
  expect(drifted?.status.problems.map((p) => p.code)).not.toContain('verifier_unreachable');
  // The status says what the verifier decided on the pushed posture: what the proxy decides.
  expect(drifted?.status.verifier?.lastDecision).toMatchObject({ allowed: false });
  expect(drifted?.status.verifier?.lastDecision?.reasons).toContain('posture_failed:firewall');

  // And back: the daemon pushes a passing posture; a fresh attestation is allowed, the old one not.
  const pushedDrift = d.pushes().length;
  rig.ns.nft(DROP);
  await waitFor('the daemon’s push of the passing posture', () =>
    d
      .pushes()
      .slice(pushedDrift)
      .find((l) => l.outcome === 'accepted' && l.allowed === true),
  );
  const fresh = await d.clientAttestation(await d.settled(pushedTo));
  expect((await viaNginx(base, fresh)).statusCode).toBe(200);
  const stale = await viaNginx(base, old);
  expect(stale.statusCode).toBe(401);
  expect(stale.body).toContain('data-code="attestation_superseded"');
}
