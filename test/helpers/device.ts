/**
 * A test device: a real P-256 key (software, in memory), an enrolled record for it, and a posture
 * report built from recorded observations. Tokens are signed for real; nothing is mocked.
 */
import type { Attestation } from '../../src/attest/attestation.js';
import { createAttestation } from '../../src/attest/attestation.js';
import { signCompact } from '../../src/keys/jws.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { DeviceKey } from '../../src/keys/types.js';
import type { PostureChecks, PostureReport } from '../../src/shared/posture.js';
import { validatePolicy } from '../../src/shared/policy.js';
import type { DeviceRecord, VerifyOptions } from '../../src/verifier/index.js';
import { AttestationCache, MemoryReplayStore } from '../../src/verifier/index.js';

export const AUDIENCE = 'https://app.example.com';
export const URL_ = 'https://app.example.com/api/items';
export const NOW = Date.parse('2026-11-22T12:00:00Z');

const observed = (check: string, observation: object, at: number) => ({
  check,
  status: 'observed',
  observedAt: new Date(at - 60_000).toISOString(),
  evidence: [],
  observation,
});

/** A compliant Linux device as observed a minute before `at` (tests on the wall clock pass Date.now()). */
export function compliantChecks(at: number = NOW): PostureChecks {
  return {
    disk_encryption: observed(
      'disk_encryption',
      {
        volumes: [{ id: '/', role: 'system', state: 'encrypted', method: 'LUKS2' }],
      },
      at,
    ),
    os_version: observed(
      'os_version',
      {
        platform: 'linux',
        name: 'Debian GNU/Linux 12 (bookworm)',
        version: '12',
        distroId: 'debian',
        rolling: false,
      },
      at,
    ),
    firewall: observed(
      'firewall',
      {
        enabled: true,
        ipv4: true,
        ipv6: true,
        components: [{ name: 'nftables', enabled: true, detail: 'inet filter/input: drops' }],
      },
      at,
    ),
    patch_level: observed(
      'patch_level',
      {
        manager: 'apt',
        pending: 0,
        securityPending: 0,
        updates: [],
        rebootRequired: false,
        indexRefreshedAt: new Date(at - 86_400_000).toISOString(),
      },
      at,
    ),
  } as PostureChecks;
}

export function report(checks?: PostureChecks, at: number = NOW): PostureReport {
  return {
    schema: 'posture-report/v1',
    collectedAt: new Date(at - 60_000).toISOString(),
    platform: 'linux',
    agent: { name: 'posture-agent', version: 'test' },
    device: {},
    checks: checks ?? compliantChecks(at),
  };
}

export interface TestDevice {
  key: DeviceKey;
  record: DeviceRecord;
  attest(options?: {
    checks?: PostureChecks;
    audience?: string;
    lifetimeSeconds?: number;
    nonce?: string;
    at?: number;
  }): Promise<Attestation>;
}

export async function testDevice(
  deviceId = `device-${Math.random().toString(36).slice(2)}`,
): Promise<TestDevice> {
  const key = await softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date(NOW).toISOString());
  const record: DeviceRecord = {
    deviceId,
    kid: key.kid,
    jwk: key.publicJwk,
    status: 'active',
    keyProtection: 'keychain',
  };
  return {
    key,
    record,
    attest: (o = {}) =>
      createAttestation({
        report: report(o.checks),
        key,
        audience: o.audience ?? AUDIENCE,
        deviceId,
        ...(o.nonce ? { nonce: o.nonce } : {}),
        ...(o.lifetimeSeconds ? { lifetimeSeconds: o.lifetimeSeconds } : {}),
        now: () => o.at ?? NOW,
      }),
  };
}

export function verifyOptions(
  devices: DeviceRecord[],
  overrides: Partial<VerifyOptions> = {},
): VerifyOptions {
  const byKid = new Map(devices.map((d) => [d.kid, d]));
  return {
    audience: AUDIENCE,
    lookupDevice: async (kid) => byKid.get(kid),
    policy: validatePolicy({
      version: 1,
      revision: 'test-policy',
      checks: { os_version: { linux: { distros: { debian: '12' } } } },
    }),
    replayStore: new MemoryReplayStore(10_000),
    cache: new AttestationCache(),
    now: () => NOW,
    ...overrides,
  };
}

export function headersFor(attestation: string, proof: string): Record<string, string> {
  return { 'posture-attestation': attestation, 'posture-proof': proof };
}

/** Signs arbitrary header and claims with a key: for hostile tokens. */
export function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: Pick<DeviceKey, 'sign'>,
): Promise<string> {
  return signCompact(header, claims, key);
}
