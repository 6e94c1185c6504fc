/**
 * The built `posture daemon` choosing its device key as a system service: no session bus (no
 * keychain), keyStore "auto", asked through its local API socket and `posture status --json`.
 * (a) a TPM (swtpm, through its TCTI) → the daemon enrolls through the local API against the real
 *     verifier service with key_protection "tpm", and the verifier and `posture status` show it;
 * (b) no TPM → the coded refusal in the log and in `posture status` (device_key_unavailable,
 *     ERR_NO_SERVICE_KEY_STORE), enrollment refused, no key written anywhere, the daemon keeps
 *     running (no crash loop) and stops cleanly;
 * (c) keyStore "file" set explicitly → enrolls and reports "file".
 * Generous timeouts, no timing assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusResponseSchema, type StatusResponse } from '../../../src/shared/local-api.js';
import { freePort } from '../../fakes/ports.js';
import { startSwtpm, swtpmAvailable, type Swtpm } from '../../fakes/swtpm.js';
import { assertBuilt, CLI, posture } from '../../helpers/cli.js';
import {
  admin,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import { callApi } from './local-api-client.js';
import { describeWithPart, isRoot } from './real-parts.js';

interface LogLine {
  event: string;
  code?: string;
  error?: string;
  protection?: string;
  recorded?: boolean;
}

interface Running {
  dir: string;
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
  logs: LogLine[];
  exited: Promise<number | null>;
}

const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** The daemon as a service runs it: no session bus, no HOME keyring; everything else in `dir`. */
function startDaemon(extra: NodeJS.ProcessEnv): Running {
  const dir = mkdtempSync(join(tmpdir(), `pa-svckey-${unique()}-`));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['firewall'] }] } }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    NODE_OPTIONS: '',
    POSTURE_CONFIG: config,
    POSTURE_CACHE_DIR: join(dir, 'cache'),
    POSTURE_STATE_DIR: join(dir, 'state'),
    POSTURE_SOCKET: join(dir, 'run', 'api.sock'),
    ...extra,
  };
  const child = spawn(process.execPath, [CLI, 'daemon'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) logs.push(JSON.parse(line) as LogLine);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { dir, env, child, logs, exited };
}

async function stopDaemon(d: Running | undefined): Promise<number | null | undefined> {
  if (!d) return undefined;
  if (d.child.exitCode === null) d.child.kill('SIGTERM');
  const code = await d.exited;
  rmSync(d.dir, { recursive: true, force: true });
  return code;
}

async function status(env: NodeJS.ProcessEnv): Promise<StatusResponse | undefined> {
  const r = await posture(['status', '--json'], env);
  return r.code === 0 ? statusResponseSchema.parse(JSON.parse(r.stdout)) : undefined;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Files under `dir` whose name says they hold a device key. */
const keyFilesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true }).filter((f) => String(f).includes('device-key'));

/** The verifier service on a port known before it starts, so its public URL is its own address. */
async function verifier(): Promise<{ svc: TestService; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const svc = await testService({ config: serviceConfig({ publicUrl: url, audience: [url] }), port });
  return { svc, url };
}

async function enrollThroughDaemon(d: Running, svc: TestService, url: string) {
  return callApi(
    d.env.POSTURE_SOCKET as string,
    'POST',
    '/v1/admin/enroll',
    JSON.stringify({ apiVersion: 1, token: await enrollmentToken(svc.call), verifierUrl: url }),
    { 'content-type': 'application/json' },
  );
}

/** Enrolled, attested with `protection`, and the verifier records the same. */
async function expectEnrolledAs(d: Running, svc: TestService, url: string, protection: string) {
  await waitFor('the daemon answering', () => status(d.env));
  const enrolled = await enrollThroughDaemon(d, svc, url);
  expect(enrolled.status).toBe(200);
  expect(enrolled.body).toMatchObject({ keyProtection: protection });
  const deviceId = enrolled.body.deviceId as string;
  const shown = await waitFor('the enrolled status with an attestation', async () => {
    const s = await status(d.env);
    return s?.status.enrollment.enrolled && s.status.enrollment.keyProtection ? s : undefined;
  });
  expect(shown.status.enrollment).toMatchObject({ enrolled: true, deviceId, keyProtection: protection });
  const device = await svc.call({ method: 'GET', url: `/v1/admin/devices/${deviceId}`, headers: admin });
  expect(device.json()).toMatchObject({ keyProtection: protection });
  return deviceId;
}

describeWithPart(isRoot() && swtpmAvailable(), 'root, swtpm and tpm2-tools')(
  'posture daemon with keyStore auto and a TPM (swtpm)',
  () => {
    beforeAll(assertBuilt);

    it('(a) makes its key in the TPM and enrolls with key_protection "tpm"', async () => {
      let tpm: Swtpm | undefined;
      let d: Running | undefined;
      try {
        tpm = await startSwtpm();
        const { svc, url } = await verifier();
        d = startDaemon({ POSTURE_TPM_TCTI: tpm.tcti });
        const home = await waitFor('the device_key log line', () =>
          (d as Running).logs.find((l) => l.event === 'device_key'),
        );
        expect(home).toMatchObject({ protection: 'tpm', recorded: false });
        await expectEnrolledAs(d, svc, url, 'tpm');
        expect(keyFilesUnder(d.dir)).toEqual(['state/device-key.json']); // public facts only
        const state = JSON.parse(readFileSync(join(d.dir, 'state', 'device-key.json'), 'utf8')) as {
          active: { store: string; ref: string };
        };
        expect(state.active).toMatchObject({ store: 'tpm', ref: '0x81000100' });
        const s = await status(d.env);
        expect(s?.status.problems.map((p) => p.code)).not.toContain('device_key_unavailable');
        expect(await stopDaemon(d)).toBe(0);
        d = undefined;
      } finally {
        await stopDaemon(d);
        await tpm?.stop();
      }
    });
  },
);

describeWithPart(isRoot() && !existsSync('/dev/tpmrm0'), 'root on a machine without /dev/tpmrm0')(
  'posture daemon with keyStore auto and no TPM',
  () => {
    beforeAll(assertBuilt);

    it('(b) says ERR_NO_SERVICE_KEY_STORE in its log and status, refuses to enroll, writes no key, keeps running', async () => {
      let d: Running | undefined;
      try {
        const { svc, url } = await verifier();
        d = startDaemon({});
        const shown = await waitFor('device_key_unavailable in the status', async () => {
          const s = await status((d as Running).env);
          return s?.status.problems.some((p) => p.code === 'device_key_unavailable') ? s : undefined;
        });
        expect(shown.status.state).toBe('degraded');
        expect(d.logs.find((l) => l.code === 'device_key_unavailable')).toMatchObject({
          event: 'problem',
          error: 'ERR_NO_SERVICE_KEY_STORE',
        });
        expect(d.logs.some((l) => l.event === 'device_key')).toBe(false);
        const text = await posture(['status'], d.env);
        expect(text.stdout).toMatch(/problem\s+device_key_unavailable/);

        const refused = await enrollThroughDaemon(d, svc, url);
        expect(refused.status).toBe(503);
        expect(refused.body.error).toBe('unavailable');
        expect(
          (await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).json(),
        ).toMatchObject({ devices: [] });

        // Still running and answering after the refusal (a service that exited would restart in a loop).
        await new Promise((r) => setTimeout(r, 2_000));
        expect(d.child.exitCode).toBeNull();
        expect((await status(d.env))?.status.problems.map((p) => p.code)).toContain('device_key_unavailable');
        expect(keyFilesUnder(d.dir)).toEqual([]);
        expect(await stopDaemon(d)).toBe(0);
        d = undefined;
      } finally {
        await stopDaemon(d);
      }
    });
  },
);

describeWithPart(isRoot(), 'root')('posture daemon with keyStore file set explicitly', () => {
  beforeAll(assertBuilt);

  it('(c) enrolls with key_protection "file"', async () => {
    let d: Running | undefined;
    try {
      const { svc, url } = await verifier();
      const keyDir = mkdtempSync(join(tmpdir(), `pa-svckey-file-${unique()}-`));
      try {
        d = startDaemon({ POSTURE_KEY_STORE: 'file', POSTURE_KEY_FILE: join(keyDir, 'device-key.json') });
        await expectEnrolledAs(d, svc, url, 'file');
        expect(readdirSync(keyDir)).toEqual(['device-key.json']);
        expect(await stopDaemon(d)).toBe(0);
        d = undefined;
      } finally {
        rmSync(keyDir, { recursive: true, force: true });
      }
    } finally {
      await stopDaemon(d);
    }
  });
});
