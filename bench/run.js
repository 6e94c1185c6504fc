// Benchmarks for `npm run bench` (which builds first). Wall times on this machine, median and p95
// of repeated runs; the CLI figures are also given as a ratio to a bare `node -e 0` start measured
// in the same run. Bounded: a fixed number of iterations, no network.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../dist/agent/config.js';
import { collectFrom } from '../dist/agent/collect.js';
import { createLiveHost } from '../dist/probes/live-host.js';
import { osFamily, probesFor } from '../dist/probes/registry.js';
import { runProbe } from '../dist/probes/run.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 7);
const cacheDir = mkdtempSync(join(tmpdir(), 'posture-bench-'));
const config = loadConfig({ env: { POSTURE_CACHE_DIR: cacheDir }, readText: () => undefined });

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p95: at(0.95) };
}

async function time(fn) {
  const samples = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

const rows = [];
const add = (name, s, note = '') => rows.push({ name, median: s.median, p95: s.p95, note });

// In process: what the daemon pays per check.
add(
  'full check, cold (no cache, new host)',
  await time(() => collectFrom(createLiveHost(), config, { cache: false })),
);
await collectFrom(createLiveHost(), config, { cache: true }); // fill the patch cache
add(
  'full check, warm (patch cache filled)',
  await time(() => collectFrom(createLiveHost(), config, { cache: true })),
);
const host = createLiveHost();
for (const probe of probesFor(osFamily(process.platform))) {
  add(`probe ${probe.check}`, await time(() => runProbe(host, probe)));
}
add('inventory (systeminformation)', await time(() => createLiveHost().inventory()));

// Whole process: what a person typing `posture check` waits for.
const node = await time(() => execFileSync(process.execPath, ['-e', '0']));
add('baseline: node -e 0', node);
const cliEnv = { ...process.env, POSTURE_CACHE_DIR: cacheDir };
const cli = (args) => () =>
  execFileSync(process.execPath, ['dist/cli/main.js', ...args], { env: cliEnv, stdio: 'ignore' }).toString();
const run = (args) => () => {
  try {
    cli(args)();
  } catch {
    // exit 1/2 (a failing or unknown check) is a normal outcome here
  }
};
const cold = await time(run(['check', '--no-cache']));
add('posture check --no-cache (process)', cold, `${(cold.median / node.median).toFixed(1)}× node start`);
const warm = await time(run(['check']));
add('posture check, warm cache (process)', warm, `${(warm.median / node.median).toFixed(1)}× node start`);

rmSync(cacheDir, { recursive: true, force: true });
const pad = (s, n) => String(s).padEnd(n);
console.log(
  `Posture Agent benchmarks: ${ITERATIONS} runs each, ${process.platform} ${process.arch}, node ${process.version}`,
);
console.log(`${pad('what', 42)} ${pad('median ms', 10)} ${pad('p95 ms', 10)} note`);
for (const r of rows)
  console.log(`${pad(r.name, 42)} ${pad(r.median.toFixed(1), 10)} ${pad(r.p95.toFixed(1), 10)} ${r.note}`);
