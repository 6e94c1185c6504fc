/**
 * The PostgreSQL device cache on a real PostgreSQL: what it holds, what drops it (a notification
 * from another connection's write, this replica's own write, a change while a read is in flight),
 * and that without its LISTEN connection it reads through every time.
 */
import pg from 'pg';
import { ListeningDeviceCache } from '../../src/verifier-service/postgres-device-cache.js';
import { openPostgresStore } from '../../src/verifier-service/postgres-store.js';
import type { DeviceStore, StoredDevice } from '../../src/verifier-service/store.js';
import type { Postgres } from '../fakes/postgres.js';
import { postgresAvailable, startPostgres } from '../fakes/postgres.js';
import { describeWith } from '../helpers/real-part.js';

const device = (id: string): StoredDevice => ({
  deviceId: id,
  kid: `kid-${id}`,
  jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
  keyProtection: 'keychain',
  status: 'active',
  facts: {},
  enrolledAt: 0,
});

/** A load function that counts its calls. */
function counted(d: StoredDevice, during?: () => void) {
  const load = async () => {
    load.calls += 1;
    during?.();
    return d;
  };
  load.calls = 0;
  return load;
}

async function until(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !done(); i += 1) await new Promise((r) => setTimeout(r, 50));
  return done();
}

describeWith('postgresql', postgresAvailable())('PostgreSQL device cache (LISTEN/NOTIFY)', () => {
  let postgres: Postgres;
  let store: DeviceStore; // makes the schema and the trigger
  let cache: ListeningDeviceCache;
  let client: pg.Client;

  beforeAll(async () => {
    postgres = await startPostgres();
    store = await openPostgresStore(postgres.url);
    cache = new ListeningDeviceCache(postgres.url, { checkIntervalMs: 200, applicationName: 'cache-test' });
    await cache.start();
    client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await cache?.close();
    await store?.close();
    await postgres?.stop();
  });

  it('holds a device until a write by another connection is notified', async () => {
    expect(cache.isListening).toBe(true);
    const d = device('dev-a');
    const load = counted(d);
    await cache.read(d.kid, load);
    await cache.read(d.kid, load);
    expect(load.calls).toBe(1);
    // What the trigger sends for any write to the devices table, by any replica or tool.
    await client.query("SELECT pg_notify('posture_devices', 'dev-a')");
    expect(
      await until(() => {
        void cache.read(d.kid, load);
        return load.calls > 1;
      }),
    ).toBe(true);
  });

  it('a change while a read is in flight keeps that read out of the cache', async () => {
    const d = device('dev-b');
    const load = counted(d, () => cache.forget('dev-b'));
    await cache.read(d.kid, load);
    const plain = counted(d);
    await cache.read(d.kid, plain);
    expect(plain.calls).toBe(1); // not served from memory
    await cache.read(d.kid, plain);
    expect(plain.calls).toBe(1); // this one was cached
  });

  it('the LISTEN connection lost: nothing is served from memory until it is back', async () => {
    const d = device('dev-c');
    const load = counted(d);
    await cache.read(d.kid, load);
    const cut = await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cache-test'",
    );
    expect(cut.rowCount).toBe(1);
    expect(await until(() => !cache.isListening)).toBe(true);
    await cache.read(d.kid, load);
    expect(load.calls).toBe(2);
    expect(await until(() => cache.isListening)).toBe(true);
    await cache.read(d.kid, load);
    await cache.read(d.kid, load);
    expect(load.calls).toBe(3);
  });
});
