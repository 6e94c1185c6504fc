/**
 * kill -9 of the whole built daemon at the moments its requests reach the verifier, then a
 * restart: the daemon carries on (same device, a key the verifier takes, a fresh attestation
 * accepted), nothing on disk is half-written. The moment is hit for real: the tap in front of the
 * verifier sees the request arrive, holds it unanswered, and the test kills the daemon then.
 * - mid-attestation: the push of the startup attestation;
 * - mid-rotation: `POST /v1/admin/rotate` on the local API, killed when the rotation statement
 *   reaches the verifier (the new key is in place on the device, the verifier never heard of it).
 */
import type { ServerResponse } from 'node:http';
import { PUSH_PATH } from '../../../src/shared/claims.js';
import { assertBuilt } from '../../helpers/cli.js';
import { callApi } from './local-api-client.js';
import type { RunningDaemon } from './daemon-process.js';
import {
  carriesOn,
  enrolledDevice,
  stateOnDisk,
  verifierBehindTap,
  type EnrolledDevice,
  type VerifierBehindTap,
} from './enrolled-daemon.js';

describe('posture daemon: kill -9 while a request is at the verifier', () => {
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

  /** Holds the first request matching, unanswered; resolves when it arrives. */
  function holdFirst(method: string, path: string): Promise<void> {
    return new Promise((resolve) => {
      v.tap.onRequest((req, res) => {
        if (req.method !== method || req.url !== path) return false;
        v.tap.onRequest(undefined);
        held.push(res);
        resolve();
        return true;
      });
    });
  }

  it('mid-attestation: killed while its push is at the verifier, it carries on after a restart', async () => {
    device = await enrolledDevice(v, 'kill-push');
    const arrived = holdFirst('POST', PUSH_PATH);
    const first = device.start();
    daemons.push(first);
    await arrived;
    const pushed = first.logs.filter((l) => l.event === 'attestation').at(-1)?.jti;
    expect(pushed).toBeDefined();
    await first.kill9();
    expect((await first.exited).signal).toBe('SIGKILL');
    expect((await device.atVerifier()).newestAttestation?.jti).not.toBe(pushed);
    expect(stateOnDisk(device).leftovers).toEqual([]);

    const again = device.start();
    daemons.push(again);
    await carriesOn(device, again);
    expect(stateOnDisk(device).leftovers).toEqual([]);
  }, 120_000);

  it('mid-rotation: killed while the rotation statement is at the verifier, it carries on after a restart', async () => {
    device = await enrolledDevice(v, 'kill-rotate');
    const first = device.start();
    daemons.push(first);
    await carriesOn(device, first);
    const kidBefore = (await device.atVerifier()).kid;

    const arrived = holdFirst('POST', '/v1/devices/rotate');
    const socket = device.env.POSTURE_SOCKET as string;
    const rotating = callApi(socket, 'POST', '/v1/admin/rotate', JSON.stringify({ apiVersion: 1 })).catch(
      (error: unknown) => error,
    );
    await arrived;
    await first.kill9();
    await rotating;
    // The verifier never got the statement: it still knows the old key.
    expect((await device.atVerifier()).kid).toBe(kidBefore);
    stateOnDisk(device);

    const again = device.start();
    daemons.push(again);
    await carriesOn(device, again);
    // It told the verifier of the rotation it missed, before its first push: the new key is the verifier's.
    const resumed = again.logs.find((l) => l.event === 'rotation_resumed');
    expect(resumed).toBeDefined();
    expect((await device.atVerifier()).kid).toBe(resumed?.kid);
    expect((await device.atVerifier()).kid).not.toBe(kidBefore);
    expect(again.logs.some((l) => l.event === 'push' && l.outcome === 'refused')).toBe(false);
    expect(stateOnDisk(device).leftovers).toEqual([]);
  }, 120_000);
});
