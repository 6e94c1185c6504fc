/**
 * The library's side of push and supersede: the newest attestation a device pushed comes with its
 * record (DeviceRecord.newestAttestation), and an older one is denied `attestation_superseded`,
 * even from the cache; `maxPushAgeSeconds` denies a silent device `device_stale`.
 */
import { verifyRequest } from '../../src/verifier/index.js';
import type { DeviceRecord } from '../../src/verifier/index.js';
import { isSuperseded } from '../../src/verifier/verify-request.js';
import { headersFor, NOW, testDevice, URL_, verifyOptions } from '../helpers/device.js';

describe('attestation_superseded and device_stale (library)', () => {
  it('an attestation older than the pushed one is denied, a newer or the same one is not, cached or not', async () => {
    const device = await testDevice();
    const older = await device.attest({ at: NOW - 20_000 });
    const newest = await device.attest({ at: NOW - 10_000 });
    const record: DeviceRecord = { ...device.record };
    const options = verifyOptions([record]);
    const ask = (a: typeof older) =>
      verifyRequest(
        {
          method: 'GET',
          url: URL_,
          headers: headersFor(a.token, a.session.proof('GET', URL_, a.token, NOW)),
        },
        options,
      );
    // Nothing pushed yet: both pass (and both are now cached).
    expect((await ask(older)).allowed).toBe(true);
    expect((await ask(newest)).allowed).toBe(true);
    // The device pushes `newest`: the record the host looks up carries it.
    record.newestAttestation = { iat: newest.claims.iat, jti: newest.claims.jti };
    const denied = await ask(older);
    expect([denied.status, denied.reasons[0]?.code]).toEqual([401, 'attestation_superseded']);
    expect((await ask(newest)).allowed).toBe(true);
    expect((await ask(await device.attest({ at: NOW }))).allowed).toBe(true);
  });

  it('the same second: another jti is superseded, the same one is not', () => {
    const newest = { iat: 100, jti: 'a'.repeat(22) };
    expect(isSuperseded({ iat: 100, jti: 'a'.repeat(22) }, newest)).toBe(false);
    expect(isSuperseded({ iat: 100, jti: 'b'.repeat(22) }, newest)).toBe(true);
    expect(isSuperseded({ iat: 99, jti: 'a'.repeat(22) }, newest)).toBe(true);
    expect(isSuperseded({ iat: 101, jti: 'c'.repeat(22) }, newest)).toBe(false);
    expect(isSuperseded({ iat: 1, jti: 'c'.repeat(22) }, undefined)).toBe(false);
  });

  it('maxPushAgeSeconds: no push, or a push too long ago, is device_stale (403)', async () => {
    const device = await testDevice();
    const a = await device.attest({ at: NOW - 5_000 });
    const record: DeviceRecord = { ...device.record };
    const options = verifyOptions([record], { maxPushAgeSeconds: 300 });
    const ask = () =>
      verifyRequest(
        {
          method: 'GET',
          url: URL_,
          headers: headersFor(a.token, a.session.proof('GET', URL_, a.token, NOW)),
        },
        options,
      );
    expect((await ask()).reasons[0]?.code).toBe('device_stale');
    record.lastPushAt = NOW - 301_000;
    const stale = await ask();
    expect([stale.status, stale.reasons[0]?.code]).toEqual([403, 'device_stale']);
    record.lastPushAt = NOW - 60_000;
    expect((await ask()).allowed).toBe(true);
  });
});
