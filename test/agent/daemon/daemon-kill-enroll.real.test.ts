/**
 * kill -9 of the whole built daemon in the middle of an enrollment asked over the local API
 * (`POST /v1/admin/enroll`), then a restart:
 * - while the enrollment request is at the verifier (the tap holds it): nothing was recorded on
 *   either side; the same token enrolls the device after the restart;
 * - after the verifier took it, while the daemon writes the enrollment record (the daemon under
 *   strace, each fsync(2) delayed; kill-mid-write.ts): the verifier has the device, the device has
 *   no record; enrolling again with a new token works and the daemon carries on.
 */
import { readdirSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import { enrollmentToken } from '../../helpers/service.js';
import { callApi } from './local-api-client.js';
import { waitFor, type RunningDaemon } from './daemon-process.js';
import {
  carriesOn,
  enrolledDevice,
  stateOnDisk,
  verifierBehindTap,
  type EnrolledDevice,
  type VerifierBehindTap,
} from './enrolled-daemon.js';
import { SLOW_FSYNC, STRACE } from './kill-mid-write.js';
import { executable } from './real-parts.js';

describeWith(STRACE, executable(STRACE))('posture daemon: kill -9 mid-enrollment', () => {
  beforeAll(assertBuilt);
  let v: VerifierBehindTap;
  let device: EnrolledDevice | undefined;
  const daemons: RunningDaemon[] = [];
  const held: ServerResponse[] = [];
  beforeAll(async () => {
    v = await verifierBehindTap();
  });
  afterAll(async () => {
    await v.close();
  });
  afterEach(async () => {
    v.tap.onRequest(undefined);
    for (const r of held.splice(0)) r.destroy();
    for (const d of daemons.splice(0)) await d.kill9();
    device?.remove();
  });

  const enroll = (d: EnrolledDevice, token: string) =>
    callApi(
      d.env.POSTURE_SOCKET as string,
      'POST',
      '/v1/admin/enroll',
      JSON.stringify({ apiVersion: 1, token, verifierUrl: v.tap.url }),
    );

  async function enrolledAgain(d: EnrolledDevice, daemon: RunningDaemon, token: string) {
    const answer = await enroll(d, token);
    expect(answer.status).toBe(200);
    d.deviceId = answer.body.deviceId as string;
    await carriesOn(d, daemon);
  }

  it('while the request is at the verifier: the same token enrolls it after a restart', async () => {
    device = await enrolledDevice(v, 'kill-enroll', { enroll: false });
    const first = device.start();
    daemons.push(first);
    await first.waitForLog('the first re-check', (l) => l.event === 'recheck');
    const token = await enrollmentToken(v.svc.call);
    const arrived = new Promise<void>((resolve) =>
      v.tap.onRequest((req, res) => {
        if (req.method !== 'POST' || req.url !== '/v1/enroll') return false;
        held.push(res);
        resolve();
        return true;
      }),
    );
    const enrolling = enroll(device, token).catch((e: unknown) => e);
    await arrived;
    await first.kill9();
    await enrolling;
    v.tap.onRequest(undefined);
    expect(readdirSync(device.env.POSTURE_STATE_DIR as string)).not.toContain('enrollment.json');
    stateOnDisk(device);

    const again = device.start();
    daemons.push(again);
    const s = await waitFor('a status', () => again.status());
    expect(s.status.enrollment.enrolled).toBe(false);
    await enrolledAgain(device, again, token);
  }, 120_000);

  it('while writing the record after the verifier took it: a new token enrolls it after a restart', async () => {
    device = await enrolledDevice(v, 'kill-enroll-write', { enroll: false });
    const first = device.start(SLOW_FSYNC);
    daemons.push(first);
    await first.waitForLog('the first re-check', (l) => l.event === 'recheck');
    const enrolling = enroll(device, await enrollmentToken(v.svc.call)).catch((e: unknown) => e);
    const state = device.env.POSTURE_STATE_DIR as string;
    await waitFor(
      'the enrollment record being written',
      () => readdirSync(state).find((n) => /^enrollment\.json\.\d+\.[0-9a-f]+\.tmp$/.test(n)),
      60_000,
      20,
    );
    await first.kill9();
    await enrolling;
    expect(readdirSync(state)).not.toContain('enrollment.json');
    stateOnDisk(device);

    const again = device.start();
    daemons.push(again);
    await waitFor('a status', () => again.status());
    await enrolledAgain(device, again, await enrollmentToken(v.svc.call));
    expect(stateOnDisk(device).leftovers.filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});
