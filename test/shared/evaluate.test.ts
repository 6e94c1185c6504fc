import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY, validatePolicy } from '../../src/shared/policy.js';
import type {
  CheckResult,
  DiskEncryptionObservation,
  FirewallObservation,
  ObservationByCheck,
  OsVersionObservation,
  PatchLevelObservation,
  PostureChecks,
  VolumeEncryption,
} from '../../src/shared/posture.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();

function observed<K extends keyof ObservationByCheck>(
  check: K,
  observation: ObservationByCheck[K],
): CheckResult<ObservationByCheck[K]> {
  return { check, status: 'observed', observedAt: NOW.toISOString(), evidence: [], observation };
}

const disk = (...volumes: VolumeEncryption[]) =>
  observed('disk_encryption', { volumes } as DiskEncryptionObservation);
const fw = (o: FirewallObservation) => observed('firewall', o);
const os = (o: OsVersionObservation) => observed('os_version', o);
const patch = (o: Partial<PatchLevelObservation>) =>
  observed('patch_level', {
    manager: 'apt',
    pending: 0,
    securityPending: 0,
    updates: [],
    rebootRequired: false,
    indexRefreshedAt: ago(1),
    ...o,
  });

const good: PostureChecks = {
  disk_encryption: disk({ id: '/', role: 'system', state: 'encrypted', method: 'LUKS2' }),
  firewall: fw({
    enabled: true,
    ipv4: true,
    ipv6: true,
    components: [{ name: 'nftables', enabled: true, detail: '' }],
  }),
  os_version: os({
    platform: 'linux',
    name: 'Debian GNU/Linux 12 (bookworm)',
    version: '12',
    distroId: 'debian',
  }),
  patch_level: patch({}),
};

function verdictOf(
  checks: PostureChecks,
  check: keyof ObservationByCheck,
  platform: 'linux' | 'darwin' | 'windows' = 'linux',
  policy = DEFAULT_POLICY,
) {
  const v = evaluatePosture(checks, policy, platform, NOW).checks.find((c) => c.check === check);
  if (!v) throw new Error('missing verdict');
  return v;
}

describe('evaluatePosture', () => {
  it('passes a compliant device and carries the policy revision', () => {
    const e = evaluatePosture(good, DEFAULT_POLICY, 'linux', NOW);
    expect(e.overall).toBe('pass');
    expect(e.policyRevision).toBe(DEFAULT_POLICY.revision);
    expect(e.checks.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('never passes an unknown observation', () => {
    const checks: PostureChecks = {
      ...good,
      firewall: {
        check: 'firewall',
        status: 'unknown',
        reason: 'insufficient_privilege',
        detail: 'nft needs root',
        observedAt: NOW.toISOString(),
        evidence: [],
      },
    };
    const e = evaluatePosture(checks, DEFAULT_POLICY, 'linux', NOW);
    expect(e.overall).toBe('unknown');
    const v = e.checks.find((c) => c.check === 'firewall');
    expect(v?.verdict).toBe('unknown');
    expect(v?.code).toBe('observation_insufficient_privilege');
    expect(v?.remediation).toBeTruthy();
  });

  it('treats a missing check as unknown, and a failure outranks unknown overall', () => {
    const { patch_level: _omit, ...rest } = good;
    expect(evaluatePosture(rest, DEFAULT_POLICY, 'linux', NOW).overall).toBe('unknown');
    const failing = { ...rest, firewall: fw({ enabled: false, components: [] }) };
    expect(evaluatePosture(failing, DEFAULT_POLICY, 'linux', NOW).overall).toBe('fail');
  });

  it('marks checks the policy does not require as not_applicable', () => {
    const policy = validatePolicy({ version: 1, checks: { firewall: { required: false } } });
    const v = verdictOf(
      { ...good, firewall: fw({ enabled: false, components: [] }) },
      'firewall',
      'linux',
      policy,
    );
    expect(v.verdict).toBe('not_applicable');
    expect(
      evaluatePosture({ ...good, firewall: fw({ enabled: false, components: [] }) }, policy, 'linux', NOW)
        .overall,
    ).toBe('pass');
  });

  describe('disk encryption', () => {
    it('fails when root is plain even if another volume is encrypted', () => {
      const v = verdictOf(
        {
          ...good,
          disk_encryption: disk(
            { id: '/', role: 'system', state: 'unencrypted' },
            { id: '/home', role: 'home', state: 'encrypted' },
          ),
        },
        'disk_encryption',
      );
      expect(v.verdict).toBe('fail');
      expect(v.code).toBe('volume_unencrypted');
    });
    it('fails a suspended BitLocker volume', () => {
      expect(
        verdictOf(
          { ...good, disk_encryption: disk({ id: 'C:', role: 'system', state: 'suspended' }) },
          'disk_encryption',
          'windows',
        ).code,
      ).toBe('protection_suspended');
    });
    it('fails encryption in progress unless the policy allows it', () => {
      const checks = {
        ...good,
        disk_encryption: disk({ id: '/', role: 'system', state: 'encrypting', percent: 40 }),
      };
      expect(verdictOf(checks, 'disk_encryption', 'darwin').code).toBe('volume_encrypting');
      const lenient = validatePolicy({
        version: 1,
        checks: { disk_encryption: { allowEncryptionInProgress: true } },
      });
      expect(verdictOf(checks, 'disk_encryption', 'darwin', lenient).verdict).toBe('pass');
    });
    it('is unknown when one volume is unknown and none fails', () => {
      const v = verdictOf(
        {
          ...good,
          disk_encryption: disk(
            { id: '/', role: 'system', state: 'encrypted' },
            { id: '[SWAP] /dev/sda3', role: 'swap', state: 'unknown', reason: 'unexpected_output' },
          ),
        },
        'disk_encryption',
      );
      expect(v.verdict).toBe('unknown');
      expect(v.code).toBe('volume_unknown');
    });
    it('ignores memory-only swap, and swap entirely when the policy says so', () => {
      const zram = disk(
        { id: '/', role: 'system', state: 'encrypted' },
        { id: '[SWAP] /dev/zram0', role: 'swap', state: 'not_persistent' },
      );
      expect(verdictOf({ ...good, disk_encryption: zram }, 'disk_encryption').verdict).toBe('pass');
      const plainSwap = disk(
        { id: '/', role: 'system', state: 'encrypted' },
        { id: '[SWAP] /swapfile', role: 'swap', state: 'unencrypted' },
      );
      expect(verdictOf({ ...good, disk_encryption: plainSwap }, 'disk_encryption').verdict).toBe('fail');
      const noSwap = validatePolicy({ version: 1, checks: { disk_encryption: { requireSwap: false } } });
      expect(
        verdictOf({ ...good, disk_encryption: plainSwap }, 'disk_encryption', 'linux', noSwap).verdict,
      ).toBe('pass');
    });
    it('is unknown with no volumes at all', () => {
      expect(verdictOf({ ...good, disk_encryption: disk() }, 'disk_encryption').code).toBe('no_volumes');
    });
  });

  describe('firewall', () => {
    it('fails a Windows profile that is off', () => {
      const o: FirewallObservation = {
        enabled: true,
        components: [
          { name: 'domain', enabled: true, detail: 'on' },
          { name: 'private', enabled: true, detail: 'on' },
          { name: 'public', enabled: false, detail: 'off' },
        ],
      };
      expect(verdictOf({ ...good, firewall: fw(o) }, 'firewall', 'windows').code).toBe(
        'firewall_profile_off',
      );
    });
    it('fails Linux with IPv6 unfiltered', () => {
      expect(
        verdictOf(
          { ...good, firewall: fw({ enabled: true, ipv4: true, ipv6: false, components: [] }) },
          'firewall',
        ).code,
      ).toBe('ipv6_unfiltered');
    });
  });

  describe('OS version', () => {
    it('compares numerically: macOS 9.x is older than 15', () => {
      const v = verdictOf(
        { ...good, os_version: os({ platform: 'darwin', name: 'macOS', version: '14.7.1' }) },
        'os_version',
        'darwin',
      );
      expect(v.code).toBe('os_too_old');
      expect(
        verdictOf(
          { ...good, os_version: os({ platform: 'darwin', name: 'macOS', version: '26.1' }) },
          'os_version',
          'darwin',
        ).verdict,
      ).toBe('pass');
    });
    it('judges Windows by build and UBR', () => {
      const old = os({ platform: 'windows', name: 'Windows 10 Pro', version: '10.0.19045.5737' });
      expect(verdictOf({ ...good, os_version: old }, 'os_version', 'windows').code).toBe('os_too_old');
      const w11 = os({ platform: 'windows', name: 'Windows 11 Enterprise', version: '10.0.26100.2033' });
      expect(verdictOf({ ...good, os_version: w11 }, 'os_version', 'windows').verdict).toBe('pass');
    });
    it('passes rolling releases by default and refuses unlisted distros', () => {
      expect(
        verdictOf(
          {
            ...good,
            os_version: os({ platform: 'linux', name: 'Arch Linux', distroId: 'arch', rolling: true }),
          },
          'os_version',
        ).code,
      ).toBe('rolling_release');
      expect(
        verdictOf(
          { ...good, os_version: os({ platform: 'linux', name: 'Void', version: '1', distroId: 'void' }) },
          'os_version',
        ).code,
      ).toBe('distro_not_allowed');
    });
    it('is unknown when the version cannot be read', () => {
      expect(
        verdictOf(
          {
            ...good,
            os_version: os({ platform: 'linux', name: 'Debian', version: 'trixie/sid', distroId: 'debian' }),
          },
          'os_version',
        ).code,
      ).toBe('version_unparsable');
    });
  });

  describe('patch level', () => {
    const sec = (age: number, extra: object = {}) => ({
      name: 'openssl',
      security: true,
      firstSeenAt: ago(age),
      ...extra,
    });
    it('fails a stale update list even with nothing pending', () => {
      expect(
        verdictOf({ ...good, patch_level: patch({ indexRefreshedAt: ago(30) }) }, 'patch_level').code,
      ).toBe('update_index_stale');
    });
    it('"nothing pending" from a list of unknown age is unknown, not a pass', () => {
      expect(
        verdictOf({ ...good, patch_level: patch({ indexRefreshedAt: undefined }) }, 'patch_level').code,
      ).toBe('index_age_unknown');
    });
    it('allows security updates within the grace period and fails them after', () => {
      expect(
        verdictOf(
          { ...good, patch_level: patch({ pending: 1, securityPending: 1, updates: [sec(3)] }) },
          'patch_level',
        ).code,
      ).toBe('security_updates_within_grace');
      expect(
        verdictOf(
          { ...good, patch_level: patch({ pending: 1, securityPending: 1, updates: [sec(20)] }) },
          'patch_level',
        ).code,
      ).toBe('security_updates_overdue');
    });
    it('prefers the publication date where the OS gives one', () => {
      const u = sec(1, { releasedAt: ago(40) });
      const v = verdictOf(
        {
          ...good,
          patch_level: patch({ manager: 'windows_update', pending: 1, securityPending: 1, updates: [u] }),
        },
        'patch_level',
        'windows',
      );
      expect(v.code).toBe('security_updates_overdue');
    });
    it('is unknown when the age of pending security updates is not known', () => {
      const u = { name: 'openssl', security: true };
      expect(
        verdictOf(
          { ...good, patch_level: patch({ pending: 1, securityPending: 1, updates: [u] }) },
          'patch_level',
        ).code,
      ).toBe('update_age_unknown');
    });
    it('counts every pending update when security cannot be told apart', () => {
      const u = { name: 'linux', security: false, firstSeenAt: ago(30) };
      expect(
        verdictOf(
          {
            ...good,
            patch_level: patch({ manager: 'pacman', pending: 1, securityPending: null, updates: [u] }),
          },
          'patch_level',
        ).code,
      ).toBe('security_updates_overdue');
    });
    it('fails a long-pending reboot only when the policy sets a limit', () => {
      const checks = { ...good, patch_level: patch({ rebootRequired: true, lastInstallAt: ago(10) }) };
      expect(verdictOf(checks, 'patch_level').verdict).toBe('pass');
      const strict = validatePolicy({ version: 1, checks: { patch_level: { maxRebootPendingDays: 7 } } });
      expect(verdictOf(checks, 'patch_level', 'linux', strict).code).toBe('reboot_pending');
    });
  });
});
