/**
 * Drift to denial through the daemon against two verifier replicas on PostgreSQL + Redis: the built
 * `posture daemon` in a network namespace under a real nftables ruleset (drift-rig.ts) pushes to
 * replica A; nginx (auth_request) in front of the upstream asks replica B. B learns of A's push only
 * through PostgreSQL (its in-memory device cache, kept current by LISTEN/NOTIFY), so a denial through
 * nginx proves that the replicas agree. Switch the ruleset to empty → the client's unexpired
 * attestation is denied `attestation_superseded` through nginx and B; back → a fresh one is allowed.
 * The admin API of B shows the posture A was pushed. Generous timeouts, no timing assertions.
 */
import { canUseNetns } from '../../fakes/namespace-host.js';
import { postgresAvailable, startPostgres, type Postgres } from '../../fakes/postgres.js';
import { nginxAvailable, startNginx, startUpstream, type Running } from '../../fakes/proxies.js';
import { redisAvailable, startRedis, type RedisServer } from '../../fakes/redis.js';
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import {
  admin,
  APP_AUDIENCE,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import { openPostgresStore } from '../../../src/verifier-service/postgres-store.js';
import { openRedisReplayStore } from '../../../src/verifier-service/redis-replay.js';
import {
  DRIFT_POLICY,
  driftToDenialAndBack,
  openDriftRig,
  startDriftDaemon,
  type DriftRig,
} from './drift-rig.js';
import { executable } from './real-parts.js';

describeWith(
  'root, ip netns, /usr/sbin/nft, nginx, postgresql and redis-server',
  canUseNetns() && executable('/usr/sbin/nft') && nginxAvailable() && postgresAvailable() && redisAvailable(),
)('drift to denial with two replicas: posture daemon → push to A → PostgreSQL NOTIFY → B → nginx', () => {
  beforeAll(assertBuilt);

  it('the daemon pushes to replica A; a client let through nginx by replica B is denied there after the firewall is switched off, and allowed again once it is back', async () => {
    let rig: DriftRig | undefined;
    let postgres: Postgres | undefined;
    let redis: RedisServer | undefined;
    let upstream: Running | undefined;
    let nginx: Running | undefined;
    const replicas: TestService[] = [];
    const closers: Array<() => Promise<void>> = [];
    try {
      rig = await openDriftRig('drift-pg');
      postgres = await startPostgres();
      redis = await startRedis();
      const { publicUrl } = rig;
      const replica = async () => {
        const store = await openPostgresStore((postgres as Postgres).url, { listenCheckIntervalMs: 200 });
        const replay = openRedisReplayStore((redis as RedisServer).url);
        closers.push(
          () => store.close(),
          () => replay.close(),
        );
        // Replicas share their configuration: the same public URL, audiences and nonce secret.
        const svc = await testService({
          store,
          replay,
          config: serviceConfig({ publicUrl, audience: [APP_AUDIENCE, publicUrl] }),
        });
        svc.setPolicy(DRIFT_POLICY);
        replicas.push(svc);
        return svc;
      };
      const a = await replica();
      const b = await replica();
      await rig.connect(Number(new URL(a.url).port));
      upstream = await startUpstream();
      nginx = await startNginx(Number(new URL(b.url).port), upstream.port);
      const base = `http://127.0.0.1:${nginx.port}`;
      a.config.audience.push(base);
      b.config.audience.push(base);

      const daemon = await startDriftDaemon(rig, await enrollmentToken(a.call), base);
      await driftToDenialAndBack(rig, daemon, a.call, base);

      // Replica B's admin API shows what the daemon pushed to A: the passing posture, now.
      const shown = (
        await b.call({ method: 'GET', url: `/v1/admin/devices/${daemon.deviceId}`, headers: admin })
      ).json();
      expect(shown.lastPosture).toMatchObject({ overall: 'pass' });
      expect(shown.newestAttestation?.jti).toBe(
        daemon.logs.filter((l) => l.event === 'attestation').at(-1)?.jti,
      );

      rig.daemon?.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
    } finally {
      await rig?.remove();
      await nginx?.stop();
      await upstream?.stop();
      for (const svc of replicas) await svc.app.close();
      for (const close of closers) await close().catch(() => undefined);
      await redis?.stop();
      await postgres?.stop();
    }
  }, 300_000);
});
