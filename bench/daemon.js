// Daemon benchmarks (part of `npm run bench`), on real parts (bench/daemon-rig.js): the built
// `posture daemon` in a network namespace under a real nftables ruleset, the verifier as a process,
// nginx auth_request in front.
//   - Drift to denial: from the ruleset switch (`nft flush ruleset`) to (a) the daemon's log line of
//     its failing attestation accepted by the verifier (the verifier's answer is in: an upper bound
//     of when the verifier recorded it) and (b) the first request through nginx, with a client's
//     unexpired attestation made before the switch, that is denied; then the way back (the ruleset
//     restored → the passing attestation accepted). SQLite, and two replicas on PostgreSQL + Redis
//     (the daemon pushes to replica A, nginx asks replica B: B learns it through LISTEN/NOTIFY).
//   - Idle: RSS and CPU of the daemon (its own process, the `nft monitor` it keeps, and the probes it
//     ran and reaped) over BENCH_IDLE_SECONDS (default 600); then CPU per re-check and RSS after
//     BENCH_RECHECKS (default 1,000) re-checks, each triggered by an nft ruleset event (the local
//     API's re-check is rate limited per user to a burst of 3 and one per 10 s; an nft event is what
//     a real change triggers, and is not limited).
// BENCH_DAEMON picks the parts (default `drift-sqlite,drift-postgres,idle`); BENCH_DRIFT_SWITCHES the
// switches per store (default 20, each = off then on).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createAttestation } from '../dist/attest/attestation.js';
import { postureHeaders } from '../dist/attest/headers.js';
import { DAEMON_ENV, DROP, missingParts, NFT, startRig, waitForNftEvents } from './daemon-rig.js';
import { benchReport } from './fixtures.js';
import { childrenOf, quantile, row, sleep } from './lib.js';
import { call } from './verifier-process.js';

const SWITCHES = Number(process.env.BENCH_DRIFT_SWITCHES ?? 20);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 600);
const RECHECKS = Number(process.env.BENCH_RECHECKS ?? 1000);
const PARTS = (process.env.BENCH_DAEMON ?? 'drift-sqlite,drift-postgres,idle').split(',');
const TICKS = 100; // USER_HZ (`getconf CLK_TCK`) on Linux

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const ms = (v) => `${v.toFixed(0)} ms`;
const p = (values, q) =>
  quantile(
    [...values].sort((a, b) => a - b),
    q,
  );

console.log(`\nPosture daemon: ${new Date().toISOString()}, load average ${load()}`);
console.log(`${'what'.padEnd(52)} ${'value'.padEnd(22)} note`);
const missing = missingParts();
if (missing) {
  console.log(`daemon benchmarks not run: ${missing}`);
  process.exit(0);
}

/** A request through nginx with `attestation` and a fresh proof; resolves with the status. */
async function viaNginx(rig, attestation) {
  const path = '/payroll/2026';
  const res = await call(
    rig.nginx.port,
    'GET',
    path,
    postureHeaders(attestation, 'GET', `${rig.base}${path}`),
  );
  return res.status;
}

/** An attestation by the device's key, issued in a later second than the newest the verifier holds. */
async function clientAttestation(rig) {
  const device = await rig.pushed.device(rig.deviceId);
  const after = Math.floor(Date.parse(device.newestAttestation.issuedAt) / 1000) * 1000 + 1000;
  while (Date.now() < after) await sleep(after - Date.now());
  return createAttestation({
    report: benchReport(),
    key: rig.key,
    audience: rig.base,
    deviceId: rig.deviceId,
  });
}

/** Requests through nginx back to back until one is not let through: its status and arrival time. */
async function firstDenial(rig, attestation, ms = 30_000) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const status = await viaNginx(rig, attestation);
    if (status !== 200) return { status, at: performance.now() };
    await sleep(5);
  }
  throw new Error(`still let through ${ms} ms after the switch`);
}

const pushOf = (allowed) => (l) =>
  l.event === 'push' && l.outcome === 'accepted' && l.heartbeat === false && l.allowed === allowed;

async function drift(stores) {
  const label = stores === 'postgres' ? 'PostgreSQL + Redis, two replicas' : 'SQLite';
  const rig = await startRig(stores);
  try {
    await waitForNftEvents(rig);
    await rig.log.next('a settled daemon', () => false, 2000).catch(() => undefined);
    const toPush = [];
    const toDenial = [];
    const toBack = [];
    const statuses = new Set();
    for (let i = 0; i < SWITCHES; i++) {
      const client = await clientAttestation(rig);
      const before = await viaNginx(rig, client);
      if (before !== 200)
        throw new Error(`switch ${i}: the client was not let through before it (${before})`);
      const failing = rig.log.next('the failing push', pushOf(false), 30_000);
      const t0 = performance.now();
      rig.ns.run(NFT, ['flush', 'ruleset']);
      const [pushed, denied] = await Promise.all([failing, firstDenial(rig, client)]);
      toPush.push(pushed.arrivedAt - t0);
      toDenial.push(denied.at - t0);
      statuses.add(denied.status);
      const passing = rig.log.next('the passing push', pushOf(true), 30_000);
      const t1 = performance.now();
      rig.ns.nft(DROP);
      toBack.push((await passing).arrivedAt - t1);
    }
    const superseded = readFileSync(rig.asked.log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('attestation_superseded')).length;
    const goal = (v) => (p(v, 0.95) < 5000 ? 'goal p95 < 5 s: met' : 'goal p95 < 5 s: NOT met');
    row(
      `drift → push accepted (${label})`,
      `p50 ${ms(p(toPush, 0.5))}, p95 ${ms(p(toPush, 0.95))}`,
      `${SWITCHES} switches, max ${ms(Math.max(...toPush))}; ${goal(toPush)}`,
    );
    row(
      `drift → first denial through nginx (${label})`,
      `p50 ${ms(p(toDenial, 0.5))}, p95 ${ms(p(toDenial, 0.95))}`,
      `max ${ms(Math.max(...toDenial))}; status ${[...statuses].join(', ')}; ${superseded} attestation_superseded in the log of the replica nginx asks; ${goal(toDenial)}`,
    );
    row(
      `ruleset restored → passing push accepted (${label})`,
      `p50 ${ms(p(toBack, 0.5))}, p95 ${ms(p(toBack, 0.95))}`,
      `load average now ${load()}`,
    );
  } finally {
    await rig.stop();
  }
}

/** CPU seconds of `pid` and what it ran: own, reaped children's, and live children's (nft monitor). */
function cpuOfTree(pid) {
  const fields = (id) => readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1].split(' ');
  const sum = (f, from, to) => f.slice(from, to + 1).reduce((s, v) => s + Number(v), 0);
  let ticks = sum(fields(pid), 11, 14);
  for (const child of childrenOf(pid)) {
    try {
      ticks += sum(fields(child), 11, 14);
    } catch {
      // it ended meanwhile: its time is in the parent's reaped-children fields
    }
  }
  return ticks / TICKS;
}

/** A /proc/<pid>/status field in MB: VmRSS, or RssAnon (the process's own memory, without the mapped node binary and libraries, which are shared and which the kernel may drop under pressure). */
const statusMb = (pid, field) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const rssMb = (pid) => statusMb(pid, 'VmRSS');
const anonMb = (pid) => statusMb(pid, 'RssAnon');

async function idle() {
  const rig = await startRig('sqlite');
  try {
    const pid = rig.daemon.pid;
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node')
      throw new Error('the daemon pid is not node');
    await waitForNftEvents(rig);
    await sleep(5000);
    const loadBefore = load();
    const linesBefore = rig.log.lines.length;
    const cpu0 = cpuOfTree(pid);
    const t0 = performance.now();
    const rss = [rssMb(pid)];
    const anon = [anonMb(pid)];
    while (performance.now() - t0 < IDLE_SECONDS * 1000) {
      await sleep(Math.min(5000, IDLE_SECONDS * 1000 - (performance.now() - t0)));
      rss.push(rssMb(pid));
      anon.push(anonMb(pid));
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuOfTree(pid) - cpu0;
    const during = rig.log.lines.slice(linesBefore);
    const heartbeats = during.filter((l) => l.event === 'push' && l.heartbeat === true).length;
    const rechecks = during.filter((l) => l.event === 'recheck').length;
    row(
      `daemon idle ${(wall / 60).toFixed(1)} min: RSS`,
      `${rss[0].toFixed(1)} → ${rss.at(-1).toFixed(1)} MB`,
      `max ${Math.max(...rss).toFixed(1)} MB (goal < 60 MB); unit environment ${JSON.stringify(DAEMON_ENV)}; ${heartbeats} heartbeats pushed, ${rechecks} re-checks`,
    );
    row(
      `daemon idle ${(wall / 60).toFixed(1)} min: RssAnon (own memory)`,
      `${anon[0].toFixed(1)} → ${anon.at(-1).toFixed(1)} MB`,
      `max ${Math.max(...anon).toFixed(1)} MB; the rest of RSS is the node binary and libraries (file-backed, shared)`,
    );
    row(
      `daemon idle ${(wall / 60).toFixed(1)} min: CPU`,
      `${((cpu / wall) * 100).toFixed(3)} % of a core`,
      `${cpu.toFixed(2)} CPU s in ${wall.toFixed(0)} s (goal < 0.2 %); load average ${loadBefore} → ${load()}`,
    );

    // Re-checks from nft events: a counter added to and deleted from a table of its own, which
    // changes no verdict (each re-check re-probes the firewall and keeps the attestation).
    rig.ns.nft('table ip pa_bench { }\n');
    await sleep(1000);
    const rechecked = (i) =>
      rig.log.next(
        `re-check ${i}`,
        (l) => l.event === 'recheck' && l.trigger?.includes('firewall_ruleset'),
        30_000,
      );
    const once = async (i) => {
      const seen = rechecked(i);
      rig.ns.nft(i % 2 === 0 ? 'add counter ip pa_bench c\n' : 'delete counter ip pa_bench c\n');
      return seen;
    };
    const cpuStart = cpuOfTree(pid);
    const tStart = performance.now();
    const results = [];
    const mark = Math.min(100, Math.ceil(RECHECKS / 10));
    let rssMark = 0;
    let anonMark = 0;
    for (let i = 0; i < RECHECKS; i++) {
      results.push(await once(i));
      if (i === mark - 1) [rssMark, anonMark] = [rssMb(pid), anonMb(pid)];
    }
    const cpuAll = cpuOfTree(pid) - cpuStart;
    const wallAll = (performance.now() - tStart) / 1000;
    const [rssEnd, anonEnd] = [rssMb(pid), anonMb(pid)];
    const issued = results.filter((l) => l.attestation === 'issued').length;
    const durations = results.map((l) => l.durationMs);
    row(
      'daemon: CPU per re-check (nft event → firewall re-probed)',
      `${((cpuAll / RECHECKS) * 1000).toFixed(1)} ms CPU`,
      `${RECHECKS} re-checks in ${wallAll.toFixed(0)} s; re-check run p50 ${ms(p(durations, 0.5))}, p95 ${ms(p(durations, 0.95))}; ${issued} signed a new attestation`,
    );
    row(
      `daemon: RSS after ${mark} and after ${RECHECKS} re-checks`,
      `${rssMark.toFixed(1)} → ${rssEnd.toFixed(1)} MB`,
      `${(rssEnd - rssMark >= 0 ? '+' : '') + (rssEnd - rssMark).toFixed(1)} MB (RssAnon ${anonMark.toFixed(1)} → ${anonEnd.toFixed(1)} MB); load average ${load()}`,
    );
  } finally {
    await rig.stop();
  }
}

for (const part of PARTS) {
  if (part === 'drift-sqlite') await drift('sqlite');
  else if (part === 'drift-postgres') await drift('postgres');
  else if (part === 'idle') await idle();
  else throw new Error(`unknown BENCH_DAEMON part ${part}`);
}
