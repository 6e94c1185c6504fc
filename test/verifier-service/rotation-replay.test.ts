/**
 * The same rotation sent twice (an agent killed, or one that lost the answer, after the verifier
 * took it): the second is answered as the first, for the holder of the new key only; another key's
 * proof, or a statement naming another key, is still `device_unknown`.
 */
import { signCompact } from '../../src/keys/jws.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { DeviceKey } from '../../src/keys/types.js';
import { enrolledDevice } from '../helpers/enrolled-device.js';
import { PUBLIC_URL, testService, type TestService } from '../helpers/service.js';

const newKey = async () => softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());

async function rotation(svc: TestService, statement: string, holder: DeviceKey) {
  const nonce = (await svc.call({ method: 'GET', url: '/v1/nonce' })).json().nonce as string;
  const proof = await signCompact(
    { alg: 'ES256', typ: 'posture-rotate+jwt', jwk: holder.publicJwk },
    { aud: PUBLIC_URL, nonce, iat: Math.floor(Date.now() / 1000) },
    holder,
  );
  return svc.call({ method: 'POST', url: '/v1/devices/rotate', payload: { statement, proof } });
}

describe('POST /v1/devices/rotate sent again', () => {
  it('answers a rotation it already took as the first time, to the new key’s holder only', async () => {
    const svc = await testService();
    const d = await enrolledDevice(svc);
    const fresh = await newKey();
    const statement = await signCompact(
      { alg: 'ES256', typ: 'posture-key-rotation+jwt', kid: d.key.kid },
      {
        old_kid: d.key.kid,
        new_kid: fresh.kid,
        new_jwk: fresh.publicJwk,
        new_key_protection: 'keychain',
        iat: Math.floor(Date.now() / 1000),
      },
      d.key,
    );
    const first = await rotation(svc, statement, fresh);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ deviceId: d.deviceId, kid: fresh.kid });

    const again = await rotation(svc, statement, fresh);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ deviceId: d.deviceId, kid: fresh.kid });

    // Someone else's key cannot learn the device through the replay.
    const other = await rotation(svc, statement, await newKey());
    expect(other.statusCode).toBe(401);
    expect(other.json().error).toBe('device_unknown');
  });
});
