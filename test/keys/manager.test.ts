/**
 * Key state and rotation, with real stores: explicit file keys here, and the TPM (swtpm) and
 * keychain (Secret Service) in the end-to-end tests.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url } from 'jose';
import { KeyError } from '../../src/keys/errors.js';
import { keyErrorCode } from '../helpers/assert.js';
import { fileStore } from '../../src/keys/file-store.js';
import type { KeyManagerDeps } from '../../src/keys/manager.js';
import {
  finishRotation,
  loadDeviceKey,
  readKeyState,
  rotateDeviceKey,
  ROTATION_TYP,
} from '../../src/keys/manager.js';
import { keyManagerDeps } from '../../src/keys/select.js';
import { testConfig } from '../helpers/config.js';

function fileDeps(): KeyManagerDeps & { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'posture-keys-'));
  const config = testConfig({
    stateDir: join(dir, 'state'),
    keyStore: 'file',
    keyFile: join(dir, 'device-key.json'),
  });
  return { ...keyManagerDeps(config, process.cwd()), dir };
}

describe('key manager', () => {
  it('creates the first key once and then keeps opening it', async () => {
    const deps = fileDeps();
    const first = await loadDeviceKey(deps);
    const again = await loadDeviceKey(deps);
    expect(again.kid).toBe(first.kid);
    expect(first.protection).toBe('file');
    expect(statSync(first.ref).mode & 0o777).toBe(0o600);
    const state = await readKeyState(deps.statePath);
    expect(state?.active).toMatchObject({ store: 'file', kid: first.kid });
    expect(readFileSync(deps.statePath, 'utf8')).not.toMatch(/"d"/);
  });

  it('rotation: the old key signs the new key\u2019s thumbprint, the state switches, the old key is deleted once acknowledged', async () => {
    const deps = fileDeps();
    const old = await loadDeviceKey(deps);
    const { active, statement, previous } = await rotateDeviceKey(deps);
    expect(previous?.kid).toBe(old.kid);
    expect(active.kid).not.toBe(old.kid);
    expect((await loadDeviceKey(deps)).kid).toBe(active.kid);
    const [h, p, s] = (statement ?? '').split('.') as [string, string, string];
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(h)))).toEqual({
      alg: 'ES256',
      typ: ROTATION_TYP,
      kid: old.kid,
    });
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as {
      old_kid: string;
      new_kid: string;
    };
    expect(claims).toMatchObject({ old_kid: old.kid, new_kid: active.kid });
    const ok = cryptoVerify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: createPublicKey({ key: { ...old.publicJwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      base64url.decode(s),
    );
    expect(ok).toBe(true);
    // Kept, and still usable, until the verifier has the new key.
    expect(previous?.ref).not.toBe(active.ref);
    expect((await fileStore().open(previous?.ref ?? '', old.createdAt)).kid).toBe(old.kid);
    expect((await readKeyState(deps.statePath))?.rotations).toEqual([statement]);
    expect(await finishRotation(deps)).toEqual([]);
    expect(await keyErrorCode(fileStore().open(previous?.ref ?? '', old.createdAt))).toBe(
      'ERR_KEY_NOT_FOUND',
    );
    expect(await readKeyState(deps.statePath)).toMatchObject({ retired: [], rotations: [] });
  });

  it('a file key stays at the configured keyFile across rotations, written by an atomic rename', async () => {
    const deps = fileDeps();
    const keyFile = join(deps.dir, 'device-key.json');
    const first = await loadDeviceKey(deps);
    expect(first.ref).toBe(keyFile);
    const inodeBefore = statSync(keyFile).ino;
    const { active, previous } = await rotateDeviceKey(deps);
    expect(active.ref).toBe(keyFile);
    expect((await fileStore().open(keyFile, active.createdAt)).kid).toBe(active.kid);
    // Renamed over, not rewritten in place: a reader sees the old file or the new one, never half.
    expect(statSync(keyFile).ino).not.toBe(inodeBefore);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(previous?.ref).toMatch(/device-key\.json\.previous-/);
    expect(statSync(previous?.ref ?? '').ino).toBe(inodeBefore);
    await finishRotation(deps);
    expect(readdirSync(deps.dir).filter((f) => f.startsWith('device-key'))).toEqual(['device-key.json']);
    const second = await rotateDeviceKey(deps, { forceNew: true });
    expect(second.active.ref).toBe(keyFile);
    expect(second.statement).toBeUndefined();
    expect((await loadDeviceKey(deps)).kid).toBe(second.active.kid);
  });

  it('a key file that no state names is kept aside, never overwritten', async () => {
    const deps = fileDeps();
    const keyFile = join(deps.dir, 'device-key.json');
    writeFileSync(keyFile, 'an earlier key', { mode: 0o600 });
    const key = await loadDeviceKey(deps);
    expect(key.ref).toBe(keyFile);
    const aside = readdirSync(deps.dir).filter((f) => f.startsWith('device-key.json.replaced-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(deps.dir, aside[0] ?? ''), 'utf8')).toBe('an earlier key');
  });

  it('interrupted between the move and the state switch, the state still names a working key', async () => {
    const deps = fileDeps();
    const keyFile = join(deps.dir, 'device-key.json');
    const working = await loadDeviceKey(deps);
    // The machine dies right after the new key was renamed onto keyFile.
    const crashing: KeyManagerDeps = {
      ...deps,
      place: async (fresh, previous, keepPrevious) => {
        await deps.place?.(fresh, previous, keepPrevious);
        throw new Error('power lost');
      },
    };
    await expect(rotateDeviceKey(crashing)).rejects.toThrow('power lost');
    expect((await loadDeviceKey(deps)).kid).toBe(working.kid);
    expect(existsSync(keyFile)).toBe(true);
    const { active, previous } = await rotateDeviceKey(deps);
    expect(previous?.kid).toBe(working.kid);
    expect((await loadDeviceKey(deps)).ref).toBe(keyFile);
    expect((await loadDeviceKey(deps)).kid).toBe(active.kid);
  });

  it('an interrupted rotation never loses the working key', async () => {
    const deps = fileDeps();
    const working = await loadDeviceKey(deps);
    // The machine dies right after the new key was recorded as pending.
    const crashing: KeyManagerDeps = {
      ...deps,
      storeFor: (kind) => {
        const store = deps.storeFor(kind);
        return {
          ...store,
          create: async (ref) => {
            const key = await store.create(ref);
            const state = JSON.parse(readFileSync(deps.statePath, 'utf8'));
            writeFileSync(
              deps.statePath,
              JSON.stringify({
                ...state,
                pending: { store: 'file', ref: key.ref, kid: key.kid, createdAt: key.createdAt },
              }),
            );
            throw new Error('power lost');
          },
        };
      },
    };
    await expect(rotateDeviceKey(crashing)).rejects.toThrow('power lost');
    expect((await loadDeviceKey(deps)).kid).toBe(working.kid);
    // The next rotation discards the half-made key and completes.
    const { active, previous } = await rotateDeviceKey(deps);
    expect(previous?.kid).toBe(working.kid);
    expect((await readKeyState(deps.statePath))?.pending).toBeUndefined();
    expect((await loadDeviceKey(deps)).kid).toBe(active.kid);
  });

  it('a lost key cannot sign a rotation; --force-new replaces it without a statement', async () => {
    const deps = fileDeps();
    const lost = await loadDeviceKey(deps);
    await fileStore().remove(lost.ref);
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_KEY_NOT_FOUND');
    expect(await keyErrorCode(rotateDeviceKey(deps))).toBe('ERR_ROTATION_FAILED');
    const { active, statement } = await rotateDeviceKey(deps, { forceNew: true });
    expect(statement).toBeUndefined();
    expect((await loadDeviceKey(deps)).kid).toBe(active.kid);
  });

  it('a damaged state file is ERR_KEY_STATE_CORRUPT', async () => {
    const deps = fileDeps();
    await loadDeviceKey(deps);
    writeFileSync(deps.statePath, '{"version": 1, "active": 42}');
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_KEY_STATE_CORRUPT');
  });

  it('a file key readable by others is refused', async () => {
    const deps = fileDeps();
    const key = await loadDeviceKey(deps);
    chmodSync(key.ref, 0o644);
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_FILE_KEY_INSECURE');
  });

  it('a corrupt file key is ERR_KEY_CORRUPT', async () => {
    const deps = fileDeps();
    const key = await loadDeviceKey(deps);
    writeFileSync(key.ref, '{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","d":"AAAA"}', { mode: 0o600 });
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_KEY_CORRUPT');
  });

  it('file keys are used only when configured explicitly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-keys-'));
    const deps = keyManagerDeps(testConfig({ stateDir: dir, keyStore: 'keychain' }), process.cwd());
    expect(() => deps.storeFor('file')).toThrow(KeyError);
    const noPath = keyManagerDeps(testConfig({ stateDir: dir, keyStore: 'file' }), process.cwd());
    expect(await keyErrorCode(noPath.chooseStore())).toBe('ERR_FILE_KEY_NOT_ALLOWED');
  });
});
