/**
 * Rolling releases recognised by their codename too (VERSION_CODENAME=kali-rolling): the OS-version
 * check judges them by patch level, and the patch check does not take apt's "no -security suite"
 * for "no security updates".
 */
import { linuxOsVersion } from '../../src/probes/os-version/linux.js';
import { APT_ARGS, APT_GET, linuxPatchLevel } from '../../src/probes/patch-level/linux.js';
import { runProbe } from '../../src/probes/run.js';
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY, validatePolicy } from '../../src/shared/policy.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { replayHost } from '../helpers/capture.js';
import { fixture } from '../helpers/fixtures.js';

// The apt output and the os-release come from different real machines (test/fixtures/SOURCES.md):
// the test joins them to check how the probe combines the two sources, not to present a Kali capture.
const apt = fixture('linux/apt/ubuntu-22.04-apt-get-s-upgrade-security-pockets.txt');
const host = (osRelease: string) =>
  replayHost({
    os: 'linux',
    commands: [{ command: APT_GET, args: APT_ARGS, stdout: apt }],
    files: { '/etc/os-release': osRelease, '/proc/sys/kernel/osrelease': '6.6.9-amd64\n' },
    stats: { '/var/lib/apt/periodic/update-success-stamp': Date.parse('2026-11-19T10:00:00Z') },
  });

describe('rolling distributions by codename', () => {
  it('on Kali (kali-rolling) which apt updates are security is not known: all pending count', async () => {
    const result = await runProbe(host(fixture('linux/os-release/kali-2023.3')), linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      manager: 'apt',
      pending: 4,
      securityPending: null,
    });
  });

  it('on a release with a security suite the -security pockets still decide', async () => {
    const result = await runProbe(host(fixture('linux/os-release/ubuntu-22.04')), linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({ securityPending: 3 });
  });

  it('an unreadable os-release leaves apt’s own reading in place, and never throws', async () => {
    const result = await runProbe(host('\u0000garbage'), linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({ securityPending: 3 });
  });

  it('the OS-version verdict for Kali is rolling_release when the policy allows rolling releases', async () => {
    const result = await runProbe(host(fixture('linux/os-release/kali-2026.3-head')), linuxOsVersion);
    const policy = validatePolicy({ version: 1, checks: { os_version: { linux: { allowRolling: true } } } });
    const verdict = evaluatePosture(
      { os_version: result } as PostureChecks,
      policy,
      'linux',
      new Date(),
    ).checks.find((c) => c.check === 'os_version');
    expect(verdict).toMatchObject({ verdict: 'pass', code: 'rolling_release' });
    const strict = evaluatePosture(
      { os_version: result } as PostureChecks,
      DEFAULT_POLICY,
      'linux',
      new Date(),
    );
    expect(strict.checks.find((c) => c.check === 'os_version')?.code).not.toBe('os_supported');
  });
});
