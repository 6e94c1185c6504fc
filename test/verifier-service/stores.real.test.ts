/**
 * The same store and replay contract against each backend with the real server: SQLite (embedded),
 * PostgreSQL, memory and Redis replay. Then faults: a stopped PostgreSQL or Redis denies with a clear
 * reason (fail closed) and serving resumes once it is back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { ReplayStore } from '../../src/verifier/replay.js';
import { MemoryReplayStore } from '../../src/verifier/replay.js';
import { openPostgresStore } from '../../src/verifier-service/postgres-store.js';
import { openRedisReplayStore } from '../../src/verifier-service/redis-replay.js';
import { openSqliteStore } from '../../src/verifier-service/sqlite-store.js';
import type { DeviceStore } from '../../src/verifier-service/store.js';
import { postgresAvailable, postgresForSuite } from '../fakes/postgres.js';
import type { RedisServer } from '../fakes/redis.js';
import { redisAvailable, startRedis } from '../fakes/redis.js';
import { report } from '../helpers/device.js';
import { describeWith } from '../helpers/real-part.js';
import {
  admin,
  APP_AUDIENCE,
  enrollKey,
  enrollmentToken,
  rotateKeyVia,
  testService,
} from '../helpers/service.js';

/** Registers nothing: a test that does not apply to this backend is not a skipped one. */
const noTest = (..._args: unknown[]) => undefined;

/** The value `read` gives once it changes from the first one, or the last one read after 3 s. */
async function eventually<T>(read: () => Promise<T>): Promise<T> {
  const first = await read();
  for (let i = 0; i < 60; i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    const value = await read();
    if (value !== first) return value;
  }
  return first;
}

const jwkFor = async () => softwareKey(generatePrivateJwk(), 'keychain', 'x', '');

/**
 * `exclusive`: the store belongs to one process (SQLite); otherwise several replicas share it and
 * each sees the others' writes at once.
 */
function storeContract(name: string, open: () => Promise<DeviceStore>, { exclusive = false } = {}) {
  describe(`device store: ${name}`, () => {
    let store: DeviceStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    it('a token enrolls once, expires, and re-enrollment of a key keeps its id and status', async () => {
      const now = Date.now();
      await store.createToken({ hash: `h1-${now}`, label: 'lab', createdAt: now, expiresAt: now + 60_000 });
      const key = await jwkFor();
      const device = {
        deviceId: `dev-${now}`,
        kid: key.kid,
        jwk: key.publicJwk,
        keyProtection: 'keychain' as const,
        facts: { hostname: 'a' },
        enrolledAt: now,
      };
      const first = await store.enroll(`h1-${now}`, now, device);
      expect(first).toMatchObject({
        ok: true,
        reenrolled: false,
        device: { deviceId: device.deviceId, label: 'lab', status: 'active' },
      });
      expect(await store.enroll(`h1-${now}`, now, device)).toEqual({ ok: false, reason: 'token_used' });
      expect(await store.enroll('nope', now, device)).toEqual({ ok: false, reason: 'token_invalid' });
      await store.createToken({ hash: `h2-${now}`, createdAt: now, expiresAt: now + 1 });
      expect(await store.enroll(`h2-${now}`, now + 10, device)).toEqual({
        ok: false,
        reason: 'token_expired',
      });
      await store.createToken({ hash: `h3-${now}`, createdAt: now, expiresAt: now + 60_000 });
      const again = await store.enroll(`h3-${now}`, now, {
        ...device,
        deviceId: 'other-id',
        facts: { hostname: 'b' },
      });
      expect(again).toMatchObject({
        ok: true,
        reenrolled: true,
        device: { deviceId: device.deviceId, status: 'active', facts: { hostname: 'b' } },
      });
      expect((await store.deviceByKid(key.kid))?.deviceId).toBe(device.deviceId);
    });

    it('re-enrolling a locked or revoked key, or claiming another protection, is refused and leaves the token unused', async () => {
      const now = Date.now();
      const key = await jwkFor();
      const device = {
        deviceId: `dev-r-${now}`,
        kid: key.kid,
        jwk: key.publicJwk,
        keyProtection: 'file' as const,
        facts: {},
        enrolledAt: now,
      };
      await store.createToken({ hash: `r1-${now}`, createdAt: now, expiresAt: now + 60_000 });
      expect(await store.enroll(`r1-${now}`, now, device)).toMatchObject({ ok: true });
      await store.createToken({ hash: `r2-${now}`, createdAt: now, expiresAt: now + 60_000 });
      // A file key never becomes a TPM key by enrolling again.
      expect(await store.enroll(`r2-${now}`, now, { ...device, keyProtection: 'tpm' })).toMatchObject({
        ok: false,
        reason: 'key_protection_mismatch',
        device: { deviceId: device.deviceId, keyProtection: 'file' },
      });
      expect((await store.deviceByKid(key.kid))?.keyProtection).toBe('file');
      await store.setStatus(device.deviceId, 'locked');
      expect(await store.enroll(`r2-${now}`, now, device)).toMatchObject({
        ok: false,
        reason: 'device_locked',
      });
      await store.setStatus(device.deviceId, 'revoked');
      expect(await store.enroll(`r2-${now}`, now, device)).toMatchObject({
        ok: false,
        reason: 'device_revoked',
      });
      expect((await store.deviceByKid(key.kid))?.status).toBe('revoked');
      // None of these used the token: a new key enrolls with it.
      const fresh = await jwkFor();
      expect(
        await store.enroll(`r2-${now}`, now, {
          ...device,
          deviceId: `dev-r2-${now}`,
          kid: fresh.kid,
          jwk: fresh.publicJwk,
        }),
      ).toMatchObject({ ok: true, reenrolled: false });
    });

    it('rotating into a key another device holds is ERR_STORE_KEY_IN_USE, and nothing changes', async () => {
      const now = Date.now();
      const [a, b, c] = await Promise.all([jwkFor(), jwkFor(), jwkFor()]);
      for (const [i, k] of [a, b].entries()) {
        await store.createToken({ hash: `kiu-${i}-${now}`, createdAt: now, expiresAt: now + 60_000 });
        await store.enroll(`kiu-${i}-${now}`, now, {
          deviceId: `kiu-${i}-${now}`,
          kid: k.kid,
          jwk: k.publicJwk,
          keyProtection: 'keychain',
          facts: {},
          enrolledAt: now,
        });
      }
      await expect(
        store.rotateKey(`kiu-0-${now}`, a.kid, b.publicJwk, b.kid, 'keychain'),
      ).rejects.toMatchObject({ code: 'ERR_STORE_KEY_IN_USE' });
      expect((await store.deviceByKid(a.kid))?.deviceId).toBe(`kiu-0-${now}`);
      expect((await store.deviceByKid(b.kid))?.deviceId).toBe(`kiu-1-${now}`);
      // Two enrollments of one new key with two tokens: one enrolls, the other is a re-enrollment or key_in_use.
      await store.createToken({ hash: `kiu-x-${now}`, createdAt: now, expiresAt: now + 60_000 });
      await store.createToken({ hash: `kiu-y-${now}`, createdAt: now, expiresAt: now + 60_000 });
      const results = await Promise.allSettled(
        ['x', 'y'].map((t) =>
          store.enroll(`kiu-${t}-${now}`, now, {
            deviceId: `kiu-${t}-dev-${now}`,
            kid: c.kid,
            jwk: c.publicJwk,
            keyProtection: 'keychain',
            facts: {},
            enrolledAt: now,
          }),
        ),
      );
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_STORE_KEY_IN_USE' });
      expect(
        results.filter((r) => r.status === 'fulfilled' && r.value.ok && !r.value.reenrolled),
      ).toHaveLength(1);
    });

    it('concurrent enrollments with one token: exactly one succeeds', async () => {
      const now = Date.now();
      await store.createToken({ hash: `race-${now}`, createdAt: now, expiresAt: now + 60_000 });
      const keys = await Promise.all(Array.from({ length: 8 }, jwkFor));
      const results = await Promise.all(
        keys.map((k, i) =>
          store.enroll(`race-${now}`, now, {
            deviceId: `race-${now}-${i}`,
            kid: k.kid,
            jwk: k.publicJwk,
            keyProtection: 'tpm',
            facts: {},
            enrolledAt: now,
          }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    });

    it('rotation replaces the key only from the current one; status and last posture are kept', async () => {
      const now = Date.now();
      const k1 = await jwkFor();
      const k2 = await jwkFor();
      await store.createToken({ hash: `rot-${now}`, createdAt: now, expiresAt: now + 60_000 });
      await store.enroll(`rot-${now}`, now, {
        deviceId: `rot-${now}`,
        kid: k1.kid,
        jwk: k1.publicJwk,
        keyProtection: 'keychain',
        facts: {},
        enrolledAt: now,
      });
      await store.recordSeen(`rot-${now}`, now, {
        overall: 'pass',
        failing: [],
        policyRevision: 'r',
        at: now,
      });
      expect(await store.rotateKey(`rot-${now}`, 'not-the-kid', k2.publicJwk, k2.kid, 'tpm')).toBe(false);
      expect(await store.rotateKey(`rot-${now}`, k1.kid, k2.publicJwk, k2.kid, 'tpm')).toBe(true);
      expect(await store.deviceByKid(k1.kid)).toBeUndefined();
      expect(await store.deviceByKid(k2.kid)).toMatchObject({
        deviceId: `rot-${now}`,
        keyProtection: 'tpm',
        lastPosture: { overall: 'pass' },
        lastSeenAt: now,
      });
      expect((await store.listDevices({ limit: 1000 })).some((d) => d.deviceId === `rot-${now}`)).toBe(true);
    });

    (exclusive ? noTest : it)(
      'a change made through another connection (another replica) is seen once its notification arrives',
      async () => {
        const now = Date.now();
        const other = await open();
        try {
          const k = await jwkFor();
          await store.createToken({ hash: `rep-${now}`, createdAt: now, expiresAt: now + 60_000 });
          await store.enroll(`rep-${now}`, now, {
            deviceId: `rep-${now}`,
            kid: k.kid,
            jwk: k.publicJwk,
            keyProtection: 'keychain',
            facts: {},
            enrolledAt: now,
          });
          // Looked up (and so possibly held in memory) before the other replica writes.
          expect((await store.deviceByKid(k.kid))?.status).toBe('active');
          expect((await other.deviceByKid(k.kid))?.status).toBe('active');
          expect(await other.setStatus(`rep-${now}`, 'revoked')).toBe(true);
          // Lookups by kid are served from memory, dropped by PostgreSQL's notification (ms).
          expect(await eventually(async () => (await store.deviceByKid(k.kid))?.status)).toBe('revoked');
          await other.recordSeen(`rep-${now}`, now + 5, {
            overall: 'fail',
            failing: ['firewall'],
            policyRevision: 'r',
            at: now + 5,
          });
          // Last seen is not a verification fact: read where the admin API reads it.
          expect(await store.device(`rep-${now}`)).toMatchObject({
            lastSeenAt: now + 5,
            lastPosture: { overall: 'fail' },
          });
          // And this store's own writes are seen by itself at once.
          await store.setStatus(`rep-${now}`, 'locked');
          expect((await store.deviceByKid(k.kid))?.status).toBe('locked');
          expect(await eventually(async () => (await other.deviceByKid(k.kid))?.status)).toBe('locked');
        } finally {
          await other.close();
        }
      },
    );

    (exclusive ? it : noTest)(
      'a second process on the same store is refused with ERR_STORE_LOCKED',
      async () => {
        await expect(open()).rejects.toMatchObject({ code: 'ERR_STORE_LOCKED' });
      },
    );
  });
}

function replayContract(
  name: string,
  open: (perDevice: number) => Promise<ReplayStore & { close?: () => Promise<void> }>,
) {
  describe(`replay store: ${name}`, () => {
    it('fresh once, then replayed until it expires', async () => {
      const replay = await open(1000);
      const id = `jti-${Math.random()}`;
      const now = Date.now();
      expect(await replay.remember(id, now + 60_000, now, 'dev-a')).toBe('fresh');
      expect(await replay.remember(id, now + 60_000, now, 'dev-a')).toBe('replayed');
      expect(await replay.remember(`${id}-b`, now + 60_000, now, 'dev-a')).toBe('fresh');
      await replay.close?.();
    });

    it('one device past its share is refused; other devices go on', async () => {
      const replay = await open(100);
      const run = `${Date.now()}-${Math.random()}`;
      const now = Date.now();
      const results: string[] = [];
      for (let i = 0; i < 300; i++)
        results.push(await replay.remember(`jti-${run}-${i}`, now + 60_000, now, `greedy-${run}`));
      expect(results.filter((r) => r === 'fresh')).toHaveLength(100);
      expect(results.filter((r) => r === 'quota_exceeded')).toHaveLength(200);
      // Spent ids stay spent.
      expect(await replay.remember(`jti-${run}-5`, now + 60_000, now, `greedy-${run}`)).toBe('replayed');
      for (let d = 0; d < 5; d++)
        for (let i = 0; i < 50; i++)
          expect(await replay.remember(`jti-${run}-d${d}-${i}`, now + 60_000, now, `dev-${d}-${run}`)).toBe(
            'fresh',
          );
      await replay.close?.();
    });
  });
}

const sqlitePath = join(mkdtempSync(join(tmpdir(), 'posture-store-')), 'devices.db');
storeContract('sqlite', async () => openSqliteStore(sqlitePath), { exclusive: true });
replayContract('memory', async (perDevice) => new MemoryReplayStore(1000, 120_000, perDevice));

const describePg = describeWith('PostgreSQL', postgresAvailable());
const describeRedis = describeWith('Redis', redisAvailable());

describePg('with a real PostgreSQL', () => {
  const pg = postgresForSuite();
  storeContract('postgres', async () => openPostgresStore(pg.url));

  it('on PostgreSQL over HTTP: rotating into a held key is 409 key_in_use; a lost connection is 503 store_unavailable with its code', async () => {
    const store = await openPostgresStore(pg.url, { connectionTimeoutMillis: 1000 });
    const svc = await testService({ store });
    const [a, b, c] = await Promise.all([jwkFor(), jwkFor(), jwkFor()]);
    for (const k of [a, b])
      expect((await enrollKey(svc.call, k, await enrollmentToken(svc.call))).statusCode).toBe(201);
    const inUse = await rotateKeyVia(svc.call, a, b);
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().error).toBe('key_in_use');
    const token = await enrollmentToken(svc.call);
    await pg.stop();
    try {
      for (const method of ['deviceByKid', 'device', 'listDevices', 'ping'] as const) {
        const call = (store[method] as (arg?: unknown) => Promise<unknown>).bind(store);
        await expect(call(method === 'listDevices' ? {} : 'x')).rejects.toMatchObject({
          code: 'ERR_STORE_UNAVAILABLE',
        });
      }
      for (const res of [
        await enrollKey(svc.call, c, token),
        await rotateKeyVia(svc.call, a, c),
        await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin }),
      ]) {
        expect(res.statusCode).toBe(503);
        expect(res.json().error).toBe('store_unavailable');
      }
    } finally {
      await pg.start();
    }
    // Back: the token was not used while the store was down.
    expect((await enrollKey(svc.call, c, token)).statusCode).toBe(201);
    await store.close();
  }, 60_000);

  it('PostgreSQL stopped: requests are denied with store_unavailable, and served again once it is back', async () => {
    const store = await openPostgresStore(pg.url, { connectionTimeoutMillis: 1000 });
    const svc = await testService({ store });
    const key = await jwkFor();
    const enrolled = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
    const deviceId = enrolled.json().deviceId as string;
    const url = 'https://app.example.com/x';
    const attempt = async () => {
      const a = await createAttestation({
        report: report(undefined, Date.now()),
        key,
        audience: APP_AUDIENCE,
        deviceId,
      });
      return svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: { ...postureHeaders(a, 'GET', url), 'x-original-method': 'GET', 'x-original-url': url },
      });
    };
    expect((await attempt()).statusCode).toBe(200);
    await pg.stop();
    const down = await attempt();
    expect(down.statusCode).toBe(503);
    expect(down.json().reasons[0].code).toBe('store_unavailable');
    expect((await svc.call({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await pg.start();
    expect((await attempt()).statusCode).toBe(200);
    await store.close();
  }, 60_000);
});

describeRedis('with a real Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  replayContract('redis', async (perDevice) =>
    openRedisReplayStore(redis.url, { perDeviceCapacity: perDevice }),
  );

  it('Redis stopped: requests are denied with replay_store_unavailable, and served again once it is back', async () => {
    const replay = openRedisReplayStore(redis.url);
    const svc = await testService({ replay });
    const key = await jwkFor();
    const deviceId = (await enrollKey(svc.call, key, await enrollmentToken(svc.call))).json()
      .deviceId as string;
    const url = 'https://app.example.com/x';
    const a = await createAttestation({
      report: report(undefined, Date.now()),
      key,
      audience: APP_AUDIENCE,
      deviceId,
    });
    const attempt = () =>
      svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: { ...postureHeaders(a, 'GET', url), 'x-original-method': 'GET', 'x-original-url': url },
      });
    expect((await attempt()).statusCode).toBe(200);
    await redis.stop();
    const down = await attempt();
    expect(down.statusCode).toBe(503);
    expect(down.json().reasons[0].code).toBe('replay_store_unavailable');
    await redis.start();
    let back = await attempt();
    for (let i = 0; i < 20 && back.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250)); // ioredis reconnects with backoff
      back = await attempt();
    }
    expect(back.statusCode).toBe(200);
    await replay.close();
  }, 60_000);
});
