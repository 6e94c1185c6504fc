/**
 * `fdesetup status` read whole: progress lines decide over the headline, unknown wording is never
 * "encrypted", and the probe turns a parse failure into unknown without throwing.
 */
import { parseFdesetupStatus } from '../../src/probes/disk-encryption/parse-fdesetup.js';
import { darwinDiskEncryption } from '../../src/probes/disk-encryption/darwin.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { runProbe } from '../../src/probes/run.js';
import { createReplayHost } from '../../src/probes/capture.js';
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY, validatePolicy } from '../../src/shared/policy.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { buildCapture } from '../helpers/capture.js';
import { fixture } from '../helpers/fixtures.js';

describe('parseFdesetupStatus on recorded outputs', () => {
  it('reads the one-line On and Off', () => {
    expect(parseFdesetupStatus(fixture('darwin/fdesetup-status/on.txt'))).toEqual({ state: 'encrypted' });
    expect(parseFdesetupStatus(fixture('darwin/fdesetup-status/off.txt'))).toEqual({ state: 'unencrypted' });
  });

  it('reads the whole deferred-enablement output (macOS 10.12): off, with both lines kept as detail', () => {
    const s = parseFdesetupStatus(
      fixture('darwin/fdesetup-status/off-needs-restart-deferred-macos10.12.txt'),
    );
    expect(s.state).toBe('unencrypted');
    expect(s.detail).toMatch(/restarted/);
    expect(s.detail).toMatch(/Deferred enablement/);
  });

  it('a deferred-enablement line with no state line (macOS 13.2.1, as grep quoted it) is no answer', () => {
    expect(() =>
      parseFdesetupStatus(fixture('darwin/fdesetup-status/deferred-line-only-grep-macos13.2.1.txt')),
    ).toThrow(UnexpectedOutputError);
  });
});

// No capture of a Mac mid-conversion was found (test/fixtures/SOURCES.md, "Searched for and not
// found"). These inputs are built from the documented line formats to test the combinations the
// issue names; they are not presented as recordings.
describe('parseFdesetupStatus combinations of documented lines', () => {
  const on = fixture('darwin/fdesetup-status/on.txt');
  const off = fixture('darwin/fdesetup-status/off.txt');
  it.each([
    [`${on}Encryption in progress: Percent completed = 45\n`, { state: 'encrypting', percent: 45 }],
    [`${on}Decryption in progress: Percent completed = 12.5\n`, { state: 'decrypting', percent: 12.5 }],
    [`${off}Decryption in progress: Percent completed = 3\n`, { state: 'decrypting', percent: 3 }],
    ['Encryption in progress: Percent completed = 0\n', { state: 'encrypting', percent: 0 }],
  ])('On/Off followed by a progress line is the progress, never "encrypted": %p', (text, expected) => {
    expect(parseFdesetupStatus(text)).toMatchObject(expected);
  });

  it.each([
    `${on}Encryption paused: Percent completed = 45\n`,
    `${on}Something new in macOS 27\n`,
    `${on}${off}`,
    `${on}Deferred enablement appears to be active.\n`,
    `${on}Encryption in progress: Percent completed = 45\nEncryption in progress: Percent completed = 46\n`,
  ])('On with a line in unknown wording is unknown, not encrypted: %p', (text) => {
    expect(parseFdesetupStatus(text)).toMatchObject({ state: 'unknown', reason: 'unexpected_output' });
  });

  it('Off with an unknown line stays unencrypted and keeps the line', () => {
    const s = parseFdesetupStatus(`${off}Something new\n`);
    expect(s).toMatchObject({ state: 'unencrypted' });
    expect(s.detail).toMatch(/Something new/);
  });

  it.each(['', '\n', 'Segmentation fault', 'FileVault is on', '\u0000\u0001binary', 'Error: unable'])(
    'refuses garbage %p',
    (text) => expect(() => parseFdesetupStatus(text)).toThrow(UnexpectedOutputError),
  );
});

describe('macOS disk-encryption probe and policy', () => {
  const run = async (stdout: string, exitCode = 0) => {
    const capture = buildCapture({
      os: 'darwin',
      commands: [{ command: '/usr/bin/fdesetup', args: ['status'], stdout, exitCode }],
    });
    return runProbe(createReplayHost(capture), darwinDiskEncryption);
  };
  const verdict = async (stdout: string, policy = DEFAULT_POLICY) => {
    const result = await run(stdout);
    const checks = { disk_encryption: result } as PostureChecks;
    return evaluatePosture(checks, policy, 'darwin', new Date()).checks.find(
      (c) => c.check === 'disk_encryption',
    );
  };
  const on = fixture('darwin/fdesetup-status/on.txt');

  it('a Mac still encrypting fails by default and passes only under allowEncryptionInProgress, saying so', async () => {
    const text = `${on}Encryption in progress: Percent completed = 45\n`;
    expect(await verdict(text)).toMatchObject({ verdict: 'fail', code: 'volume_encrypting' });
    const lenient = validatePolicy({
      version: 1,
      checks: { disk_encryption: { allowEncryptionInProgress: true } },
    });
    expect(await verdict(text, lenient)).toMatchObject({
      verdict: 'pass',
      code: 'encryption_in_progress_allowed',
    });
  });

  it('a Mac decrypting fails even when encryption in progress is allowed', async () => {
    const lenient = validatePolicy({
      version: 1,
      checks: { disk_encryption: { allowEncryptionInProgress: true } },
    });
    expect(await verdict(`${on}Decryption in progress: Percent completed = 12\n`, lenient)).toMatchObject({
      verdict: 'fail',
      code: 'volume_unencrypted',
    });
  });

  it('unknown wording after "On" is an unknown verdict', async () => {
    expect(await verdict(`${on}Something new\n`)).toMatchObject({
      verdict: 'unknown',
      code: 'volume_unknown',
    });
  });

  it.each(['', 'garbage\n', '\u0000'])(
    'garbage %p is unknown/unexpected_output, never a throw',
    async (text) => {
      expect(await run(text, 1)).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
    },
  );

  it('reads the text whatever the exit status (2: "On but busy")', async () => {
    const result = await run(`${on}Encryption in progress: Percent completed = 5\n`, 2);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      volumes: [{ state: 'encrypting', percent: 5 }],
    });
  });
});
