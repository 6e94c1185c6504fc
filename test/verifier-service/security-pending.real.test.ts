/**
 * The verifier's own record of when a device first reported pending security updates, on the
 * embedded SQLite store and on a real PostgreSQL: set at the first report, written only on a
 * transition (never once per request), cleared when the device reports none, kept at the earliest
 * across replicas, and used by the policy so a device that resets its agent's record gains nothing.
 */
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { openPostgresStore } from '../../src/verifier-service/postgres-store.js';
import { openSqliteStore } from '../../src/verifier-service/sqlite-store.js';
import type { DeviceStore } from '../../src/verifier-service/store.js';
import { postgresAvailable, postgresForSuite } from '../fakes/postgres.js';
import { compliantChecks, report } from '../helpers/device.js';
import { APP_AUDIENCE, enrollKey, enrollmentToken, testService } from '../helpers/service.js';
import { describeWith } from '../helpers/real-part.js';

const DAY = 86_400_000;
const URL_ = 'https://app.example.com/reports';

/** The device's checks: compliant, with `pending` security updates its agent first saw at `firstSeenAt`. */
function checksWith(pending: number, firstSeenAt = Date.now()): PostureChecks {
  const at = Date.now();
  const checks = compliantChecks(at);
  const patch = checks.patch_level;
  if (patch?.status === 'observed')
    patch.observation = {
      ...patch.observation,
      pending,
      securityPending: pending,
      updates: Array.from({ length: pending }, (_, i) => ({
        name: `pkg${i}`,
        security: true,
        firstSeenAt: new Date(firstSeenAt).toISOString(),
      })),
    };
  return checks;
}

/** The real store, with each write of the record counted (nothing else changes). */
function counting(store: DeviceStore): DeviceStore & { writes: (number | null)[] } {
  const writes: (number | null)[] = [];
  return {
    ...store,
    writes,
    setSecurityPendingSince: async (id, at) => {
      writes.push(at);
      return store.setSecurityPendingSince(id, at);
    },
  };
}

async function device(svc: Awaited<ReturnType<typeof testService>>) {
  const key = await softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());
  const res = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
  expect(res.statusCode).toBe(201);
  const deviceId = (res.json() as { deviceId: string }).deviceId;
  const verify = async (checks: PostureChecks, via = svc) => {
    const a = await createAttestation({
      report: report(checks, Date.now()),
      key,
      audience: APP_AUDIENCE,
      deviceId,
    });
    const res = await via.call({
      method: 'POST',
      url: '/v1/verify',
      payload: { method: 'GET', url: URL_, headers: postureHeaders(a, 'GET', URL_) },
    });
    expect(res.statusCode).toBe(200);
    const d = res.json() as {
      allowed: boolean;
      evaluation: { checks: { check: string; verdict: string; code: string; ageBasis?: string }[] };
    };
    return { allowed: d.allowed, patch: d.evaluation.checks.find((c) => c.check === 'patch_level') };
  };
  return { deviceId, verify };
}

function serviceContract(name: string, open: () => Promise<DeviceStore>) {
  describe(`verifier clock for pending security updates: ${name}`, () => {
    it('set at the first report, not written again while pending, cleared at the first report of none', async () => {
      const store = counting(await open());
      const svc = await testService({ store });
      const d = await device(svc);
      const before = Date.now();
      for (let i = 0; i < 3; i++)
        expect((await d.verify(checksWith(2))).patch).toMatchObject({ verdict: 'pass' });
      expect(store.writes).toHaveLength(1);
      const since = (await store.device(d.deviceId))?.securityPendingSince;
      expect(since).toBeGreaterThanOrEqual(before);
      expect(since).toBeLessThanOrEqual(Date.now());
      for (let i = 0; i < 2; i++) await d.verify(checksWith(0));
      expect(store.writes).toEqual([since, null]);
      expect((await store.device(d.deviceId))?.securityPendingSince).toBeUndefined();
      await store.close();
    });

    it('a device that reset its agent’s first-seen record is judged by when the verifier first saw the updates', async () => {
      const store = await open();
      const svc = await testService({ store });
      const d = await device(svc);
      // The verifier has known for 40 days; the agent's own record says "first seen just now".
      await store.setSecurityPendingSince(d.deviceId, Date.now() - 40 * DAY);
      const out = await d.verify(checksWith(1, Date.now()));
      expect(out.allowed).toBe(false);
      expect(out.patch).toMatchObject({
        verdict: 'fail',
        code: 'security_updates_overdue',
        ageBasis: 'verifier_first_seen',
      });
      // An unknown patch observation changes nothing: the record stays.
      const unknown = checksWith(0);
      unknown.patch_level = {
        check: 'patch_level',
        status: 'unknown',
        reason: 'timeout',
        detail: 'apt-get did not finish',
        observedAt: new Date().toISOString(),
        evidence: [],
      };
      await d.verify(unknown);
      expect((await store.device(d.deviceId))?.securityPendingSince).toBeDefined();
      await store.close();
    });

    it('the store keeps the earliest report: a second set does not move it', async () => {
      const store = await open();
      const svc = await testService({ store });
      const d = await device(svc);
      await store.setSecurityPendingSince(d.deviceId, 1_000);
      await store.setSecurityPendingSince(d.deviceId, 2_000);
      expect((await store.device(d.deviceId))?.securityPendingSince).toBe(1_000);
      await store.setSecurityPendingSince(d.deviceId, null);
      await store.setSecurityPendingSince(d.deviceId, 3_000);
      expect((await store.device(d.deviceId))?.securityPendingSince).toBe(3_000);
      await store.close();
    });
  });
}

const dir = () => mkdtempSync(join(tmpdir(), `posture-pending-${process.pid}-`));
serviceContract('sqlite', async () => openSqliteStore(join(dir(), 'devices.db')));

describe('sqlite store file from before the record existed', () => {
  it('gains the column on open and keeps its devices', async () => {
    const path = join(dir(), 'old.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE devices (
      device_id TEXT PRIMARY KEY, kid TEXT NOT NULL UNIQUE, jwk TEXT NOT NULL, key_protection TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active','revoked','locked')), label TEXT, facts TEXT NOT NULL,
      enrolled_at INTEGER NOT NULL, last_seen_at INTEGER, last_posture TEXT);
      INSERT INTO devices VALUES ('dev-1', 'kid-1', '{}', 'keychain', 'active', NULL, '{}', 1, NULL, NULL);`);
    old.close();
    const store = openSqliteStore(path);
    expect(await store.deviceByKid('kid-1')).toMatchObject({ deviceId: 'dev-1' });
    await store.setSecurityPendingSince('dev-1', 5_000);
    expect(await store.deviceByKid('kid-1')).toMatchObject({ securityPendingSince: 5_000 });
    await store.close();
  });
});

const describePg = describeWith('PostgreSQL', postgresAvailable());
describePg('with a real PostgreSQL', () => {
  const pg = postgresForSuite();
  serviceContract('postgres', async () => openPostgresStore(pg.url));

  it('two replicas: the first report wins, the other replica sees it and does not write', async () => {
    const a = await openPostgresStore(pg.url);
    const b = counting(await openPostgresStore(pg.url));
    const svcA = await testService({ store: a });
    const svcB = await testService({ store: b });
    const d = await device(svcA);
    await d.verify(checksWith(1));
    const since = (await a.device(d.deviceId))?.securityPendingSince;
    expect(since).toBeDefined();
    // The same device through replica B: its lookup shows A's record, so B writes nothing.
    for (let i = 0; i < 2; i++) await d.verify(checksWith(1), svcB);
    expect(b.writes).toHaveLength(0);
    expect((await b.device(d.deviceId))?.securityPendingSince).toBe(since);
    // Reported as none through B: B clears it, once; A's next lookup sees that.
    await d.verify(checksWith(0), svcB);
    await d.verify(checksWith(0), svcB);
    expect(b.writes).toEqual([null]);
    expect((await a.device(d.deviceId))?.securityPendingSince).toBeUndefined();
    await a.close();
    await b.close();
  });
});
