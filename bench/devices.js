// 100,000 enrolled devices (part of `npm run bench`): enrolment time, lookup by kid, file and table
// size, in SQLite and in PostgreSQL (started here from Debian's package when it is installed).
// Lookups are timed cold, each kid once, so they measure the store and not the verifier's memory.
import { createHash } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generatePrivateJwk, softwareKey } from '../dist/keys/software-key.js';
import { openSqliteStore } from '../dist/verifier-service/sqlite-store.js';
import { quantile, row, startPostgres } from './lib.js';

const N = Number(process.env.BENCH_DEVICES ?? 100_000);
const LOOKUPS = 5000;
const key = await softwareKey(generatePrivateJwk(), 'keychain', 'bench', new Date().toISOString());

async function devicesBench(name, store, sizeOf) {
  const now = Date.now();
  const kids = [];
  const rss0 = process.memoryUsage().rss;
  const t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const kid = createHash('sha256').update(`kid-${j}`).digest('base64url');
      kids.push(kid);
      await store.createToken({ hash: `bench-${j}`, createdAt: now, expiresAt: now + 3600_000 });
      batch.push(
        store.enroll(`bench-${j}`, now, {
          deviceId: `dev-${j}`,
          kid,
          jwk: key.publicJwk,
          keyProtection: 'tpm',
          facts: { hostname: `host-${j}` },
          enrolledAt: now,
        }),
      );
    }
    await Promise.all(batch);
  }
  const loadS = (performance.now() - t) / 1000;
  const lookups = [];
  const step = Math.max(1, Math.floor(N / LOOKUPS));
  for (let i = 0; i < Math.min(LOOKUPS, N); i++) {
    const s = performance.now();
    const d = await store.deviceByKid(kids[(i * step + (i % step)) % N]);
    lookups.push(performance.now() - s);
    if (!d) throw new Error(`${name}: an enrolled device was not found`);
  }
  lookups.sort((a, b) => a - b);
  const size = await sizeOf();
  row(
    `${N / 1000}k devices, ${name}: lookup by kid`,
    `p50 ${(quantile(lookups, 0.5) * 1000).toFixed(0)} µs`,
    `p99 ${(quantile(lookups, 0.99) * 1000).toFixed(0)} µs; enrolled in ${loadS.toFixed(1)} s; ${size}; RSS +${((process.memoryUsage().rss - rss0) / 1048576).toFixed(0)} MiB`,
  );
}

console.log(`Device stores: ${N} devices, ${LOOKUPS} lookups of distinct kids`);
const sqliteDir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
const sqlite = openSqliteStore(join(sqliteDir, 'devices.db'));
await devicesBench(
  'SQLite',
  sqlite,
  () => `file ${(statSync(join(sqliteDir, 'devices.db')).size / 1048576).toFixed(0)} MiB (+WAL)`,
);
await sqlite.close();

const pg = await startPostgres();
if (pg) {
  const { openPostgresStore } = await import('../dist/verifier-service/postgres-store.js');
  const url = pg.url;
  const store = await openPostgresStore(url);
  const pgClient = (await import('pg')).default;
  const c = new pgClient.Client({ connectionString: url });
  await c.connect();
  await devicesBench(
    'PostgreSQL',
    store,
    async () =>
      `devices table ${(await c.query("SELECT pg_size_pretty(pg_total_relation_size('devices')) AS s")).rows[0].s}`,
  );
  await c.end();
  await store.close();
  pg.stop();
}
