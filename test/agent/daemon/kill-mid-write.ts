/**
 * kill -9 of the whole built daemon in the middle of writing a file, then a restart (the tests are
 * daemon-kill-*-write.real.test.ts). The moment is hit for real and every time: the daemon runs
 * under strace, which delays each fsync(2) by a second (`-e inject=fsync:delay_enter`), so a file
 * being written is seen from outside (its temporary name in the folder) while the daemon is still
 * inside the write; the test kills it then. The writes are those of a key rotation asked over the
 * local API (`POST /v1/admin/rotate`). After each: every file the agent keeps is whole; the
 * restarted daemon carries on (same device, an attestation the verifier accepts, never a refusal)
 * and rotates again, which clears the temporaries the killed one left.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { callApi } from './local-api-client.js';
import { waitFor, type RunningDaemon } from './daemon-process.js';
import {
  carriesOn,
  enrolledDevice,
  stateOnDisk,
  type EnrolledDevice,
  type VerifierBehindTap,
} from './enrolled-daemon.js';

export const STRACE = '/usr/bin/strace';
/** Every fsync(2) of the daemon (and its children) waits a second before it runs. */
export const SLOW_FSYNC = [
  STRACE,
  '-f',
  '-qq',
  '-o',
  '/dev/null',
  '-e',
  'trace=fsync',
  '-e',
  'inject=fsync:delay_enter=1s',
  '--',
];

export interface WriteMoment {
  name: string;
  folder: (d: EnrolledDevice) => string;
  file: RegExp;
}

export const NEW_KEY_FILE: WriteMoment = {
  name: 'the new key file (before anything records it)',
  folder: (d) => dirname(d.env.POSTURE_KEY_FILE as string),
  file: /^device-key\.json\.new-/,
};
export const KEY_STATE: WriteMoment = {
  name: 'the key state (the new key recorded as pending)',
  folder: (d) => d.env.POSTURE_STATE_DIR as string,
  file: /^device-key\.json\.\d+\.[0-9a-f]+\.tmp$/,
};
export const ENROLLMENT: WriteMoment = {
  name: 'the enrollment (after the verifier took the rotation)',
  folder: (d) => d.env.POSTURE_STATE_DIR as string,
  file: /^enrollment\.json\.\d+\.[0-9a-f]+\.tmp$/,
};

const rotate = (device: EnrolledDevice) =>
  callApi(device.env.POSTURE_SOCKET as string, 'POST', '/v1/admin/rotate', JSON.stringify({ apiVersion: 1 }));

/** Runs one moment; `daemons` collects what to kill afterwards. Returns what was left on disk. */
export async function killMidWrite(v: VerifierBehindTap, moment: WriteMoment, daemons: RunningDaemon[]) {
  const device = await enrolledDevice(v, 'kill-write');
  try {
    const first = device.start(SLOW_FSYNC);
    daemons.push(first);
    await carriesOn(device, first);
    const kidBefore = (await device.atVerifier()).kid;

    const rotating = rotate(device).catch((error: unknown) => error);
    const folder = moment.folder(device);
    const caught = await waitFor(
      `${moment.name} being written`,
      () => readdirSync(folder).find((n) => moment.file.test(n)),
      60_000,
      20,
    );
    // Inside the delayed fsync: the temporary file is there, not yet renamed over its target.
    await first.kill9();
    expect(readdirSync(folder)).toContain(caught);
    await rotating;
    const killed = stateOnDisk(device); // throws on a half-written file
    expect(killed.whole.map((p) => basename(p))).toEqual(
      expect.arrayContaining(['enrollment.json', 'device-key.json']),
    );

    const again = device.start();
    daemons.push(again);
    await carriesOn(device, again);
    const kidAfter = (await device.atVerifier()).kid;
    expect(again.logs.some((l) => l.event === 'push' && l.outcome === 'refused')).toBe(false);

    // It rotates again, and the verifier follows; the killed write's temporaries are gone.
    const rotated = await rotate(device);
    expect(rotated.status).toBe(200);
    const keyId = rotated.body.keyId as string;
    await waitFor('the verifier on the new key', async () =>
      (await device.atVerifier()).kid === keyId ? true : undefined,
    );
    const from = again.logs.length;
    await again.waitForLog(
      'an accepted push with the new key',
      (l) => l.event === 'push' && l.outcome === 'accepted',
      from,
    );
    const left = stateOnDisk(device).leftovers.map((p) => basename(p));
    expect(left.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    return { kidBefore, kidAfter, leftovers: left };
  } finally {
    device.remove();
  }
}
