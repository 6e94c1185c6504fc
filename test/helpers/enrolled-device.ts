/**
 * A device enrolled through a test service's HTTP API with a real software P-256 key, able to make
 * real attestations (for any audience) from recorded observations; `failingFirewall` turns the
 * firewall observation off.
 */
import { createAttestation } from '../../src/attest/attestation.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { compliantChecks, report } from './device.js';
import { APP_AUDIENCE, enrollKey, enrollmentToken, type Caller } from './service.js';

export async function enrolledDevice(svc: { call: Caller }) {
  const key = await softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());
  const res = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
  expect(res.statusCode).toBe(201);
  const deviceId = (res.json() as { deviceId: string }).deviceId;
  const attest = (options: { checks?: PostureChecks; audience?: string } = {}) =>
    createAttestation({
      report: report(options.checks ?? compliantChecks(Date.now()), Date.now()),
      key,
      audience: options.audience ?? APP_AUDIENCE,
      deviceId,
      now: () => Date.now(),
    });
  return { key, deviceId, attest };
}

/** Compliant checks but for the firewall, observed off. */
export function failingFirewall(at = Date.now()): PostureChecks {
  const checks = compliantChecks(at);
  return {
    ...checks,
    firewall: {
      ...checks.firewall,
      observation: { enabled: false, ipv4: false, ipv6: false, components: [] },
    } as PostureChecks['firewall'],
  };
}
