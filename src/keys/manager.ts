/**
 * Which device key is active, and rotating it safely. The state file holds only public facts
 * (store, reference, kid, creation time) — never key material. Rotation: make the new key, record it
 * as pending, have the old key sign the new key's thumbprint, switch the state atomically, and keep
 * the old key (as retired) until the verifier has acknowledged the new one (`finishRotation`).
 * An interruption at any step leaves a working key in place.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../host/write-atomic.js';
import type { KeyProtection } from '../shared/claims.js';
import { ALG, KEY_PROTECTIONS } from '../shared/claims.js';
import { KeyError } from './errors.js';
import { signCompact } from './jws.js';
import type { DeviceKey, KeyStore } from './types.js';

export const ROTATION_TYP = 'posture-key-rotation+jwt';

const record = z.object({
  store: z.enum(KEY_PROTECTIONS),
  ref: z.string().min(1),
  kid: z.string().min(1),
  createdAt: z.string(),
});
const stateSchema = z.object({
  version: z.literal(1),
  active: record,
  pending: record.optional(),
  retired: z.array(record).default([]),
  /** Rotation statements the verifier has not acknowledged yet (`finishRotation` clears them). */
  rotations: z.array(z.string()).default([]),
});

export type KeyRecord = z.output<typeof record>;
export type KeyState = z.output<typeof stateSchema>;

export interface KeyManagerDeps {
  statePath: string;
  /** The store for a protection level (construction may fail when not configured). */
  storeFor(kind: KeyProtection): KeyStore;
  /** The store a new key goes into (the configured one, or "auto"). */
  chooseStore(): Promise<KeyStore>;
  /** A reference for a new key in that store that no other key uses. */
  newRef(store: KeyStore, state: KeyState | undefined): Promise<string>;
  /**
   * Moves a new key to where the configuration says the active key lives (a file key: `keyFile`),
   * first keeping the previous key under another name (`keepPrevious` records that name before the
   * move). Returns the new key at its final place. Absent: keys stay where they were made.
   */
  place?(
    fresh: DeviceKey,
    previous: KeyRecord | undefined,
    keepPrevious: (moved: KeyRecord) => Promise<void>,
  ): Promise<DeviceKey>;
}

export async function readKeyState(path: string): Promise<KeyState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyError(
      'ERR_KEY_STATE_CORRUPT',
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code}).`,
    );
  }
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch {
    throw new KeyError(
      'ERR_KEY_STATE_CORRUPT',
      `${path} is damaged; the device key it names cannot be found. Move it aside and run \`posture key rotate --force-new\` (the device must enroll again).`,
    );
  }
}

async function writeKeyState(path: string, state: KeyState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`);
}

/** The new key at its configured place (see KeyManagerDeps.place). */
async function placed(
  deps: KeyManagerDeps,
  fresh: DeviceKey,
  previous: KeyRecord | undefined,
  keepPrevious: (moved: KeyRecord) => Promise<void>,
): Promise<DeviceKey> {
  return deps.place ? deps.place(fresh, previous, keepPrevious) : fresh;
}

const toRecord = (key: DeviceKey): KeyRecord => ({
  store: key.protection,
  ref: key.ref,
  kid: key.kid,
  createdAt: key.createdAt,
});

/** Opens the active device key, creating the first one when there is none. */
export async function loadDeviceKey(
  deps: KeyManagerDeps,
  options: { create: boolean } = { create: true },
): Promise<DeviceKey> {
  const state = await readKeyState(deps.statePath);
  if (state) {
    const key = await deps.storeFor(state.active.store).open(state.active.ref, state.active.createdAt);
    if (key.kid !== state.active.kid) {
      throw new KeyError(
        'ERR_KEY_STATE_CORRUPT',
        `the key under "${state.active.ref}" is not the enrolled key ${state.active.kid} (it is ${key.kid}); something replaced it. Run \`posture key rotate --force-new\` and enroll again.`,
      );
    }
    return key;
  }
  if (!options.create)
    throw new KeyError(
      'ERR_KEY_NOT_FOUND',
      'this device has no device key yet. Run `posture key rotate --force-new` or any command that signs.',
    );
  const store = await deps.chooseStore();
  const made = await store.create(await deps.newRef(store, undefined));
  const key = await placed(deps, made, undefined, async () => undefined);
  await writeKeyState(deps.statePath, { version: 1, active: toRecord(key), retired: [], rotations: [] });
  return key;
}

/**
 * Where the device key lives, or would be made, without making one: a recorded key is opened (so a
 * TPM gone or a keychain out of reach shows now), else the store a new key would go into is chosen.
 * Throws that store's coded error (e.g. ERR_NO_SERVICE_KEY_STORE) when none can be used.
 */
export async function deviceKeyHome(
  deps: KeyManagerDeps,
): Promise<{ protection: KeyProtection; recorded: boolean }> {
  if (await readKeyState(deps.statePath))
    return { protection: (await loadDeviceKey(deps, { create: false })).protection, recorded: true };
  return { protection: (await deps.chooseStore()).kind, recorded: false };
}

export interface RotationResult {
  previous?: KeyRecord;
  active: DeviceKey;
  /** JWS by the old key over the new key's thumbprint; absent with --force-new. */
  statement?: string;
}

/**
 * Makes a new device key. Unless `forceNew`, the old key signs a rotation statement for the
 * verifier. The old key is kept (as retired) until `finishRotation`: call it once the verifier has
 * the new key (rotation sent, or enrolled again) or when the device is enrolled nowhere.
 * `forceNew` is for a key that is lost or revoked: no statement, and the device must enroll again.
 */

export async function rotateDeviceKey(
  deps: KeyManagerDeps,
  options: { forceNew?: boolean; now?: () => Date } = {},
): Promise<RotationResult> {
  const now = options.now ?? (() => new Date());
  let state = await readKeyState(deps.statePath).catch((error: unknown) => {
    if (options.forceNew) return undefined;
    throw error;
  });
  // An earlier rotation that did not finish: its new key never became active; discard it.
  if (state?.pending) {
    await deps
      .storeFor(state.pending.store)
      .remove(state.pending.ref)
      .catch(() => undefined);
    state = { ...state, pending: undefined };
    await writeKeyState(deps.statePath, state);
  }
  let old: DeviceKey | undefined;
  if (state) {
    try {
      old = await deps.storeFor(state.active.store).open(state.active.ref, state.active.createdAt);
    } catch (error) {
      if (!options.forceNew) {
        throw new KeyError(
          'ERR_ROTATION_FAILED',
          `the current device key cannot be used to sign the rotation (${(error as Error).message}). If it is lost, use --force-new and enroll again.`,
          { cause: error },
        );
      }
    }
  }
  const store = old ? deps.storeFor(old.protection) : await deps.chooseStore();
  const made = await store.create(await deps.newRef(store, state));
  if (state) {
    state = { ...state, pending: toRecord(made) };
    await writeKeyState(deps.statePath, state);
  }
  const statement =
    old && !options.forceNew
      ? await signCompact(
          { alg: ALG, typ: ROTATION_TYP, kid: old.kid },
          {
            old_kid: old.kid,
            new_kid: made.kid,
            new_jwk: made.publicJwk,
            new_key_protection: made.protection,
            iat: Math.floor(now().getTime() / 1000),
          },
          old,
        )
      : undefined;
  let previous = state?.active;
  const fresh = await placed(deps, made, previous, async (moved) => {
    // The old key now (also) lives under `moved.ref`: record that before its old place is reused.
    previous = moved;
    if (state) {
      state = { ...state, active: moved };
      await writeKeyState(deps.statePath, state);
    }
  });
  const next: KeyState = {
    version: 1,
    active: toRecord(fresh),
    retired: [...(state?.retired ?? []), ...(previous ? [previous] : [])],
    rotations: [...(state?.rotations ?? []), ...(statement ? [statement] : [])].slice(-5),
  };
  await writeKeyState(deps.statePath, next);
  return { ...(previous ? { previous } : {}), active: fresh, ...(statement ? { statement } : {}) };
}

/**
 * The verifier has the active key (it acknowledged the rotation, or the device enrolled again), or
 * there is no verifier to tell: delete the retired keys and forget the sent statements. A key that
 * cannot be deleted stays recorded and is tried again next time. Returns the keys still kept.
 */
export async function finishRotation(deps: KeyManagerDeps): Promise<KeyRecord[]> {
  const state = await readKeyState(deps.statePath);
  if (!state || (state.retired.length === 0 && state.rotations.length === 0)) return [];
  const kept: KeyRecord[] = [];
  for (const r of state.retired) {
    try {
      await deps.storeFor(r.store).remove(r.ref);
    } catch {
      kept.push(r);
    }
  }
  await writeKeyState(deps.statePath, { ...state, retired: kept, rotations: [] });
  return kept;
}
