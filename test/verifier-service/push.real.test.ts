/**
 * Push and supersede with several replicas on real parts: PostgreSQL (devices, and the LISTEN/NOTIFY
 * channel that keeps each replica's in-memory devices current), Redis (replay), two verifier
 * replicas, and nginx auth_request in front of the second. A push to one replica supersedes the old
 * attestation on both; losing the notification channel drops the cache (reads go to PostgreSQL), so
 * a change made meanwhile is still enforced; PostgreSQL down denies.
 */
import pg from 'pg';
import type { Attestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { openPostgresStore } from '../../src/verifier-service/postgres-store.js';
import { openRedisReplayStore } from '../../src/verifier-service/redis-replay.js';
import type { Postgres } from '../fakes/postgres.js';
import { postgresAvailable, startPostgres } from '../fakes/postgres.js';
import { freePort, nginxAvailable, startNginx, startUpstream, type Running } from '../fakes/proxies.js';
import type { RedisServer } from '../fakes/redis.js';
import { redisAvailable, startRedis } from '../fakes/redis.js';
import { failingFirewall, enrolledDevice } from '../helpers/enrolled-device.js';
import { attestAt, codeOf, forwardAuth, push, PUSH_POLICY } from '../helpers/push.js';
import { describeWith } from '../helpers/real-part.js';
import { admin, caller, testService, type TestService } from '../helpers/service.js';

const ready = postgresAvailable() && redisAvailable() && nginxAvailable();

/** Polls `read` every 50 ms until `done` holds or 5 s pass; returns the last value (asserted by the caller). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !done(value); i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

describeWith('postgresql, redis-server and nginx', ready)(
  'push and supersede: two replicas on PostgreSQL + Redis, nginx in front',
  () => {
    let postgres: Postgres;
    let redis: RedisServer;
    let upstream: Running;
    let nginx: Running;
    let r1: TestService;
    let r2: TestService;
    let base: string;
    const closers: Array<() => Promise<void>> = [];

    const replica = async (port?: number) => {
      const store = await openPostgresStore(postgres.url, { listenCheckIntervalMs: 200 });
      const replay = openRedisReplayStore(redis.url);
      closers.push(
        () => store.close(),
        () => replay.close(),
      );
      const svc = await testService({ store, replay, ...(port ? { port } : {}) });
      svc.setPolicy(PUSH_POLICY);
      return svc;
    };

    beforeAll(async () => {
      postgres = await startPostgres();
      redis = await startRedis();
      upstream = await startUpstream();
      r1 = await replica();
      r2 = await replica(await freePort());
      nginx = await startNginx(Number(new URL(r2.url).port), upstream.port);
      base = `http://127.0.0.1:${nginx.port}`;
      // Attestations for the application behind nginx are accepted by both replicas.
      r1.config.audience.push(base);
      r2.config.audience.push(base);
    }, 120_000);

    afterAll(async () => {
      await r1?.app.close();
      await r2?.app.close();
      for (const close of closers) await close().catch(() => undefined);
      await nginx?.stop();
      await upstream?.stop();
      await redis?.stop();
      await postgres?.stop();
    });

    const viaNginx = async (a: Attestation) => {
      const url = `${base}/payroll/2026`;
      return caller(base)({ method: 'GET', url: '/payroll/2026', headers: postureHeaders(a, 'GET', url) });
    };

    it('A1 allowed on both; after A2 (firewall off) pushed to one, A1 is superseded on both and A2 fails; A3 allowed again', async () => {
      const device = await enrolledDevice(r1);
      const a1 = await attestAt(device, 30, undefined, base);
      expect((await push(r1.call, a1)).statusCode).toBe(200);
      expect((await forwardAuth(r1.call, a1, `${base}/x`)).statusCode).toBe(200);
      expect((await viaNginx(a1)).statusCode).toBe(200);

      const a2 = await attestAt(device, 20, failingFirewall(), base);
      expect((await push(r1.call, a2)).json().decision).toMatchObject({ allowed: false });
      const own = await forwardAuth(r1.call, a1, `${base}/x`);
      expect([own.statusCode, codeOf(own)]).toEqual([401, 'attestation_superseded']);
      // The other replica learns it from PostgreSQL's notification (milliseconds).
      const other = await until(
        () => forwardAuth(r2.call, a1, `${base}/x`),
        (r) => r.statusCode !== 200,
      );
      expect([other.statusCode, codeOf(other)]).toEqual([401, 'attestation_superseded']);
      const proxied = await viaNginx(a1);
      expect(proxied.statusCode).toBe(401);
      expect(proxied.body).toContain('data-code="attestation_superseded"');
      const failing = await viaNginx(a2);
      expect(failing.statusCode).toBe(403);
      expect(failing.body).toContain('data-code="posture_failed"');

      // The admin API of either replica shows the pushed posture at once.
      const shown = (
        await r2.call({ method: 'GET', url: `/v1/admin/devices/${device.deviceId}`, headers: admin })
      ).json();
      expect(shown.lastPosture).toMatchObject({ overall: 'fail', failing: ['firewall'] });

      const a3 = await attestAt(device, 10, undefined, base);
      expect((await push(r2.call, a3)).statusCode).toBe(200);
      expect((await viaNginx(a3)).statusCode).toBe(200);
      expect((await forwardAuth(r1.call, a3, `${base}/x`)).statusCode).toBe(200);
      const back = await until(
        () => forwardAuth(r1.call, a2, `${base}/x`),
        (r) => codeOf(r) === 'attestation_superseded',
      );
      expect(codeOf(back)).toBe('attestation_superseded');
    }, 60_000);

    it('replicas racing: an older attestation pushed to the other replica never becomes the newest', async () => {
      const device = await enrolledDevice(r1);
      const older = await attestAt(device, 30, undefined, base);
      const newer = await attestAt(device, 10, failingFirewall(), base);
      const [a, b] = await Promise.all([push(r1.call, newer), push(r2.call, older)]);
      // Whichever order they landed in, the newer one is the newest: the older is refused if last.
      expect(a.statusCode).toBe(200);
      expect([200, 409]).toContain(b.statusCode);
      const res = await until(
        () => forwardAuth(r2.call, older, `${base}/x`),
        (r) => r.statusCode !== 200,
      );
      expect(codeOf(res)).toBe('attestation_superseded');
      expect(codeOf(await forwardAuth(r1.call, older, `${base}/x`))).toBe('attestation_superseded');
    }, 60_000);

    it('the notification channel lost: the cache is dropped and reads go through, so a push made meanwhile is enforced', async () => {
      const device = await enrolledDevice(r1);
      const a1 = await attestAt(device, 30, undefined, base);
      expect((await push(r1.call, a1)).statusCode).toBe(200);
      // Both replicas hold the device in memory now.
      expect((await forwardAuth(r1.call, a1, `${base}/x`)).statusCode).toBe(200);
      expect((await forwardAuth(r2.call, a1, `${base}/x`)).statusCode).toBe(200);

      // Every replica's LISTEN connection is cut by PostgreSQL (what a restart or a network cut does).
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      try {
        const cut = await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'posture-verifier-listen'",
        );
        expect(cut.rowCount).toBeGreaterThanOrEqual(2);
        // While the replicas have no channel, A2 is pushed: no replica can be notified of it.
        const a2 = await attestAt(device, 20, failingFirewall(), base);
        expect((await push(r1.call, a2)).statusCode).toBe(200);
        const other = await forwardAuth(r2.call, a1, `${base}/x`);
        expect([other.statusCode, codeOf(other)]).toEqual([401, 'attestation_superseded']);
        // The channel comes back on its own.
        const listening = await until(
          async () =>
            (
              await admin.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'posture-verifier-listen'",
              )
            ).rows[0].n as number,
          (n) => n >= 2,
        );
        expect(listening).toBeGreaterThanOrEqual(2);
      } finally {
        await admin.end();
      }
    }, 60_000);

    it('PostgreSQL down: forward-auth and pushes deny with store_unavailable on both replicas; back up: served again', async () => {
      const device = await enrolledDevice(r1);
      const a = await attestAt(device, 5, undefined, base);
      expect((await push(r1.call, a)).statusCode).toBe(200);
      expect((await forwardAuth(r2.call, a, `${base}/x`)).statusCode).toBe(200);
      await postgres.stop();
      try {
        for (const r of [r1, r2]) {
          const res = await until(
            () => forwardAuth(r.call, a, `${base}/x`),
            (x) => x.statusCode !== 200,
          );
          expect([res.statusCode, codeOf(res)]).toEqual([503, 'store_unavailable']);
        }
        const pushed = await push(r2.call, a);
        expect([pushed.statusCode, codeOf(pushed)]).toEqual([503, 'store_unavailable']);
      } finally {
        await postgres.start();
      }
      const res = await until(
        () => forwardAuth(r2.call, a, `${base}/x`),
        (x) => x.statusCode === 200,
      );
      expect(res.statusCode).toBe(200);
    }, 90_000);

    it('Redis down: pushes and requests deny (replay_store_unavailable); back up: served again', async () => {
      const device = await enrolledDevice(r1);
      const a = await attestAt(device, 5, undefined, base);
      expect((await push(r1.call, a)).statusCode).toBe(200);
      await redis.stop();
      try {
        const res = await forwardAuth(r2.call, a, `${base}/x`);
        expect([res.statusCode, codeOf(res)]).toEqual([503, 'replay_store_unavailable']);
        const pushed = await push(r1.call, a);
        expect([pushed.statusCode, codeOf(pushed)]).toEqual([503, 'replay_store_unavailable']);
      } finally {
        await redis.start();
      }
      const back = await until(
        () => forwardAuth(r2.call, a, `${base}/x`),
        (x) => x.statusCode === 200,
      );
      expect(back.statusCode).toBe(200);
    }, 60_000);
  },
);
