/**
 * The device key with a verifier: a rotated-out key is kept until the verifier has the new key, and
 * deleted once it has (rotation accepted, or enrolled again). The verifier is a `fetch` that answers
 * as the service documents (injected, as the SDK's fetch is); keys are real file keys.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollThisDevice, rotateAndNotify } from '../../src/agent/key-lifecycle.js';
import { loadDeviceKey } from '../../src/keys/manager.js';
import { keyManagerDeps } from '../../src/keys/select.js';
import { testConfig } from '../helpers/config.js';

const SERVER = 'https://posture.example.com';

/** A verifier answering nonces, enrollments (active) and rotations with `rotation` status. */
function verifier(rotation: { status: number; body: object }): typeof fetch {
  return async (input, init) => {
    const url = String(input);
    const json = (status: number, body: object) =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (url.endsWith('/v1/nonce')) return json(200, { nonce: 'n-0123456789' });
    if (url.endsWith('/v1/enroll') && init?.method === 'POST')
      return json(201, { deviceId: 'dev_1', kid: 'k', status: 'active' });
    if (url.endsWith('/v1/devices/rotate')) return json(rotation.status, rotation.body);
    return json(404, { error: 'not_found' });
  };
}

function device() {
  const dir = mkdtempSync(join(tmpdir(), 'posture-lifecycle-'));
  const config = testConfig({
    stateDir: join(dir, 'state'),
    keyStore: 'file',
    keyFile: join(dir, 'device-key.json'),
  });
  const keyFiles = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith('device-key'))
      .sort();
  return { dir, config, deps: keyManagerDeps(config, process.cwd()), keyFiles };
}

const inventory = { hostname: 'laptop-7' };

describe('device key lifecycle with a verifier', () => {
  it('not enrolled: a rotation deletes the old key at once', async () => {
    const { config, deps, keyFiles } = device();
    await loadDeviceKey(deps);
    const r = await rotateAndNotify(deps, config.stateDir, { forceNew: false });
    expect(r).toMatchObject({ enrolled: false, verifierUpdated: false, previousKept: false });
    expect(keyFiles()).toEqual(['device-key.json']);
  });

  it('enrolled, rotation refused: the old key is kept; the next enrollment deletes it', async () => {
    const { config, deps, keyFiles } = device();
    const first = await loadDeviceKey(deps);
    await enrollThisDevice(deps, {
      server: SERVER,
      token: 'tok-0123456789abcdef',
      key: first,
      stateDir: config.stateDir,
      inventory,
      newKeyIfRevoked: false,
      fetch: verifier({ status: 200, body: {} }),
    });
    const refused = verifier({
      status: 409,
      body: { error: 'key_in_use', message: 'held by another device' },
    });
    const r = await rotateAndNotify(deps, config.stateDir, { forceNew: false, fetch: refused });
    expect(r).toMatchObject({ enrolled: true, verifierUpdated: false, previousKept: true });
    expect(r.notSent).toBeDefined();
    expect(keyFiles()).toHaveLength(2);
    const active = await loadDeviceKey(deps);
    expect(active.ref).toBe(config.keyFile);
    await enrollThisDevice(deps, {
      server: SERVER,
      token: 'tok-abcdef0123456789',
      key: active,
      stateDir: config.stateDir,
      inventory,
      newKeyIfRevoked: false,
      fetch: verifier({ status: 200, body: {} }),
    });
    expect(keyFiles()).toEqual(['device-key.json']);
  });

  it('enrolled, rotation accepted: the old key is deleted', async () => {
    const { config, deps, keyFiles } = device();
    const first = await loadDeviceKey(deps);
    const accepting = verifier({ status: 200, body: { deviceId: 'dev_1', kid: 'new', status: 'active' } });
    await enrollThisDevice(deps, {
      server: SERVER,
      token: 'tok-0123456789abcdef',
      key: first,
      stateDir: config.stateDir,
      inventory,
      newKeyIfRevoked: false,
      fetch: accepting,
    });
    const r = await rotateAndNotify(deps, config.stateDir, { forceNew: false, fetch: accepting });
    expect(r).toMatchObject({ enrolled: true, verifierUpdated: true, previousKept: false });
    expect(keyFiles()).toEqual(['device-key.json']);
  });
});
