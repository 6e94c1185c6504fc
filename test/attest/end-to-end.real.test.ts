/**
 * End to end on this machine: the real probes → an attestation signed by the device key in the OS
 * keychain (Secret Service) and in a TPM (swtpm) → the two headers → verifyRequest. It allows when
 * the policy passes, and when it does not, it denies naming the check.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../src/agent/config.js';
import { createAttestor } from '../../src/agent/attestor.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { DEFAULT_POLICY, validatePolicy } from '../../src/shared/policy.js';
import type { DeviceRecord } from '../../src/verifier/index.js';
import { AttestationCache, MemoryReplayStore, verifyRequest } from '../../src/verifier/index.js';
import { sessionHasSecretService } from '../fakes/secret-service.js';
import type { Swtpm } from '../fakes/swtpm.js';
import { startSwtpm, swtpmAvailable } from '../fakes/swtpm.js';
import { testConfig } from '../helpers/config.js';
import { describeWith } from '../helpers/real-part.js';

const AUD = 'https://intranet.example.com';
const URL_ = 'https://intranet.example.com/payroll';
const LENIENT = validatePolicy({
  version: 1,
  revision: 'lenient-for-this-vm',
  checks: {
    disk_encryption: { required: false },
    firewall: { required: false },
    patch_level: { required: false },
  },
});

async function presentAndVerify(config: AgentConfig, policy = LENIENT) {
  const attestor = createAttestor(config);
  const key = await attestor.key();
  const attestation = await attestor.attest({ audience: AUD });
  const headers = postureHeaders(attestation, 'POST', URL_);
  const record: DeviceRecord = {
    deviceId: key.kid,
    kid: key.kid,
    jwk: key.publicJwk,
    status: 'active',
    keyProtection: key.protection,
  };
  const decision = await verifyRequest(
    { method: 'POST', url: URL_, headers },
    {
      audience: AUD,
      lookupDevice: async (kid) => (kid === key.kid ? record : undefined),
      policy,
      replayStore: new MemoryReplayStore(),
      cache: new AttestationCache(),
    },
  );
  return { key, attestation, headers, decision };
}

const temp = () => mkdtempSync(join(tmpdir(), 'posture-e2e-'));

describeWith('a Secret Service on the session bus (scripts/test.sh)', sessionHasSecretService())(
  'with the device key in the OS keychain',
  () => {
    it('allows under a policy this machine meets, and the attestation fits in a header', async () => {
      const { key, headers, decision } = await presentAndVerify(
        testConfig({ stateDir: temp(), keyStore: 'keychain' }),
      );
      expect(key.protection).toBe('keychain');
      expect(decision).toMatchObject({ allowed: true, status: 200, device: { keyProtection: 'keychain' } });
      expect(Buffer.byteLength(headers['Posture-Attestation'] ?? '')).toBeLessThan(8 * 1024);
    });

    it('denies under the default policy, naming the unencrypted disk of this machine', async () => {
      const { decision } = await presentAndVerify(
        testConfig({ stateDir: temp(), keyStore: 'keychain' }),
        DEFAULT_POLICY,
      );
      expect(decision.allowed).toBe(false);
      expect(decision.status).toBe(403);
      expect(decision.reasons.map((r) => r.check)).toContain('disk_encryption');
      expect(decision.reasons.every((r) => r.code === 'posture_failed')).toBe(true);
    });
  },
);

describeWith('swtpm and tpm2-tools', swtpmAvailable())('with the device key in a TPM', () => {
  let tpm: Swtpm;
  beforeAll(async () => {
    tpm = await startSwtpm();
  });
  afterAll(async () => {
    await tpm.stop();
  });

  it('allows under a policy this machine meets, reporting key protection "tpm"', async () => {
    const { key, decision } = await presentAndVerify(
      testConfig({ stateDir: temp(), keyStore: 'tpm', tpmTcti: tpm.tcti }),
    );
    expect(key.protection).toBe('tpm');
    expect(decision).toMatchObject({ allowed: true, device: { keyProtection: 'tpm' } });
  });

  it('"auto" picks the TPM when one is there', async () => {
    const { key } = await presentAndVerify(
      testConfig({ stateDir: temp(), keyStore: 'auto', tpmTcti: tpm.tcti }),
    );
    expect(key.protection).toBe('tpm');
  });
});
