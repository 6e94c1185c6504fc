/**
 * Key protection is a fact of enrollment: the decision reports the protection recorded when the
 * device enrolled (as the device claimed it then), an attestation claiming another one is denied,
 * and allowedKeyProtection is enforced against the enrolled value.
 */
import type { Decision, VerifyOptions } from '../../src/verifier/index.js';
import { verifyRequest } from '../../src/verifier/index.js';
import { forge, headersFor, NOW, testDevice, URL_, verifyOptions } from '../helpers/device.js';

function expectDeny(d: Decision, code: string, status: number): void {
  expect(d.reasons[0]?.code).toBe(code);
  expect(d.allowed).toBe(false);
  expect(d.status).toBe(status);
}

async function setup(
  enrolled: 'file' | 'keychain' | 'os_keystore' | 'tpm',
  overrides: Partial<VerifyOptions> = {},
) {
  const device = await testDevice('kp-1');
  device.record.keyProtection = enrolled;
  const options = verifyOptions([device.record], overrides);
  const base = await device.attest();
  const claiming = (keyProtection: unknown) =>
    forge(
      { alg: 'ES256', typ: 'posture-attestation+jwt', kid: device.key.kid },
      { ...base.claims, key_protection: keyProtection },
      device.key,
    );
  const ask = (token: string, at = NOW) =>
    verifyRequest(
      { method: 'GET', url: URL_, headers: headersFor(token, base.session.proof('GET', URL_, token, at)) },
      options,
    );
  return { device, options, claiming, ask };
}

describe('key protection as recorded at enrollment', () => {
  it('a file-key device claiming tpm → key_protection_mismatch; never reported as tpm', async () => {
    const s = await setup('file');
    const d = await s.ask(await s.claiming('tpm'));
    expectDeny(d, 'key_protection_mismatch', 401);
    expect(d.device).toBeUndefined();
  });

  it('["tpm"] is no key protection at all → attestation_claims_invalid', async () => {
    const s = await setup('tpm');
    expectDeny(await s.ask(await s.claiming(['tpm'])), 'attestation_claims_invalid', 401);
  });

  it('the decision reports the enrolled protection, and says it was claimed at enrollment', async () => {
    const s = await setup('file');
    const d = await s.ask(await s.claiming('file'));
    expect(d.allowed).toBe(true);
    expect(d.device).toEqual({
      id: 'kp-1',
      kid: s.device.key.kid,
      keyProtection: 'file',
      keyProtectionSource: 'claimed_at_enrollment',
    });
  });

  it('allowedKeyProtection is enforced against the enrolled value', async () => {
    const s = await setup('file', { allowedKeyProtection: ['tpm', 'secure_enclave', 'keychain'] });
    expectDeny(await s.ask(await s.claiming('file')), 'key_protection_not_allowed', 403);
    expectDeny(await s.ask(await s.claiming('tpm'), NOW + 1000), 'key_protection_mismatch', 401);
  });

  it('os_keystore (a Windows service key in the Software KSP) is its own value: allowed unless the policy leaves it out, never taken for tpm', async () => {
    const s = await setup('os_keystore');
    const d = await s.ask(await s.claiming('os_keystore'));
    expect(d.allowed).toBe(true);
    expect(d.device?.keyProtection).toBe('os_keystore');
    expectDeny(await s.ask(await s.claiming('tpm'), NOW + 1000), 'key_protection_mismatch', 401);
    const hardwareOnly = await setup('os_keystore', { allowedKeyProtection: ['tpm', 'secure_enclave'] });
    expectDeny(
      await hardwareOnly.ask(await hardwareOnly.claiming('os_keystore')),
      'key_protection_not_allowed',
      403,
    );
  });

  it('a cached attestation is checked against the enrolled value on every request', async () => {
    const s = await setup('tpm');
    const token = await s.claiming('tpm');
    expect((await s.ask(token)).allowed).toBe(true);
    s.device.record.keyProtection = 'file';
    expectDeny(await s.ask(token, NOW + 1000), 'key_protection_mismatch', 401);
  });
});
