// Verifier service benchmark (part of `npm run bench`): forward-auth throughput, latency and CPU per
// request, direct and through nginx auth_request, for a device that never pushed and for one whose
// pushed attestation is the one presented (the supersede check compares it on every request), on
// SQLite and on PostgreSQL + Redis, beside two baselines measured in the same run:
//   - raw P-256 verification on one core (node:crypto, a real proof's signing input);
//   - the HTTP floor: a Fastify route that does only that one verification per request.
// The goal is the service's rate per core of its own CPU at 0.5 or more of the raw rate.
// With two cores or more the service runs pinned to CPU 0 and the load generator (wrk, nginx) to
// CPU 1, so they do not take turns on one core; "per core" divides requests by the CPU seconds the
// service process (all its threads, user and system) used while serving them.
// Loopback only; every run is bounded by a proof file of fixed length and a duration.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAttestation } from '../dist/attest/attestation.js';
import { signCompact } from '../dist/keys/jws.js';
import { generatePrivateJwk, softwareKey } from '../dist/keys/software-key.js';
import { parseCompact } from '../dist/verifier/tokens.js';
import { benchReport } from './fixtures.js';
import {
  childrenOf,
  cpuSeconds,
  freePort,
  median,
  row,
  sleep,
  startPostgres,
  startRedis,
  waitPort,
} from './lib.js';
import { nginxInstalled, startNginx } from './nginx.js';
import { call, startVerifier } from './verifier-process.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = 16;
const WRK = '/usr/bin/wrk';
const TASKSET = '/usr/bin/taskset';
const pinned = availableParallelism() >= 2 && existsSync(TASKSET);
/** argv that runs `cmd` on `cpu` when pinning is possible. */
const on = (cpu, cmd, args) => (pinned ? [TASKSET, ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

console.log(
  `Verifier service: wrk ${CONNECTIONS} connections, ${RUNS} runs of ${SECONDS} s after a warm-up, median; ` +
    (pinned ? 'service on CPU 0, load generator and proxy on CPU 1' : 'not pinned (one core or no taskset)'),
);
console.log(`${'what'.padEnd(52)} ${'value'.padEnd(22)} note`);
if (!existsSync(WRK)) {
  console.log('wrk is not installed (apt-get install wrk): forward-auth throughput not measured.');
  process.exit(0);
}

// The device, enrolled for real through the service's API below.
const key = await softwareKey(generatePrivateJwk(), 'keychain', 'bench', new Date().toISOString());
const report = benchReport();

// Baseline 1: raw verification of a real proof, one core, three timed seconds.
const sample = await createAttestation({ report, key, audience: 'http://127.0.0.1', deviceId: 'bench' });
const sampleProof = sample.session.proof('GET', 'http://127.0.0.1/app/items', sample.token);
const parts = parseCompact(sampleProof);
const proofKey = createPublicKey({ key: parts.header.jwk, format: 'jwk' });
// The bench process itself runs where the service will, so the raw rate is that core's.
if (pinned) execFileSync(TASKSET, ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
function rawRate(ms = 1000) {
  const t = performance.now();
  let n = 0;
  while (performance.now() - t < ms) {
    if (!verify('sha256', parts.signingInput, { key: proofKey, dsaEncoding: 'ieee-p1363' }, parts.signature))
      throw new Error('the sample proof does not verify');
    n++;
  }
  return n / ((performance.now() - t) / 1000);
}
const raw = median([rawRate(), rawRate(), rawRate()]);
row(
  'raw P-256 verify of a proof (node:crypto, one core)',
  `${raw.toFixed(0)}/s`,
  `${(1e6 / raw).toFixed(1)} µs each`,
);

const dir = mkdtempSync(join(tmpdir(), 'bench-verifier-'));
const proofFile = (attestation, url, count, name) => {
  const file = join(dir, name);
  const lines = [];
  for (let i = 0; i < count; i++)
    lines.push(`${attestation.token}\t${attestation.session.proof('GET', url, attestation.token)}\t${url}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};

function wrk(port, path, file, seconds) {
  const [cmd, args] = on(1, WRK, [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    'bench/wrk-proofs.lua',
    `http://127.0.0.1:${port}`,
  ]);
  const out = execFileSync(cmd, args, {
    env: { ...process.env, POSTURE_BENCH_PROOFS: file, POSTURE_BENCH_PATH: path },
    encoding: 'utf8',
  });
  const toMs = (v) =>
    v.endsWith('us') ? parseFloat(v) / 1000 : v.endsWith('ms') ? parseFloat(v) : parseFloat(v) * 1000;
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    p50: toMs(/\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? 'NaN'),
    p99: toMs(/\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? 'NaN'),
  };
}

/** Pushes `attestation` to the service on `port` as the daemon does (POST /v1/devices/attestation). */
async function pushTo(port, attestation) {
  const url = `http://127.0.0.1:${port}/v1/devices/attestation`;
  const res = await call(port, 'POST', '/v1/devices/attestation', {
    'posture-attestation': attestation.token,
    'posture-proof': attestation.session.proof('POST', url, attestation.token),
  });
  if (res.status !== 200) throw new Error(`the push was refused: ${res.status} ${res.body}`);
}

/**
 * Warm-up, then RUNS measured runs, each with fresh proofs (a proof is good for 60 s). `pids()` are
 * the processes whose CPU is charged to the target; the median run is reported. With `pushPort`, the
 * attestation is first pushed to the service there: the device's newest, compared on every request.
 */
async function measure(name, { port, path, audiencePort, deviceId, pids, extraPids = () => [], pushPort }) {
  const attestation = await createAttestation({
    report,
    key,
    audience: `http://127.0.0.1:${audiencePort}`,
    deviceId,
  });
  if (pushPort) await pushTo(pushPort, attestation);
  const url = `http://127.0.0.1:${port}/app/items`;
  // Enough proofs for the run: no service here comes near the raw verify rate.
  const expected = Math.ceil(raw * SECONDS * 0.75);
  wrk(port, path, proofFile(attestation, url, Math.ceil(raw * 2), 'warm.tsv'), 2);
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const file = proofFile(attestation, url, expected, `run-${r}.tsv`);
    // The machine's speed drifts (a shared VM); each run is set against a raw rate taken just before.
    const rawNow = rawRate(700);
    const before = pids().map(cpuSeconds);
    const extraBefore = extraPids().map(cpuSeconds);
    const result = wrk(port, path, file, SECONDS);
    const cpu = pids().reduce((s, pid, i) => s + cpuSeconds(pid) - before[i], 0);
    const extra = extraPids().reduce((s, pid, i) => s + cpuSeconds(pid) - extraBefore[i], 0);
    // When the proofs run out, wrk's last request on each connection goes without them (401).
    const ranOut = result.requests >= expected;
    if (result.non2xx > (ranOut ? CONNECTIONS : 0))
      throw new Error(`${name}: ${result.non2xx} of ${result.requests} requests were denied`);
    runs.push({
      ...result,
      perCore: result.requests / cpu,
      ratio: result.requests / cpu / rawNow,
      cpuUs: (cpu / result.requests) * 1e6,
      extraUs: (extra / result.requests) * 1e6,
    });
  }
  runs.sort((a, b) => a.ratio - b.ratio);
  const m = runs[Math.floor(runs.length / 2)];
  return { ...m, spread: [runs[0].ratio, runs.at(-1).ratio] };
}

const report1 = (name, m, floor) =>
  row(
    name,
    `${m.rate.toFixed(0)}/s`,
    `p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms; ${m.cpuUs.toFixed(0)} µs CPU/request → ${m.perCore.toFixed(0)}/s per core = ` +
      `${m.ratio.toFixed(2)}× raw verify (goal ≥ 0.5; runs ${m.spread.map((s) => s.toFixed(2)).join('–')})` +
      (floor ? `, ${(m.perCore / floor.perCore).toFixed(2)}× the HTTP floor` : '') +
      (m.extraUs ? `; nginx ${m.extraUs.toFixed(0)} µs CPU/request` : ''),
  );

// Baseline 2: the HTTP floor. (BENCH_ONLY=direct measures the service alone, for quick comparisons.)
const only = process.env.BENCH_ONLY;
const floorPort = await freePort();
const floorProc = spawn(
  ...on(0, process.execPath, [
    'bench/floor-server.js',
    JSON.stringify([
      floorPort,
      parts.header.jwk,
      Buffer.from(parts.signingInput).toString(),
      Buffer.from(parts.signature).toString('base64url'),
    ]),
  ]),
  { stdio: 'inherit' },
);
await waitPort(floorPort);
const floor = only
  ? undefined
  : await measure('HTTP floor', {
      port: floorPort,
      path: '/v1/forward-auth',
      audiencePort: floorPort,
      deviceId: 'bench',
      pids: () => [floorProc.pid],
    });
floorProc.kill('SIGTERM');
if (floor) report1('HTTP floor: Fastify, one verify per request, no more', floor);

/**
 * The service as a process (pinned like the floor), with `stores` ({store, replay}), the decision log
 * in a file, and the bench's device enrolled through its API. `audiences` adds the proxies' URLs.
 */
async function startService(name, stores, audiences = []) {
  const service = await startVerifier({
    dir,
    name,
    stores,
    audiences,
    // wrk (direct) and nginx both call from loopback with nginx's X-Original-* headers.
    trusted: [{ address: '127.0.0.1', proxy: 'nginx' }],
    argv: (cmd, args) => on(0, cmd, args),
    nodeArgs: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
  });
  const { port } = service;
  const token = await service.enrollmentToken();
  const nonce = JSON.parse((await call(port, 'GET', '/v1/nonce')).body).nonce;
  const enrollProof = await signCompact(
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
        JSON.stringify({ token, proof: enrollProof }),
      )
    ).body,
  ).deviceId;
  return { ...service, deviceId };
}

const nginxPort = await freePort();
const sqliteService = await startService(
  'sqlite',
  {
    store: { type: 'sqlite', path: join(dir, 'devices.db') },
    // One device makes the whole load here, so it gets the whole replay store, not a tenth.
    replay: { type: 'memory', capacity: 1_000_000, perDeviceCapacity: 1_000_000 },
  },
  [`http://127.0.0.1:${nginxPort}`],
);
const { port, deviceId } = sqliteService;

const direct = await measure('forward-auth direct', {
  port,
  path: '/v1/forward-auth',
  audiencePort: port,
  deviceId,
  pids: () => [sqliteService.pid],
});
report1('forward-auth direct (SQLite, decision log, metrics)', direct, floor);
const pushedDirect = await measure('forward-auth direct, pushed', {
  port,
  path: '/v1/forward-auth',
  audiencePort: port,
  deviceId,
  pids: () => [sqliteService.pid],
  pushPort: port,
});
report1('… device pushed, supersede check on (SQLite)', pushedDirect, floor);
row(
  'supersede check on SQLite: pushed / never pushed',
  `${(pushedDirect.ratio / direct.ratio).toFixed(2)}×`,
  'ratios to raw verify in this run (goal: no regression, ≈ 1.0)',
);

if (!only && nginxInstalled()) {
  const nginx = await startNginx({
    port: nginxPort,
    verifierPort: port,
    argv: (cmd, args) => on(1, cmd, args),
  });
  const viaNginx = await measure('through nginx', {
    port: nginxPort,
    path: '/app/items',
    audiencePort: nginxPort,
    deviceId,
    pids: () => [sqliteService.pid],
    extraPids: () => childrenOf(nginx.pid),
    pushPort: port,
  });
  await nginx.stop();
  report1('forward-auth through nginx auth_request (device pushed)', viaNginx, floor);
}

await sqliteService.stop();
const logged = readFileSync(sqliteService.log, 'utf8').trim().split('\n');
row(
  'decisions in the verifier\u2019s log after a graceful stop',
  String(logged.length),
  `allowed ${logged.filter((l) => l.includes('"allowed":true')).length} (every request above, warm-ups included)`,
);

// Several replicas' stores: PostgreSQL for devices (held in memory while the replica LISTENs to
// their change notifications: no round trip for the device) and Redis for replay (one round trip a
// proof). One replica measured; the stores run on the load generator's core.
if (!only) {
  const pg = await startPostgres();
  const redis = await startRedis();
  if (pg && redis) {
    const replicas = await startService('replicas', {
      store: { type: 'postgres', url: pg.url },
      replay: { type: 'redis', url: redis.url, perDeviceCapacity: 100_000_000 },
    });
    const m = await measure('forward-auth, PostgreSQL + Redis', {
      port: replicas.port,
      path: '/v1/forward-auth',
      audiencePort: replicas.port,
      deviceId: replicas.deviceId,
      pids: () => [replicas.pid],
    });
    report1('forward-auth direct, PostgreSQL + Redis stores', m, floor);
    const pushed = await measure('forward-auth, PostgreSQL + Redis, pushed', {
      port: replicas.port,
      path: '/v1/forward-auth',
      audiencePort: replicas.port,
      deviceId: replicas.deviceId,
      pids: () => [replicas.pid],
      pushPort: replicas.port,
    });
    report1('… device pushed, supersede check on (PostgreSQL + Redis)', pushed, floor);
    row(
      'supersede check on PostgreSQL + Redis: pushed / never pushed',
      `${(pushed.ratio / m.ratio).toFixed(2)}×`,
      'ratios to raw verify in this run (goal ≈ 1.0: no store round trip added)',
    );
    await replicas.stop();
  } else
    row(
      'forward-auth, PostgreSQL + Redis stores',
      'not measured',
      'postgresql or redis-server not installed',
    );
  pg?.stop();
  redis?.stop();
}
await sleep(100);
