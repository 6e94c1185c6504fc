/**
 * The device key's life with a verifier, as every front end (CLI, daemon, tray) runs it: rotating
 * and telling the verifier, enrolling (with a new key when the old one is revoked), and deleting
 * replaced keys only once the verifier has the active one.
 */
import type { KeyManagerDeps, KeyRecord } from '../keys/manager.js';
import { finishRotation, readKeyState, rotateDeviceKey } from '../keys/manager.js';
import type { DeviceKey } from '../keys/types.js';
import type { DeviceInventory } from '../shared/posture.js';
import type { Enrollment } from './enroll.js';
import { enrollDevice, readEnrollment, sendRotation } from './enroll.js';
import { EnrollError } from './enroll-errors.js';

export interface RotationOutcome {
  previous?: KeyRecord;
  active: DeviceKey;
  statement?: string;
  /** Whether this device is enrolled with a verifier. */
  enrolled: boolean;
  /** Whether the verifier accepted the rotation statement. */
  verifierUpdated: boolean;
  /** Why the verifier was not told, when it was not. */
  notSent?: string;
  /** Whether the previous key is still kept (until the verifier has the new one). */
  previousKept: boolean;
}

/**
 * Rotates the device key and tells the verifier the device is enrolled with. The previous key is
 * deleted once the verifier accepted the new one, or at once when the device is enrolled nowhere;
 * otherwise it is kept (a later `posture enroll` deletes it).
 */
export async function rotateAndNotify(
  deps: KeyManagerDeps,
  stateDir: string,
  options: { forceNew: boolean; fetch?: typeof fetch },
): Promise<RotationOutcome> {
  const result = await rotateDeviceKey(deps, { forceNew: options.forceNew });
  // The key has rotated by now: a damaged enrollment record must not hide that; keep the old key.
  const enrolled = await readEnrollment(stateDir).then(
    (e) => e !== undefined,
    () => true,
  );
  let verifierUpdated = false;
  let notSent: string | undefined;
  if (result.statement && enrolled) {
    try {
      verifierUpdated = await sendRotation({
        key: result.active,
        stateDir,
        keyStatePath: deps.statePath,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
    } catch (error) {
      notSent = (error as Error).message;
    }
  }
  const kept =
    !enrolled || verifierUpdated
      ? await finishRotation(deps)
      : ((await readKeyState(deps.statePath))?.retired ?? []);
  return {
    ...result,
    enrolled,
    verifierUpdated,
    ...(notSent ? { notSent } : {}),
    previousKept: kept.some((r) => r.kid === result.previous?.kid),
  };
}

/** What `resumeRotation` did: nothing was pending, it finished one, or the verifier still lacks the key. */
export type RotationResume =
  | { outcome: 'none' }
  | { outcome: 'finished'; kid: string }
  | { outcome: 'not_sent'; kid: string; reason: string };

/**
 * A rotation the verifier was not told of (it was unreachable, or the agent was killed between
 * placing the new key and hearing the verifier's answer): the enrollment still names the previous
 * key while a rotation statement waits. Sends the newest statement again (the verifier accepts it
 * as long as it still has the old key), then deletes the retired keys. A statement the verifier
 * already took and whose answer was lost is answered `device_unknown` (the old key is gone there):
 * reported as `not_sent`, the old key is kept; re-enrolling settles it. Cheap when nothing waits
 * (two small files read).
 */
export async function resumeRotation(
  deps: KeyManagerDeps,
  stateDir: string,
  options: { key: () => Promise<DeviceKey>; fetch?: typeof fetch },
): Promise<RotationResume> {
  const [enrollment, state] = await Promise.all([readEnrollment(stateDir), readKeyState(deps.statePath)]);
  if (!enrollment || !state || state.rotations.length === 0) return { outcome: 'none' };
  const kid = state.active.kid;
  if (enrollment.kid !== kid) {
    try {
      await sendRotation({
        key: await options.key(),
        stateDir,
        keyStatePath: deps.statePath,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
    } catch (error) {
      return { outcome: 'not_sent', kid, reason: (error as Error).message };
    }
  }
  await finishRotation(deps);
  return { outcome: 'finished', kid };
}

export interface EnrollOutcome extends Enrollment {
  status: 'active';
  /** Whether a new key was made because the verifier said the old one is revoked. */
  newKey: boolean;
  /** The revoked key replaced, when `newKey`. */
  revokedKid?: string;
}

/**
 * Enrolls `key`. With `newKeyIfRevoked`, a key the verifier reports revoked (keeping the token
 * unused) is replaced by a new one, which is enrolled with the same token. Once enrolled, keys
 * replaced earlier are deleted: the verifier has the active key.
 */
export async function enrollThisDevice(
  deps: KeyManagerDeps,
  options: {
    server: string;
    token: string;
    key: DeviceKey;
    stateDir: string;
    inventory: DeviceInventory;
    osName?: string;
    newKeyIfRevoked: boolean;
    fetch?: typeof fetch;
  },
): Promise<EnrollOutcome> {
  const enroll = (key: DeviceKey) =>
    enrollDevice({
      server: options.server,
      token: options.token,
      key,
      stateDir: options.stateDir,
      inventory: options.inventory,
      ...(options.osName ? { osName: options.osName } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  let outcome: EnrollOutcome;
  try {
    outcome = { ...(await enroll(options.key)), status: 'active', newKey: false };
  } catch (error) {
    const renew =
      options.newKeyIfRevoked &&
      error instanceof EnrollError &&
      error.code === 'ERR_DEVICE_REVOKED' &&
      error.tokenUsed === false;
    if (!renew) throw error;
    const { active } = await rotateDeviceKey(deps, { forceNew: true });
    outcome = { ...(await enroll(active)), status: 'active', newKey: true, revokedKid: options.key.kid };
  }
  await finishRotation(deps);
  return outcome;
}
