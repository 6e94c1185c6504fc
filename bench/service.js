// Verifier service benchmarks (part of `npm run bench`): forward-auth throughput and latency, direct
// and through nginx, beside the raw P-256 verify rate measured in the same run; and memory and
// lookup time with 100,000 enrolled devices in SQLite and PostgreSQL. Loopback only, bounded counts.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAttestation } from '../dist/attest/attestation.js';
import { benchReport } from './fixtures.js';
import { signCompact } from '../dist/keys/jws.js';
import { generatePrivateJwk, softwareKey } from '../dist/keys/software-key.js';
import { openSqliteStore } from '../dist/verifier/service/sqlite-store.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = 16;
const ADMIN = 'bench-admin-token';
const row = (name, value, note = '') => console.log(`${name.padEnd(52)} ${String(value).padEnd(22)} ${note}`);
const q = (s, p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const up = (port) =>
  new Promise((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
async function waitPort(port) {
  for (let i = 0; i < 300 && !(await up(port)); i++) await sleep(50);
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function call(port, method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

console.log(`Verifier service: ${REQUESTS} requests, concurrency ${CONCURRENCY}, node ${process.version}`);
console.log(`${'what'.padEnd(52)} ${'value'.padEnd(22)} note`);

// Baseline: raw P-256 verifications per second on one core, this run.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const data = Buffer.from('x'.repeat(400));
const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
let t = performance.now();
for (let i = 0; i < 4000; i++) verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
const rawRate = 4000 / ((performance.now() - t) / 1000);
row('raw P-256 verify (node:crypto, one core)', `${rawRate.toFixed(0)}/s`);

// The service, as a process, on SQLite.
const dir = mkdtempSync(join(tmpdir(), 'bench-verifier-'));
const port = await freePort();
const nginxPort = await freePort();
writeFileSync(
  join(dir, 'verifier.json'),
  JSON.stringify({
    listen: { host: '127.0.0.1', port },
    publicUrl: `http://127.0.0.1:${port}`,
    audience: [`http://127.0.0.1:${port}`, `http://127.0.0.1:${nginxPort}`],
    store: { type: 'sqlite', path: join(dir, 'devices.db') },
    nonce: { secrets: ['bench-nonce-secret-0123456789abcdef0123'] },
    adminTokenSha256: [createHash('sha256').update(ADMIN).digest('hex')],
    decisionLog: join(dir, 'decisions.log'),
  }),
);
const service = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROF] : []),
    'dist/verifier/service/main.js',
    '--config',
    join(dir, 'verifier.json'),
  ],
  { stdio: 'ignore' },
);
await waitPort(port);
const token = JSON.parse(
  (
    await call(
      port,
      'POST',
      '/v1/admin/enrollment-tokens',
      { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      '{}',
    )
  ).body,
).token;
const key = await softwareKey(generatePrivateJwk(), 'keychain', 'bench', new Date().toISOString());
const nonce = JSON.parse((await call(port, 'GET', '/v1/nonce')).body).nonce;
const proof = await signCompact(
  { alg: 'ES256', typ: 'posture-enroll+jwt', jwk: key.publicJwk },
  {
    aud: `http://127.0.0.1:${port}`,
    nonce,
    iat: Math.floor(Date.now() / 1000),
    token_hash: createHash('sha256').update(token).digest('base64url'),
    key_protection: 'keychain',
    facts: {},
  },
  key,
);
const deviceId = JSON.parse(
  (
    await call(
      port,
      'POST',
      '/v1/enroll',
      { 'content-type': 'application/json' },
      JSON.stringify({ token, proof }),
    )
  ).body,
).deviceId;
const report = benchReport();

async function load(name, targetPort, path, headersFor) {
  const attestation = await createAttestation({
    report,
    key,
    audience: `http://127.0.0.1:${targetPort}`,
    deviceId,
  });
  const url = `http://127.0.0.1:${targetPort}/app/items`;
  const work = Array.from({ length: REQUESTS + 200 }, () => ({
    'posture-attestation': attestation.token,
    'posture-proof': attestation.session.proof('GET', url, attestation.token),
    ...headersFor(url),
  }));
  for (const h of work.splice(0, 200)) await call(targetPort, 'GET', path, h); // warm up
  const latencies = [];
  let next = 0;
  let denied = 0;
  t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < work.length) {
        const h = work[next++];
        const s = performance.now();
        const res = await call(targetPort, 'GET', path, h);
        latencies.push(performance.now() - s);
        if (res.status !== 200 && denied++ === 0)
          console.log(`first denial: ${res.status} ${res.body.slice(0, 200)}`);
      }
    }),
  );
  const rate = REQUESTS / ((performance.now() - t) / 1000);
  latencies.sort((a, b) => a - b);
  if (denied) throw new Error(`${denied} of ${REQUESTS} benchmark requests were denied`);
  row(
    `forward-auth ${name}`,
    `${rate.toFixed(0)}/s`,
    `p50 ${q(latencies, 0.5).toFixed(2)} ms, p99 ${q(latencies, 0.99).toFixed(2)} ms, ${(rate / rawRate).toFixed(2)}× raw verify (goal ≥ 0.5)`,
  );
}

await load('direct', port, '/v1/forward-auth', (url) => ({
  'x-original-method': 'GET',
  'x-original-url': url,
}));

// The same, driven by wrk (a C load generator) so the client takes less of the two cores.
if (existsSync('/usr/bin/wrk')) {
  const attestation = await createAttestation({
    report,
    key,
    audience: `http://127.0.0.1:${port}`,
    deviceId,
  });
  const url = `http://127.0.0.1:${port}/app/items`;
  const count = 20_000;
  const file = join(dir, 'proofs.tsv');
  writeFileSync(
    file,
    Array.from(
      { length: count },
      () => `${attestation.token}\t${attestation.session.proof('GET', url, attestation.token)}\t${url}`,
    ).join('\n') + '\n',
  );
  const out = execFileSync(
    '/usr/bin/wrk',
    [
      '-t1',
      `-c${CONCURRENCY}`,
      '-d4s',
      '--latency',
      '-s',
      'bench/wrk-proofs.lua',
      `http://127.0.0.1:${port}`,
    ],
    {
      env: { ...process.env, POSTURE_BENCH_PROOFS: file },
      encoding: 'utf8',
    },
  );
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const p50 = /\s50%\s+([\d.]+\w+)/.exec(out)?.[1];
  const p99 = /\s99%\s+([\d.]+\w+)/.exec(out)?.[1];
  row(
    'forward-auth direct, wrk',
    `${rate.toFixed(0)}/s`,
    `p50 ${p50}, p99 ${p99}, ${(rate / rawRate).toFixed(2)}× raw verify (goal ≥ 0.5)${non2xx ? `; ${non2xx} non-2xx` : ''}`,
  );
}

if (existsSync('/usr/sbin/nginx')) {
  const ndir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  writeFileSync(
    join(ndir, 'nginx.conf'),
    `worker_processes 1; error_log ${ndir}/error.log warn; pid ${ndir}/nginx.pid; events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${ndir}/b; proxy_temp_path ${ndir}/p; fastcgi_temp_path ${ndir}/f; uwsgi_temp_path ${ndir}/u; scgi_temp_path ${ndir}/s;
  upstream verifier { server 127.0.0.1:${port}; keepalive 32; }
  server { listen 127.0.0.1:${nginxPort};
    location = /_posture { internal; proxy_pass http://verifier/v1/forward-auth; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_pass_request_body off; proxy_set_header Content-Length ""; proxy_set_header X-Original-Method $request_method; proxy_set_header X-Original-URL $scheme://$http_host$request_uri; }
    location / { auth_request /_posture; root ${ndir}/www; try_files /ok.txt =404; } } }`,
  );
  // Not "return 200": return runs before the access phase, so auth_request would never be asked.
  (await import('node:fs')).mkdirSync(join(ndir, 'www'));
  writeFileSync(join(ndir, 'www', 'ok.txt'), 'ok');
  chmodSync(ndir, 0o755); // nginx workers run as nobody
  chmodSync(join(ndir, 'www'), 0o755);
  chmodSync(join(ndir, 'www', 'ok.txt'), 0o644);
  const nginx = spawn('/usr/sbin/nginx', ['-p', ndir, '-c', join(ndir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  await waitPort(nginxPort);
  await load('through nginx auth_request', nginxPort, '/app/items', () => ({}));
  nginx.kill();
}
await sleep(200);
service.kill('SIGTERM');
const logged = (await import('node:fs')).readFileSync(join(dir, 'decisions.log'), 'utf8').trim().split('\n');
row(
  'decisions logged by the verifier',
  String(logged.length),
  `allowed ${logged.filter((l) => l.includes('"allowed":true')).length} (every request above, warm-ups included)`,
);

// 100,000 enrolled devices: memory and lookup.
async function devicesBench(name, store, sizeOf) {
  const N = 100_000;
  const now = Date.now();
  const kids = [];
  const rss0 = process.memoryUsage().rss;
  t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch = [];
    for (let j = i; j < i + 1000; j++) {
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
  for (let i = 0; i < 5000; i++) {
    const s = performance.now();
    await store.deviceByKid(kids[(i * 7919) % N]);
    lookups.push(performance.now() - s);
  }
  lookups.sort((a, b) => a - b);
  row(
    `100k devices, ${name}: lookup by kid`,
    `p50 ${(q(lookups, 0.5) * 1000).toFixed(0)} µs`,
    `p99 ${(q(lookups, 0.99) * 1000).toFixed(0)} µs; enrolled in ${loadS.toFixed(1)} s; ${sizeOf()}; agent RSS +${((process.memoryUsage().rss - rss0) / 1048576).toFixed(0)} MiB`,
  );
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
const sqlite = openSqliteStore(join(sqliteDir, 'devices.db'));
await devicesBench(
  'SQLite',
  sqlite,
  () => `file ${(statSync(join(sqliteDir, 'devices.db')).size / 1048576).toFixed(0)} MiB (+WAL)`,
);
await sqlite.close();

const pgRoot = '/usr/lib/postgresql';
if (existsSync(pgRoot)) {
  const bin = join(pgRoot, readdirSync(pgRoot).sort().at(-1), 'bin');
  const pdir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  chmodSync(pdir, 0o700);
  const root = process.getuid?.() === 0;
  if (root)
    chownSync(
      pdir,
      Number(execFileSync('/usr/bin/id', ['-u', 'postgres']).toString()),
      Number(execFileSync('/usr/bin/id', ['-g', 'postgres']).toString()),
    );
  const as = (cmd, args) =>
    root
      ? ['/usr/bin/setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]]
      : [cmd, args];
  execFileSync(
    ...as(join(bin, 'initdb'), ['-D', join(pdir, 'data'), '-U', 'posture', '--auth=trust', '--no-sync']),
    { stdio: 'ignore' },
  );
  const pgPort = await freePort();
  const pg = spawn(
    ...as(join(bin, 'postgres'), [
      '-D',
      join(pdir, 'data'),
      '-p',
      String(pgPort),
      '-k',
      pdir,
      '-c',
      'listen_addresses=127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  await waitPort(pgPort);
  await sleep(500);
  const { openPostgresStore } = await import('../dist/verifier/service/postgres-store.js');
  const store = await openPostgresStore(`postgres://posture@127.0.0.1:${pgPort}/postgres`);
  const pgClient = (await import('pg')).default;
  const c = new pgClient.Client({ connectionString: `postgres://posture@127.0.0.1:${pgPort}/postgres` });
  await c.connect();
  let size = '';
  await devicesBench('PostgreSQL', store, () => size);
  size = (await c.query("SELECT pg_size_pretty(pg_total_relation_size('devices')) AS s")).rows[0].s;
  row('100k devices, PostgreSQL: devices table', size);
  await c.end();
  await store.close();
  pg.kill('SIGINT');
}
agent.destroy();
