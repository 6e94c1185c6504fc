/**
 * `posture daemon` (the built CLI) running inside a network namespace with a real nftables
 * ruleset, asked through its socket with `posture status --json` (and followed on its status
 * stream): emptying a default-drop ruleset shows the firewall failing, re-checked because of the
 * nft event (the poll is set to once a year, so it cannot be the poll); restoring it shows the
 * firewall on again. SIGHUP reloads,
 * SIGTERM stops cleanly, and `posture status` then says no daemon runs (exit 11).
 */
import { request, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusEventSchema, type StatusEvent, type StatusResponse } from '../../../src/shared/local-api.js';
import { canUseNetns, createNetns, IP } from '../../fakes/namespace-host.js';
import { assertBuilt, posture } from '../../helpers/cli.js';
import { daemonEnv, startDaemon, waitFor, type RunningDaemon } from './daemon-process.js';
import { describeWithPart, executable } from './real-parts.js';

const DROP = 'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n';

const firewallOf = (s: StatusResponse | undefined) =>
  s?.status.posture?.checks.find((c) => c.check === 'firewall');

describe('posture status without a daemon', () => {
  beforeAll(assertBuilt);

  it('exits 11 with ERR_DAEMON_NOT_RUNNING', async () => {
    const dir = mkdtempSync(join(tmpdir(), `pa-nodaemon-${process.pid}-`));
    try {
      const r = await posture(['status', '--json'], daemonEnv(dir));
      expect(r.code).toBe(11);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ERR_DAEMON_NOT_RUNNING');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWithPart(canUseNetns() && executable('/usr/sbin/nft'), 'root, ip netns and /usr/sbin/nft')(
  'posture daemon in a network namespace',
  () => {
    beforeAll(assertBuilt);

    it('shows the firewall fail from the nft event, and on again when the ruleset returns', async () => {
      const ns = createNetns(`pa-daemon-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
      const dir = mkdtempSync(join(tmpdir(), `pa-daemon-${process.pid}-`));
      // the socket's folder (dir/run) is made writable by its owner only (else ERR_SOCKET_DIR_UNSAFE)
      const env = daemonEnv(dir);
      let daemon: RunningDaemon | undefined;
      let stream: IncomingMessage | undefined;
      const events: StatusEvent[] = [];
      try {
        ns.nft(DROP);
        daemon = startDaemon({ env, wrap: [IP, 'netns', 'exec', ns.name] });
        const logs = daemon.logs;
        const status = () => daemon!.status();

        // the first re-check (startup) judges the default-drop ruleset: firewall on
        const first = await waitFor('the first status', async () => {
          const s = await status();
          return firewallOf(s) ? s : undefined;
        });
        expect(firewallOf(first)?.code).toBe('firewall_on');
        expect(first.status.attestation).not.toBeNull();
        const text = await posture(['status'], env);
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(/firewall\s+pass\s+firewall_on/);

        // a subscriber of the status stream, as the tray will be
        stream = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = request({ socketPath: env.POSTURE_SOCKET as string, path: '/v1/events' }, resolve);
          req.on('error', reject);
          req.end();
        });
        let frames = '';
        stream.on('data', (chunk: Buffer) => {
          frames += chunk.toString('utf8');
          const parts = frames.split('\n\n');
          frames = parts.pop() ?? '';
          for (const f of parts.filter((x) => x.startsWith('event: status')))
            events.push(statusEventSchema.parse(JSON.parse(f.split('\ndata: ')[1] ?? '')));
        });

        // nft monitor subscribes a moment after it starts: touch the ruleset until an event re-check is logged
        await waitFor('an nft event re-check', async () => {
          if (logs.some((l) => l.event === 'recheck' && l.trigger?.includes('firewall_ruleset'))) return true;
          ns.nft(`table ip warmup${Math.random().toString(36).slice(2, 8)} { }\n`);
          await new Promise((r) => setTimeout(r, 500));
          return undefined;
        });

        // the drift: default-drop → empty
        ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
        const drifted = await waitFor('firewall_off', async () => {
          const s = await status();
          return firewallOf(s)?.code === 'firewall_off' ? s : undefined;
        });
        expect(firewallOf(drifted)?.verdict).toBe('fail');
        expect(drifted.status.lastRecheck?.trigger).toBe('firewall_ruleset');
        expect(drifted.status.lastRecheck?.checks).toEqual(['firewall']);
        const driftLog = logs.find((l) =>
          l.changes?.some((c) => c.check === 'firewall' && c.to === 'fail:firewall_off'),
        );
        expect(driftLog?.trigger).toEqual(['firewall_ruleset']);
        expect(driftLog?.attestation).toBe('issued');
        const streamed = await waitFor('the drift on the status stream', () =>
          events.find(
            (e) => e.status.posture?.checks.find((c) => c.check === 'firewall')?.code === 'firewall_off',
          ),
        );
        expect(streamed.status.lastRecheck?.trigger).toBe('firewall_ruleset');

        // and back
        ns.nft(DROP);
        const restored = await waitFor('firewall_on again', async () => {
          const s = await status();
          return firewallOf(s)?.code === 'firewall_on' ? s : undefined;
        });
        expect(restored.status.lastRecheck?.trigger).toBe('firewall_ruleset');

        // SIGHUP reloads the configuration; SIGTERM stops cleanly
        daemon.child.kill('SIGHUP');
        await waitFor(
          'a reload',
          () => (logs.some((l) => l.event === 'reloaded') ? true : undefined),
          30_000,
        );
        daemon.child.kill('SIGTERM');
        expect((await daemon.exited).code).toBe(0);
        expect(logs.some((l) => l.event === 'stopped')).toBe(true);
        const after = await posture(['status', '--json'], env);
        expect(after.code).toBe(11);
      } finally {
        stream?.destroy();
        await daemon?.kill9();
        ns.remove();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 300_000);
  },
);
