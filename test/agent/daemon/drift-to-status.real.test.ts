/**
 * The building blocks joined the way the daemon will join them, on real parts: a network
 * namespace with a default-drop nftables ruleset, `nft monitor` → debouncer → the real firewall
 * probe in that namespace → status → the local API's server-sent stream. Switching the ruleset to
 * empty must reach a subscriber as a failing firewall, triggered by the event (not a poll). The
 * glue below is test code: the daemon command (next change) owns it in src/.
 */
import { request, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDebouncer } from '../../../src/agent/daemon/events/debounce.js';
import { nftMonitorSource } from '../../../src/agent/daemon/events/nft-monitor.js';
import { createLocalApiServer } from '../../../src/agent/daemon/local-api-server.js';
import { rootIsAdministrator } from '../../../src/agent/daemon/peer-credentials.js';
import { peerResolverFor } from '../../../src/agent/daemon/peer-resolver.js';
import { linuxFirewall } from '../../../src/probes/firewall/linux.js';
import { execCommand } from '../../../src/host/exec.js';
import { runProbe } from '../../../src/probes/run.js';
import { evaluatePosture } from '../../../src/shared/evaluate.js';
import type { DaemonStatus, StatusEvent, TriggerSource } from '../../../src/shared/local-api.js';
import { recheckResponseSchema, statusEventSchema } from '../../../src/shared/local-api.js';
import { DEFAULT_POLICY } from '../../../src/shared/policy.js';
import type { CheckResult, FirewallObservation } from '../../../src/shared/posture.js';
import { canUseNetns, createNamespaceHost, createNetns, IP } from '../../fakes/namespace-host.js';
import { callApi } from './local-api-client.js';
import { describeWithPart, executable } from './real-parts.js';

const DROP = 'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n';

const describeReal = describeWithPart(
  canUseNetns() && executable('/usr/sbin/nft'),
  'root, ip netns and /usr/sbin/nft',
);

describeReal('ruleset switch → nft event → debounced probe → status stream', () => {
  it('a subscriber sees the firewall fail after the ruleset is emptied, triggered by the event', async () => {
    const ns = createNetns(`pa-drift-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    const dir = await mkdtemp(join(tmpdir(), `pa-drift-${process.pid}-`));
    const socketPath = join(dir, 'api.sock');
    const host = createNamespaceHost(ns.name);
    const startedAt = new Date().toISOString();
    let status: DaemonStatus = {
      state: 'starting',
      startedAt,
      agentVersion: '0.1.0',
      posture: null,
      lastRecheck: null,
      attestation: null,
      enrollment: { enrolled: false },
      problems: [],
    };
    const server = createLocalApiServer({
      socketPath,
      resolvePeer: peerResolverFor('linux', execCommand),
      isAdministrator: rootIsAdministrator,
      handlers: {
        status: () => status,
        recheck: async (req) =>
          debouncer.trigger({
            source: 'request',
            checks: req.checks ?? ['firewall'],
            at: new Date().toISOString(),
            detail: 'local API',
          }),
        enroll: async () => ({ deviceId: 'x', keyProtection: 'file' }),
        rotate: async () => ({ keyId: 'x' }),
        reload: async () => ({ reloadedAt: new Date().toISOString(), changed: [] }),
        attestation: async () => Promise.reject(new Error('not served here')),
        headers: async () => Promise.reject(new Error('not served here')),
      },
    });
    const debouncer = createDebouncer({
      // long enough that the two re-check calls below land in one window even on a loaded machine
      // (each local API call also resolves its peer through ss)
      quietMs: 1_500,
      maxWaitMs: 5_000,
      run: async (batch) => {
        const result = (await runProbe(host, linuxFirewall)) as CheckResult<FirewallObservation>;
        const evaluation = evaluatePosture({ firewall: result }, DEFAULT_POLICY, 'linux', new Date());
        const firewall = evaluation.checks.filter((c) => c.check === 'firewall');
        status = {
          ...status,
          state: 'running',
          posture: {
            overall: firewall[0]?.verdict === 'pass' ? 'pass' : 'fail',
            policyRevision: evaluation.policyRevision,
            evaluatedAt: evaluation.evaluatedAt,
            checks: firewall.map((c) => ({ ...c, observedAt: result.observedAt })),
          },
          lastRecheck: {
            trigger: batch.triggers[0]?.source ?? ('schedule' as TriggerSource),
            checks: batch.checks,
            finishedAt: new Date().toISOString(),
          },
        };
        server.publishStatus(status);
      },
    });
    const nft = nftMonitorSource({
      command: IP,
      args: ['netns', 'exec', ns.name, '/usr/sbin/nft', 'monitor'],
      onTrigger: (t) => debouncer.trigger(t),
    });
    let stream: IncomingMessage | undefined;
    try {
      ns.nft(DROP);
      await server.listen();
      await nft.start();
      stream = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({ socketPath, path: '/v1/events' }, resolve);
        req.on('error', reject);
        req.end();
      });
      const events: StatusEvent[] = [];
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const frames = buffered.split('\n\n');
        buffered = frames.pop() ?? '';
        for (const f of frames.filter((x) => x.startsWith('event: status'))) {
          events.push(statusEventSchema.parse(JSON.parse(f.split('\ndata: ')[1] ?? '')));
        }
      });
      const firewallCode = (e: StatusEvent) => e.status.posture?.checks[0]?.code;

      // nft subscribes a moment after it starts: touch the ruleset until a re-check comes through
      for (let i = 0; !events.some((e) => firewallCode(e) === 'firewall_on'); i++) {
        if (i > 100) throw new Error('no event-driven re-check came through');
        ns.nft(`table ip warmup${i} { }\n`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(events[0]?.status.state).toBe('starting');

      // the drift: default-drop → empty
      ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
      await waitFor(() => events.some((e) => firewallCode(e) === 'firewall_off'));
      const drifted = events.find((e) => firewallCode(e) === 'firewall_off');
      expect(drifted?.status.lastRecheck?.trigger).toBe('firewall_ruleset');
      expect(drifted?.status.posture?.overall).toBe('fail');

      // a client's re-check joins one already queued for the same check (once the event-driven
      // re-checks of the warm-up and the flush have all run)
      await waitFor(() => debouncer.pending().length === 0);
      const first = recheckResponseSchema.parse(
        (await callApi(socketPath, 'POST', '/v1/recheck', '{"apiVersion":1}')).body,
      );
      const second = recheckResponseSchema.parse(
        (await callApi(socketPath, 'POST', '/v1/recheck', '{"apiVersion":1}')).body,
      );
      expect(first.coalesced).toBe(false);
      expect(second.coalesced).toBe(true);

      // and back: default-drop again → firewall on
      ns.nft(DROP);
      await waitFor(() => firewallCode(events[events.length - 1] as StatusEvent) === 'firewall_on');
    } finally {
      stream?.destroy();
      debouncer.stop();
      await nft.stop();
      await server.close();
      ns.remove();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
