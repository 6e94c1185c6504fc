/**
 * An enrolled daemon for the fault tests: the real verifier (SQLite, real HTTP) behind a tap
 * (verifier-tap.ts), a device enrolled by the built `posture enroll` with a file key, and helpers
 * to start the built daemon on it (plainly, or wrapped), to ask the verifier what it holds, and
 * to check the state left on disk.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { validatePolicy } from '../../../src/shared/policy.js';
import { CLI, posture } from '../../helpers/cli.js';
import {
  admin,
  APP_AUDIENCE,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import { daemonEnv, startDaemon, waitFor, type RunningDaemon } from './daemon-process.js';
import { startVerifierTap, type VerifierTap } from './verifier-tap.js';

/** Nothing required: these tests are about the daemon carrying on, not about this machine's posture. */
export const LENIENT_POLICY = validatePolicy({
  version: 1,
  revision: 'faults',
  checks: {
    firewall: { required: false },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
});

export interface VerifierBehindTap {
  svc: TestService;
  tap: VerifierTap;
  close(): Promise<void>;
}

export async function verifierBehindTap(): Promise<VerifierBehindTap> {
  const tap = await startVerifierTap();
  const svc = await testService({
    config: serviceConfig({ publicUrl: tap.url, audience: [APP_AUDIENCE, tap.url] }),
  });
  svc.setPolicy(LENIENT_POLICY);
  tap.forwardTo(Number(new URL(svc.url).port));
  return { svc, tap, close: () => tap.close() };
}

export interface EnrolledDevice {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The verifier's id for it (empty while not enrolled). */
  deviceId: string;
  start(wrap?: string[]): RunningDaemon;
  /** What the verifier holds for the device (admin API). */
  atVerifier(): Promise<{ kid: string; newestAttestation: { jti: string } | null }>;
  remove(): void;
}

/**
 * A fresh device folder, enrolled with the verifier through the tap (`posture enroll`). `prepare`
 * runs first and may change the environment (another state folder); `wrap` is put before the
 * enroll command and is the daemon's default wrap (a namespace to enter). `enroll: false` leaves
 * it unenrolled (`deviceId` empty until the test sets it).
 */
export async function enrolledDevice(
  v: VerifierBehindTap,
  name: string,
  options: { prepare?: (dir: string) => Promise<NodeJS.ProcessEnv>; wrap?: string[]; enroll?: boolean } = {},
): Promise<EnrolledDevice> {
  const dir = mkdtempSync(
    join(tmpdir(), `pa-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}-`),
  );
  const env = daemonEnv(dir, { POSTURE_AUDIENCE: v.tap.url, ...(await options.prepare?.(dir)) });
  const wrap = options.wrap;
  let deviceId = '';
  if (options.enroll !== false) {
    const token = await enrollmentToken(v.svc.call);
    const args = ['enroll', '--server', v.tap.url, '--token', token, '--json'];
    const enrolled = wrap
      ? await posture([...wrap.slice(1), process.execPath, CLI, ...args], env, wrap[0])
      : await posture(args, env);
    if (enrolled.code !== 0) throw new Error(`posture enroll failed: ${enrolled.stdout} ${enrolled.stderr}`);
    deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
  }
  const device: EnrolledDevice = {
    dir,
    env,
    deviceId,
    start: (w = wrap) => startDaemon({ env, ...(w ? { wrap: w } : {}) }),
    atVerifier: async () =>
      (
        await v.svc.call({ method: 'GET', url: `/v1/admin/devices/${device.deviceId}`, headers: admin })
      ).json() as {
        kid: string;
        newestAttestation: { jti: string } | null;
      },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  return device;
}

/**
 * The daemon carries on: it is enrolled as the same device, its newest attestation is accepted by
 * the verifier (allowed) and is the verifier's newest. Returns the accepted push line.
 */
export async function carriesOn(device: EnrolledDevice, daemon: RunningDaemon) {
  const status = await waitFor('a judged status', async () => {
    const s = await daemon.status();
    return s?.status.lastRecheck ? s : undefined;
  });
  expect(status.status.enrollment).toMatchObject({ enrolled: true, deviceId: device.deviceId });
  const accepted = await daemon.waitForLog(
    'an accepted push',
    (l) => l.event === 'push' && l.outcome === 'accepted',
  );
  expect(accepted).toMatchObject({ allowed: true });
  await waitFor('the daemon’s newest attestation at the verifier', async () => {
    const signed = daemon.logs.filter((l) => l.event === 'attestation').at(-1)?.jti;
    return signed && (await device.atVerifier()).newestAttestation?.jti === signed ? true : undefined;
  });
  return accepted;
}

/**
 * Every file the agent keeps (the state folder and the key file's folder) is whole: each target
 * parses as JSON. Returns the temporary files left beside them (`*.tmp`, `*.new-*`).
 */
export function stateOnDisk(device: EnrolledDevice): { whole: string[]; leftovers: string[] } {
  const keyFile = device.env.POSTURE_KEY_FILE as string;
  const stateDir = device.env.POSTURE_STATE_DIR as string;
  const whole: string[] = [];
  const leftovers: string[] = [];
  const look = (folder: string, keep: (name: string) => boolean) => {
    for (const name of readdirSync(folder).filter(keep)) {
      const path = join(folder, name);
      if (/\.tmp$|\.new-/.test(name)) leftovers.push(path);
      else if (name.endsWith('.json')) {
        JSON.parse(readFileSync(path, 'utf8')); // throws on a half-written file
        whole.push(path);
      }
    }
  };
  look(stateDir, () => true);
  look(dirname(keyFile), (n) => n.startsWith(basename(keyFile)));
  return { whole, leftovers };
}
