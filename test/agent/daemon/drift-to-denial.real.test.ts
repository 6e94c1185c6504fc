/**
 * Drift to denial, end to end on real parts: the verifier (SQLite, real HTTP) with nginx
 * (auth_request) in front of an upstream, and the built `posture daemon` running inside a network
 * namespace with a real default-drop nftables ruleset, enrolled with a file key (drift-rig.ts: the
 * namespace, the bridge to the verifier, the daemon, the flow asserted through nginx).
 *
 * A client holds an attestation made with the daemon's key and configuration before the switch and
 * is let through nginx. Emptying the ruleset → the daemon re-checks from the nft event (the poll
 * is once a year), signs, pushes; the next request with the client's still-unexpired attestation is
 * denied (`attestation_superseded`). Restoring the ruleset → the daemon pushes a passing posture
 * and a fresh attestation is allowed again; the old one stays denied. Then the verifier out of
 * reach: `posture status` says so, never a pass. Generous timeouts, no timing assertions (speed is
 * the benchmark's). The same flow against two replicas on PostgreSQL + Redis:
 * drift-to-denial-replicas.real.test.ts.
 */
import { canUseNetns } from '../../fakes/namespace-host.js';
import { nginxAvailable, startNginx, startUpstream, type Running } from '../../fakes/proxies.js';
import { assertBuilt, posture } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import {
  APP_AUDIENCE,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import {
  DRIFT_POLICY,
  driftToDenialAndBack,
  openDriftRig,
  startDriftDaemon,
  waitFor,
  type DriftRig,
} from './drift-rig.js';
import { executable } from './real-parts.js';

describeWith(
  'root, ip netns, /usr/sbin/nft and nginx',
  canUseNetns() && executable('/usr/sbin/nft') && nginxAvailable(),
)('drift to denial: posture daemon → push → verifier → nginx', () => {
  beforeAll(assertBuilt);

  it('a client let through nginx is denied after the firewall is switched off, and a fresh attestation is allowed once it is back', async () => {
    let rig: DriftRig | undefined;
    let upstream: Running | undefined;
    let nginx: Running | undefined;
    let svc: TestService | undefined;
    try {
      rig = await openDriftRig('drift');
      const { publicUrl } = rig;
      svc = await testService({ config: serviceConfig({ publicUrl, audience: [APP_AUDIENCE, publicUrl] }) });
      svc.setPolicy(DRIFT_POLICY);
      await rig.connect(Number(new URL(svc.url).port));
      upstream = await startUpstream();
      nginx = await startNginx(Number(new URL(svc.url).port), upstream.port);
      const base = `http://127.0.0.1:${nginx.port}`;
      svc.config.audience.push(base);

      const daemon = await startDriftDaemon(rig, await enrollmentToken(svc.call), base);
      await driftToDenialAndBack(rig, daemon, svc.call, base);

      // The verifier out of reach: the next push fails and `posture status` says so (never a pass).
      await rig.disconnect();
      rig.ns.run('/usr/sbin/nft', ['flush', 'ruleset']);
      const unreachable = await waitFor('verifier_unreachable in the status', async () => {
        const s = await daemon.status();
        return s?.status.problems.some((p) => p.code === 'verifier_unreachable') ? s : undefined;
      });
      expect(unreachable.status.state).toBe('degraded');
      expect(unreachable.status.posture?.overall).toBe('fail');
      const text = await posture(['status'], daemon.env);
      expect(text.stdout).toMatch(/problem\s+verifier_unreachable/);
      expect(daemon.logs.some((l) => l.event === 'push' && l.outcome === 'unreachable')).toBe(true);

      // SIGTERM stops the daemon and its verifier client (waiting to retry) cleanly.
      rig.daemon?.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      expect(daemon.logs.at(-1)?.event).toBe('stopped');
    } finally {
      await rig?.remove();
      await nginx?.stop();
      await upstream?.stop();
      await svc?.app.close();
    }
  }, 300_000);
});
