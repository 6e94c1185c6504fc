/* global Response */
// `posture headers` served by the daemon vs signed in process, per call (part of `npm run bench`).
// The built daemon runs here on a socket in a temporary folder (file key, not enrolled, an audience
// configured, the poll once a year); each figure is measured both ways in the same run and given as
// a ratio. Bounded counts; no network.
//   - the CLI: `posture headers` as a whole process (node start, configuration, then the daemon's
//     answer, or a collection + signature in process), against a bare `node -e 0`;
//   - the SDK: createPostureFetch's headers per request (a no-op fetch): one local API call per
//     request on a kept-alive connection, or a proof over the attestation this process holds;
//   - the first request of a new SDK fetch: one local API call (on the process's pooled connection)
//     or a collection + signature.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../dist/agent/config.js';
import { requestDaemonHeaders } from '../dist/agent/daemon/status-client.js';
import { createPostureFetch } from '../dist/agent/sdk.js';
import { quantile, row, sleep } from './lib.js';

const CLI_RUNS = Number(process.env.BENCH_ITERATIONS ?? 7);
// The daemon serves a user 100 signing requests at once, then 100/s (LOCAL_API_LIMITS): batches of
// 90, with a pause that refills the bucket between them (not timed).
const SDK_BATCH = 90;
const SDK_BATCHES = 5;
const SDK_CALLS = SDK_BATCH * SDK_BATCHES;
const FIRST_CALLS = 5;
const AUDIENCE = 'https://app.example.com';
const URL_ = `${AUDIENCE}/api/items`;

const dir = mkdtempSync(join(tmpdir(), `bench-headers-${process.pid}-`));
chmodSync(dir, 0o755);
mkdirSync(join(dir, 'run'), { mode: 0o755 });
const configFile = join(dir, 'config.json');
writeFileSync(
  configFile,
  JSON.stringify({ schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['firewall'] }] } }),
);
const env = {
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/bin',
  HOME: dir,
  NODE_OPTIONS: '',
  POSTURE_CONFIG: configFile,
  POSTURE_CACHE_DIR: join(dir, 'cache'),
  POSTURE_STATE_DIR: join(dir, 'state'),
  POSTURE_KEY_STORE: 'file',
  POSTURE_KEY_FILE: join(dir, 'device-key.json'),
  POSTURE_AUDIENCE: AUDIENCE,
  POSTURE_SOCKET: join(dir, 'run', 'api.sock'),
};
const config = loadConfig({ env, home: dir, readText: () => undefined });

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95) };
};
const ms = (v) => (v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(1)} ms`);
async function time(n, fn, pauseEvery = 0) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    if (pauseEvery && i > 0 && i % pauseEvery === 0) await sleep(1_100);
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return stats(samples);
}
const cli = (args) => () =>
  execFileSync(process.execPath, ['dist/cli/main.js', ...args], { env, stdio: 'ignore' });
const noopFetch = async () => new Response(null, { status: 204 });

const daemon = spawn(process.execPath, ['dist/cli/main.js', 'daemon'], { env, stdio: 'ignore' });
try {
  for (let i = 0; ; i++) {
    try {
      await requestDaemonHeaders(env.POSTURE_SOCKET, { method: 'GET', url: URL_ });
      break;
    } catch (error) {
      if (i > 600) throw new Error(`the daemon never answered: ${error.code ?? error.message}`);
      await sleep(100);
    }
  }

  console.log(
    `posture headers, daemon vs in process: node ${process.version}, ${process.platform} ${process.arch}`,
  );
  console.log(`${'what'.padEnd(52)} ${'p50 / p95'.padEnd(22)} note`);

  // The CLI, whole process. The in-process run collects every check (patch cache warmed first).
  execFileSync(process.execPath, ['dist/cli/main.js', 'headers', '--url', URL_, '--no-daemon'], {
    env,
    stdio: 'ignore',
  });
  const node = await time(CLI_RUNS, () => execFileSync(process.execPath, ['-e', '0']));
  const viaDaemon = await time(CLI_RUNS, cli(['headers', '--url', URL_]));
  const inProcess = await time(CLI_RUNS, cli(['headers', '--url', URL_, '--no-daemon']));
  row('baseline: node -e 0', `${ms(node.p50)} / ${ms(node.p95)}`, `${CLI_RUNS} runs`);
  row(
    'posture headers, served by the daemon',
    `${ms(viaDaemon.p50)} / ${ms(viaDaemon.p95)}`,
    `${(viaDaemon.p50 / node.p50).toFixed(1)}× node start`,
  );
  row(
    'posture headers --no-daemon (collect + sign here)',
    `${ms(inProcess.p50)} / ${ms(inProcess.p95)}`,
    `${(inProcess.p50 / node.p50).toFixed(1)}× node start`,
  );
  row(
    '  ratio daemon / in process (CLI, p50)',
    (viaDaemon.p50 / inProcess.p50).toFixed(2),
    'below 1: the daemon is faster',
  );

  // The SDK, per request.
  const sdkDaemon = createPostureFetch({ config, signer: 'daemon', fetch: noopFetch });
  const sdkProcess = createPostureFetch({ config, signer: 'process', fetch: noopFetch });
  await sdkDaemon(URL_);
  await sdkProcess(URL_);
  await sleep(1_100);
  const perDaemon = await time(SDK_CALLS, (i) => sdkDaemon(`${URL_}/${i}`), SDK_BATCH);
  const perProcess = await time(SDK_CALLS, (i) => sdkProcess(`${URL_}/${i}`), SDK_BATCH);
  row(
    'SDK request headers, from the daemon',
    `${ms(perDaemon.p50)} / ${ms(perDaemon.p95)}`,
    `${SDK_CALLS} requests, kept-alive socket`,
  );
  row(
    'SDK request headers, in process',
    `${ms(perProcess.p50)} / ${ms(perProcess.p95)}`,
    `${SDK_CALLS} requests, attestation held`,
  );
  row(
    '  ratio daemon / in process (SDK, p50)',
    (perDaemon.p50 / perProcess.p50).toFixed(1),
    'above 1: the local API call costs',
  );

  // A new SDK fetch's first request: one local API call vs a collection + signature.
  const firstDaemon = await time(FIRST_CALLS, () =>
    createPostureFetch({ config, signer: 'daemon', fetch: noopFetch })(URL_),
  );
  const firstProcess = await time(FIRST_CALLS, () =>
    createPostureFetch({ config, signer: 'process', fetch: noopFetch })(URL_),
  );
  row(
    'SDK first request of a new fetch, from the daemon',
    `${ms(firstDaemon.p50)} / ${ms(firstDaemon.p95)}`,
    `${FIRST_CALLS} fresh fetches`,
  );
  row(
    'SDK first request of a new fetch, in process',
    `${ms(firstProcess.p50)} / ${ms(firstProcess.p95)}`,
    `${FIRST_CALLS} fresh fetches`,
  );
  row('  ratio daemon / in process (first, p50)', (firstDaemon.p50 / firstProcess.p50).toFixed(2), '');
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
