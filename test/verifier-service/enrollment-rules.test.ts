/**
 * Enrollment and rotation rules over HTTP, on the embedded SQLite store: a key keeps the protection
 * it was first enrolled with; a revoked or locked device's key is refused (409) without using the
 * token; a proof for another server URL gets its own code and the verifier's public URL; a key
 * another device holds is 409 key_in_use; a failing store answers with a code, never an uncoded 5xx.
 */
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { KeyProtection } from '../../src/shared/claims.js';
import { compliantChecks, report } from '../helpers/device.js';
import {
  admin,
  APP_AUDIENCE,
  enrollKey,
  enrollmentToken,
  PUBLIC_URL,
  rotateKeyVia,
  testService,
} from '../helpers/service.js';

const URL_ = 'https://app.example.com/payroll/2026';
const newKey = (protection: KeyProtection = 'keychain') =>
  softwareKey(generatePrivateJwk(), protection, 'test', new Date().toISOString());

type Svc = Awaited<ReturnType<typeof testService>>;

async function enrolled(svc: Svc, protection: KeyProtection = 'keychain') {
  const key = await newKey(protection);
  const res = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
  expect(res.statusCode).toBe(201);
  return { key, deviceId: res.json().deviceId as string };
}

async function forwardAuth(svc: Svc, key: Awaited<ReturnType<typeof newKey>>, deviceId: string) {
  const a = await createAttestation({
    report: report(compliantChecks(Date.now()), Date.now()),
    key,
    audience: APP_AUDIENCE,
    deviceId,
  });
  return svc.call({
    method: 'GET',
    url: '/v1/forward-auth',
    headers: { ...postureHeaders(a, 'GET', URL_), 'x-original-method': 'GET', 'x-original-url': URL_ },
  });
}

describe('re-enrollment', () => {
  it('never raises a key’s protection: a file key claiming tpm is refused (409), stays file, and the token stays usable', async () => {
    const svc = await testService();
    const d = await enrolled(svc, 'file');
    const token = await enrollmentToken(svc.call);
    const res = await enrollKey(svc.call, d.key, token, { key_protection: 'tpm' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      error: 'key_protection_mismatch',
      deviceId: d.deviceId,
      enrolledKeyProtection: 'file',
    });
    const listed = await svc.call({ method: 'GET', url: `/v1/admin/devices/${d.deviceId}`, headers: admin });
    expect(listed.json().keyProtection).toBe('file');
    const allowed = await forwardAuth(svc, d.key, d.deviceId);
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers['x-posture-key-protection']).toBe('file');
    // The same key with its true protection re-enrolls with that same token.
    expect((await enrollKey(svc.call, d.key, token)).statusCode).toBe(200);
  });

  it('a Windows service key (os_keystore) enrolls as such and is reported so, not as tpm; an unknown protection is refused', async () => {
    const svc = await testService();
    const d = await enrolled(svc, 'os_keystore');
    const listed = await svc.call({ method: 'GET', url: `/v1/admin/devices/${d.deviceId}`, headers: admin });
    expect(listed.json().keyProtection).toBe('os_keystore');
    const allowed = await forwardAuth(svc, d.key, d.deviceId);
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers['x-posture-key-protection']).toBe('os_keystore');
    const res = await enrollKey(svc.call, await newKey(), await enrollmentToken(svc.call), {
      key_protection: 'software',
    });
    expect(res.statusCode).toBe(400);
  });

  it.each([
    ['revoke', 'device_revoked'],
    ['lock', 'device_locked'],
  ])('after %s: 409 %s, the token is not used, the device keeps its status', async (action, code) => {
    const svc = await testService();
    const d = await enrolled(svc);
    expect(
      (await svc.call({ method: 'POST', url: `/v1/admin/devices/${d.deviceId}/${action}`, headers: admin }))
        .statusCode,
    ).toBe(200);
    const token = await enrollmentToken(svc.call);
    const res = await enrollKey(svc.call, d.key, token);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: code, deviceId: d.deviceId });
    const status = (
      await svc.call({ method: 'GET', url: `/v1/admin/devices/${d.deviceId}`, headers: admin })
    ).json().status;
    expect(status).toBe(action === 'revoke' ? 'revoked' : 'locked');
    // The token was not burnt: a new key enrolls with it.
    const fresh = await enrollKey(svc.call, await newKey(), token);
    expect(fresh.statusCode).toBe(201);
  });
});

describe('server URL', () => {
  it('a proof for another server URL → 401 server_url_mismatch with the verifier’s publicUrl; the token stays usable', async () => {
    const svc = await testService();
    const key = await newKey();
    const token = await enrollmentToken(svc.call);
    const res = await enrollKey(svc.call, key, token, { aud: 'https://posture.example.com:8443' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'server_url_mismatch', publicUrl: PUBLIC_URL });
    expect((await enrollKey(svc.call, key, token)).statusCode).toBe(201);
  });

  it('rotation with a proof for another server URL → 401 server_url_mismatch', async () => {
    const svc = await testService();
    const d = await enrolled(svc);
    const res = await rotateKeyVia(svc.call, d.key, await newKey(), { aud: 'http://posture.example.com' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'server_url_mismatch', publicUrl: PUBLIC_URL });
  });
});

describe('rotation into a key in use', () => {
  it('another device’s key → 409 key_in_use; both devices keep their keys', async () => {
    const svc = await testService();
    const a = await enrolled(svc);
    const b = await enrolled(svc);
    const res = await rotateKeyVia(svc.call, a.key, b.key);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('key_in_use');
    expect((await forwardAuth(svc, a.key, a.deviceId)).statusCode).toBe(200);
    expect((await forwardAuth(svc, b.key, b.deviceId)).statusCode).toBe(200);
  });

  it('its own key → 409 key_in_use', async () => {
    const svc = await testService();
    const a = await enrolled(svc);
    expect((await rotateKeyVia(svc.call, a.key, a.key)).json().error).toBe('key_in_use');
  });
});

describe('a store that fails', () => {
  it('answers 503 store_unavailable with its code to enrollment, rotation and the admin API, never an uncoded 500', async () => {
    const svc = await testService();
    const d = await enrolled(svc);
    const token = await enrollmentToken(svc.call);
    await svc.store.close();
    const answers = [
      await enrollKey(svc.call, await newKey(), token),
      await rotateKeyVia(svc.call, d.key, await newKey()),
      await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin }),
      await svc.call({ method: 'POST', url: `/v1/admin/devices/${d.deviceId}/lock`, headers: admin }),
      await svc.call({
        method: 'POST',
        url: '/v1/admin/enrollment-tokens',
        headers: admin,
        payload: {},
      }),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('store_unavailable');
    }
    const denied = await forwardAuth(svc, d.key, d.deviceId);
    expect(denied.statusCode).toBe(503);
    expect(denied.json().reasons[0].code).toBe('store_unavailable');
  });
});
