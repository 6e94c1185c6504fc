/**
 * AttestationKeeper with the real agent core (a file key, a replay host): when the posture changed
 * and no new attestation can be signed, the held one is dropped and `onDropped` tells whatever keeps
 * presenting it (the verifier link's heartbeat) to stop.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../../src/agent/agent.js';
import { createAgent } from '../../../src/agent/agent.js';
import { AttestationKeeper } from '../../../src/agent/daemon/attestation-keeper.js';
import { replayHost } from '../../helpers/capture.js';
import { testConfig } from '../../helpers/config.js';
import { fixture } from '../../helpers/fixtures.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), `pa-keeper-${process.pid}-`));
  const config = testConfig({
    stateDir: join(dir, 'state'),
    keyStore: 'file',
    keyFile: join(dir, 'device-key.json'),
    audience: 'https://verifier.example',
  });
  const real = createAgent({
    config,
    host: replayHost({ os: 'linux', files: { '/etc/os-release': fixture('linux/os-release/debian-12') } }),
  });
  let signing = true;
  // The same agent whose device key can stop answering (a TPM gone, a keychain locked).
  const agent: Agent = {
    ...real,
    attest: (options) =>
      signing ? real.attest(options) : Promise.reject(new Error('the device key cannot sign')),
  };
  const dropped: number[] = [];
  const problems = new Map<string, string>();
  const keeper = new AttestationKeeper({
    log: () => undefined,
    setProblem: (code, message) =>
      message === undefined ? problems.delete(code) : problems.set(code, message),
    requestRenewal: () => undefined,
    onDropped: () => {
      dropped.push(Date.now());
    },
    now: () => new Date(),
  });
  return { agent, config, keeper, dropped, problems, stopSigning: () => (signing = false) };
}

describe('AttestationKeeper', () => {
  it('a changed posture that cannot be signed drops the held attestation and says so once', async () => {
    const s = setup();
    const report = await s.agent.collect();
    expect(await s.keeper.refresh({ agent: s.agent, config: s.config, report, changed: true })).toBe(
      'issued',
    );
    expect(s.keeper.summary()).not.toBeNull();

    s.stopSigning();
    expect(await s.keeper.refresh({ agent: s.agent, config: s.config, report, changed: true })).toBe(
      'failed',
    );
    expect(s.keeper.summary()).toBeNull();
    expect(s.dropped).toHaveLength(1);
    expect(s.problems.has('attestation_failed')).toBe(true);

    // nothing held any more: a second failure has nothing to drop
    expect(await s.keeper.refresh({ agent: s.agent, config: s.config, report, changed: true })).toBe(
      'failed',
    );
    expect(s.dropped).toHaveLength(1);
    s.keeper.stop();
  });

  it('an unchanged posture keeps a valid attestation even while the key cannot sign', async () => {
    const s = setup();
    const report = await s.agent.collect();
    await s.keeper.refresh({ agent: s.agent, config: s.config, report, changed: true });
    s.stopSigning();
    expect(await s.keeper.refresh({ agent: s.agent, config: s.config, report, changed: false })).toBe('kept');
    expect(s.dropped).toHaveLength(0);
    s.keeper.stop();
  });
});
