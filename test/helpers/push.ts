/**
 * Pushing attestations to a test verifier as the agent does, and asking forward-auth about them as
 * nginx does: a real device key, real attestations made at chosen times, real proofs.
 */
import type { Attestation } from '../../src/attest/attestation.js';
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import type { DeviceKey } from '../../src/keys/types.js';
import { validatePolicy } from '../../src/shared/policy.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { PUSH_PATH, pushUrl } from '../../src/verifier-service/attestation-push.js';
import { compliantChecks, report } from './device.js';
import { APP_AUDIENCE, PUBLIC_URL, type Caller } from './service.js';

/** The firewall must be on; this Debian is what the recorded observations say. */
export const PUSH_POLICY = validatePolicy({
  version: 1,
  revision: 'push-test',
  checks: { firewall: {}, os_version: { linux: { distros: { debian: '12' } } } },
});

export const APP_URL = 'https://app.example.com/payroll/2026';

/** An attestation issued `secondsAgo` before now (iat counts seconds: pushes in order need distinct ones). */
export function attestAt(
  device: { key: DeviceKey; deviceId: string },
  secondsAgo: number,
  checks: PostureChecks = compliantChecks(Date.now()),
  audience = APP_AUDIENCE,
): Promise<Attestation> {
  const at = () => Date.now() - secondsAgo * 1000;
  return createAttestation({
    report: report(checks, at()),
    key: device.key,
    audience,
    deviceId: device.deviceId,
    now: at,
  });
}

/** POST /v1/devices/attestation with a fresh proof for it. */
export function push(call: Caller, a: Attestation, publicUrl = PUBLIC_URL, headers = {}) {
  return call({
    method: 'POST',
    url: PUSH_PATH,
    headers: { ...postureHeaders(a, 'POST', pushUrl(publicUrl)), ...headers },
  });
}

/** GET /v1/forward-auth as nginx asks it, with a fresh proof for `url`. */
export function forwardAuth(call: Caller, a: Attestation, url = APP_URL) {
  return call({
    method: 'GET',
    url: '/v1/forward-auth',
    headers: { ...postureHeaders(a, 'GET', url), 'x-original-method': 'GET', 'x-original-url': url },
  });
}

/** The first reason code of a forward-auth or push answer. */
export function codeOf(res: { json(): unknown }): string {
  const body = res.json() as { error?: string; reasons?: { code: string }[] };
  return body.error ?? body.reasons?.[0]?.code ?? 'none';
}
