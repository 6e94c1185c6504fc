/**
 * Drift to denial, end to end on real parts: the verifier (SQLite, real HTTP) with nginx
 * (auth_request) in front of an upstream, and the built `posture daemon` running inside a network
 * namespace with a real default-drop nftables ruleset, enrolled with a file key. The daemon reaches
 * the verifier through a Unix-socket bridge (the namespace's loopback → a socket file → the
 * verifier), so the host's network is never touched; its ruleset accepts loopback, so the bridge
 * works whatever the ruleset says about the rest.
 *
 * A client holds an attestation made with the daemon's key and configuration before the switch
 * (through the agent core, as `posture headers` makes it: the daemon hands out no attestation) and
 * is let through nginx. Emptying the ruleset → the daemon re-checks from the nft event (the poll
 * is once a year), signs, pushes; the next request with the client's still-unexpired attestation is
 * denied (`attestation_superseded`). Restoring the ruleset → the daemon pushes a passing posture
 * and a fresh attestation is allowed again; the old one stays denied. Generous timeouts, no timing
 * assertions (speed is the benchmark's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent } from '../../../src/agent/agent.js';
import type { Attestation } from '../../../src/attest/attestation.js';
import { postureHeaders } from '../../../src/attest/headers.js';
import { validatePolicy } from '../../../src/shared/policy.js';
import { canUseNetns, createNamespaceHost, createNetns, IP } from '../../fakes/namespace-host.js';
import { nginxAvailable, startNginx, startUpstream, type Running } from '../../fakes/proxies.js';
import { assertBuilt, CLI, posture } from '../../helpers/cli.js';
import { daemonEnv, startDaemon, waitFor, type RunningDaemon } from './daemon-process.js';
import { testConfig } from '../../helpers/config.js';
import { describeWith } from '../../helpers/real-part.js';
import {
  admin,
  APP_AUDIENCE,
  caller,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import { executable } from './real-parts.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BRIDGE = join(HERE, '..', '..', 'fakes', 'unix-bridge.mjs');

/** Default drop on input; loopback (the bridge to the verifier) accepted. */
const DROP =
  'table inet f {\n chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }\n}\n';

/** This machine passes it inside the namespace except for what the test changes: the firewall. */
const POLICY = validatePolicy({
  version: 1,
  revision: 'drift-to-denial',
  checks: {
    firewall: { required: true },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
});

const unique = () => `${process.pid}-${randomBytes(3).toString('hex')}`;

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

describeWith(
  'root, ip netns, /usr/sbin/nft and nginx',
  canUseNetns() && executable('/usr/sbin/nft') && nginxAvailable(),
)('drift to denial: posture daemon → push → verifier → nginx', () => {
  beforeAll(assertBuilt);

  it('a client let through nginx is denied after the firewall is switched off, and a fresh attestation is allowed once it is back', async () => {
    const id = unique();
    const ns = createNetns(`pa-drift-${id}`);
    const dir = mkdtempSync(join(tmpdir(), `pa-drift-${id}-`));
    const socket = join(dir, 'verifier.sock');
    let bridge: ChildProcess | undefined;
    let outside: { close(): Promise<void> } | undefined;
    let upstream: Running | undefined;
    let nginx: Running | undefined;
    let svc: TestService | undefined;
    let daemon: RunningDaemon | undefined;
    try {
      ns.run(IP, ['link', 'set', 'lo', 'up']);
      ns.nft(DROP);
      const inside = await startBridge(ns.name, socket);
      bridge = inside.child;
      // The verifier as the daemon sees it: its public URL is the bridge's address in the namespace.
      const publicUrl = `http://127.0.0.1:${inside.port}`;
      svc = await testService({ config: serviceConfig({ publicUrl, audience: [APP_AUDIENCE, publicUrl] }) });
      svc.setPolicy(POLICY);
      outside = await socketToVerifier(socket, Number(new URL(svc.url).port));
      upstream = await startUpstream();
      nginx = await startNginx(Number(new URL(svc.url).port), upstream.port);
      const base = `http://127.0.0.1:${nginx.port}`;
      svc.config.audience.push(base);

      // The poll runs once a year: a re-check seen here is an event's.
      const env = daemonEnv(dir, { POSTURE_AUDIENCE: base });
      const inNamespace = (args: string[]) =>
        posture(['netns', 'exec', ns.name, process.execPath, CLI, ...args], env, IP);

      // Enrolled from inside the namespace, through the bridge, under the default-drop ruleset.
      const enrolled = await inNamespace([
        'enroll',
        '--server',
        publicUrl,
        '--token',
        await enrollmentToken(svc.call),
        '--json',
      ]);
      expect(enrolled.code).toBe(0);
      const deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;

      daemon = startDaemon({ env, wrap: [IP, 'netns', 'exec', ns.name] });
      const logs = daemon.logs;
      const status = () => daemon!.status();
      const pushes = () => logs.filter((l) => l.event === 'push' && l.heartbeat === false);
      const newestAtVerifier = async () =>
        (
          (
            await svc!.call({ method: 'GET', url: `/v1/admin/devices/${deviceId}`, headers: admin })
          ).json() as { newestAttestation: { jti: string; issuedAt: string } | null }
        ).newestAttestation;
      /** Once the daemon's newest attestation is the verifier's newest: its iat. */
      const settled = () =>
        waitFor('the daemon’s newest attestation at the verifier', async () => {
          const signed = logs.filter((l) => l.event === 'attestation').at(-1)?.jti;
          const newest = await newestAtVerifier();
          return signed && newest?.jti === signed ? Date.parse(newest.issuedAt) : undefined;
        });
      const viaNginx = (a: Attestation) => {
        const url = `${base}/payroll/2026`;
        return caller(base)({ method: 'GET', url: '/payroll/2026', headers: postureHeaders(a, 'GET', url) });
      };
      /** An attestation with the daemon's key, configuration and namespace, issued after `afterMs`'s second. */
      const clientAttestation = async (afterMs: number) => {
        while (Date.now() < afterMs + 1000) await new Promise((r) => setTimeout(r, 100));
        const config = testConfig({
          stateDir: env.POSTURE_STATE_DIR as string,
          cacheDir: join(dir, 'client-cache'),
          keyStore: 'file',
          keyFile: env.POSTURE_KEY_FILE as string,
          audience: base,
        });
        return createAgent({ config, host: createNamespaceHost(ns.name) }).attest({ audience: base });
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

      // The client: an attestation newer than the daemon's last push, let through nginx.
      const old = await clientAttestation(await settled());
      const before = await viaNginx(old);
      expect(before.statusCode).toBe(200);
      expect(JSON.parse(before.body)).toMatchObject({ upstream: true, device: deviceId });

      // The drift: default-drop → empty.
      const pushedBefore = pushes().length;
      ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
      const denial = await waitFor('the daemon’s push of the failing posture', () =>
        pushes()
          .slice(pushedBefore)
          .find((l) => l.outcome === 'accepted' && l.allowed === false),
      );
      expect(denial.reasons).toContain('posture_failed:firewall');
      const driftLog = logs.find((l) =>
        l.changes?.some((c) => c.check === 'firewall' && c.to === 'fail:firewall_off'),
      );
      expect(driftLog?.trigger).toEqual(['firewall_ruleset']);
      expect(driftLog?.attestation).toBe('issued');

      const after = await viaNginx(old);
      expect(after.statusCode).toBe(401);
      expect(after.body).toContain('data-code="attestation_superseded"');
      expect(old.expiresAt).toBeGreaterThan(Date.now());
      const drifted = await status();
      expect(drifted?.status.posture?.overall).toBe('fail');
      expect(drifted?.status.problems.map((p) => p.code)).not.toContain('verifier_unreachable');

      // And back: the daemon pushes a passing posture; a fresh attestation is allowed, the old one not.
      const pushedDrift = pushes().length;
      ns.nft(DROP);
      await waitFor('the daemon’s push of the passing posture', () =>
        pushes()
          .slice(pushedDrift)
          .find((l) => l.outcome === 'accepted' && l.allowed === true),
      );
      const fresh = await clientAttestation(await settled());
      expect((await viaNginx(fresh)).statusCode).toBe(200);
      const stale = await viaNginx(old);
      expect(stale.statusCode).toBe(401);
      expect(stale.body).toContain('data-code="attestation_superseded"');

      // The verifier out of reach: the next push fails and `posture status` says so (never a pass).
      await outside.close();
      outside = undefined;
      ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
      const unreachable = await waitFor('verifier_unreachable in the status', async () => {
        const s = await status();
        return s?.status.problems.some((p) => p.code === 'verifier_unreachable') ? s : undefined;
      });
      expect(unreachable.status.state).toBe('degraded');
      expect(unreachable.status.posture?.overall).toBe('fail');
      const text = await posture(['status'], env);
      expect(text.stdout).toMatch(/problem\s+verifier_unreachable/);
      expect(logs.some((l) => l.event === 'push' && l.outcome === 'unreachable')).toBe(true);

      // SIGTERM stops the daemon and its verifier client (waiting to retry) cleanly.
      daemon.child.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      expect(logs.at(-1)?.event).toBe('stopped');
    } finally {
      await daemon?.kill9();
      bridge?.kill('SIGTERM');
      await outside?.close();
      await nginx?.stop();
      await upstream?.stop();
      await svc?.app.close();
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
