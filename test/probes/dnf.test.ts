/**
 * dnf4 and dnf5 on recorded outputs: the dnf5 "Upgrades" header, obsoleting blocks in both cases,
 * advisory tables with Issued dates (the publication date the policy can use), and a security
 * table that cannot be read costing only the security flags.
 */
import { APT_ARGS, APT_GET, linuxPatchLevel } from '../../src/probes/patch-level/linux.js';
import {
  parseDnfCheckUpdate,
  parseDnfSecurityList,
  parseNeedsRestarting,
} from '../../src/probes/patch-level/parse-dnf.js';
import { runProbe } from '../../src/probes/run.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import type { PatchLevelObservation, PostureChecks } from '../../src/shared/posture.js';
import { replayHost } from '../helpers/capture.js';
import { fixture } from '../helpers/fixtures.js';

describe('dnf check-update / check-upgrade', () => {
  it('dnf5 (Fedora 44): the Upgrades header is no package, the obsoleting block adds no removals', () => {
    const updates = parseDnfCheckUpdate(
      fixture('linux/dnf/fedora-44-dnf5-check-upgrade-quiet-obsoleting.txt'),
      100,
    );
    // dnf itself reported 5 upgrades here; the obsoleters are among them and the indented rows are removals.
    expect(updates.map((u) => `${u.name} ${u.version}`)).toEqual([
      'apparmor-libs 6.0.0~alpha1-1.fc44',
      'proton-vpn-daemon 0.13.8-1.fc44',
      'proton-vpn-gtk-app 4.18.1-1.fc44',
      'python3-proton-vpn-api-core 5.6.10-1.fc44',
      'python3-proton-vpn-api-core 5.6.10-1.fc44',
    ]);
    expect(updates.some((u) => u.name === 'python3-proton-vpn-local-agent')).toBe(false);
  });

  it('dnf4 obsoleting block (Fedora 36, wide padding, trailing spaces): obsoleters once, never what they replace', () => {
    const updates = parseDnfCheckUpdate(
      fixture('linux/dnf/fedora-36-dnf4-check-update-obsoleting-block-trimmed.txt'),
      100,
    );
    expect(updates.map((u) => u.name)).toEqual(['kernel-headers', 'python3-dnf-plugins-core']);
    expect(updates[0]?.version).toBe('6.2.6-100.fc36');
    expect(updates.some((u) => u.name === 'python3-dnf-plugin-system-upgrade')).toBe(false);
  });

  it('dnf4 with only an obsoleting block (OpenMandriva, metadata line first)', () => {
    const updates = parseDnfCheckUpdate(
      fixture('linux/dnf/openmandriva-dnf4-check-update-only-obsoleting-trimmed.txt'),
      100,
    );
    expect(updates.map((u) => u.name)).toEqual(['gwenview', 'kdegraphics-thumbnailers']);
  });

  it('the dnf4 -e0 -d0 table still reads', () => {
    const updates = parseDnfCheckUpdate(fixture('linux/dnf/fedora-dnf-e0-d0-check-update.txt'), 100);
    expect(updates).toHaveLength(1); // six rows of one package from six repositories
    expect(updates[0]).toMatchObject({ name: 'pgdg-fedora-repo', version: '42.0-6' });
  });

  it.each(['', '\n', 'Segmentation fault', 'Upgrades\n', 'Obsoleting packages\n    x.noarch 1 r\n'])(
    'exit 100 with no package (%p) is refused',
    (text) => expect(() => parseDnfCheckUpdate(text, 100)).toThrow(UnexpectedOutputError),
  );
});

describe('dnf security advisories', () => {
  it('dnf4 (Fedora 34): names, no dates', () => {
    const list = parseDnfSecurityList(fixture('linux/dnf/fedora-34-updateinfo-list-security.txt'));
    expect(list.get('dhcp-client')).toEqual({ advisories: ['FEDORA-2021-08cdb4dc34'] });
    expect(list.get('curl')?.issuedAt).toBeUndefined();
  });

  it('RHEL 9.1 with subscription-manager noise around the table (unregistered system)', () => {
    const list = parseDnfSecurityList(
      fixture('linux/dnf/rhel-9.1-yum-updateinfo-list-security-installed-subscription-noise.txt'),
    );
    expect(list.get('kernel-core')?.advisories).toEqual([
      'RHSA-2023:0334',
      'RHSA-2023:0951',
      'RHSA-2023:1470',
      'RHSA-2022:8267',
    ]);
    expect(list.has('dbus-common')).toBe(true);
    expect(list.has('grub2-tools-minimal')).toBe(true);
  });

  it('needs-restarting -r listing what changed (RHEL docs transcript)', () => {
    expect(
      parseNeedsRestarting(
        fixture('linux/dnf/needs-restarting-r-reboot-required-kernel-systemd-docs.txt'),
        1,
      ),
    ).toBe(true);
  });

  it('dnf5 (Fedora 44): the Issued column is the publication date; other types are not security', () => {
    const list = parseDnfSecurityList(fixture('linux/dnf/fedora-44-dnf5-advisory-list-epoch-trimmed.txt'));
    expect(list.get('kernel-core')).toEqual({
      advisories: ['FEDORA-2026-bc20b091a8'],
      issuedAt: '2026-05-27T16:06:31.000Z',
    });
    expect(list.has('kernel-modules-core')).toBe(true);
    expect(list.has('NetworkManager')).toBe(false);
    expect(list.has('python-unversioned-command')).toBe(false);
  });

  it('dnf5 (Fedora 40) with Type and Severity cut to the column width ("secu", "Importan")', () => {
    const list = parseDnfSecurityList(
      fixture('linux/dnf/fedora-40-dnf5-advisory-list-truncated-columns-trimmed.txt'),
    );
    expect([...list.keys()].sort()).toEqual(['glib2-debuginfo', 'glib2-debugsource']);
    expect(list.get('glib2-debuginfo')?.issuedAt).toBe('2024-05-12T04:16:43.000Z');
  });

  it('the early dnf5 table (dnf issue 1893) has no security rows', () => {
    expect(parseDnfSecurityList(fixture('linux/dnf/fedora-29-dnf5-early-advisory-list.txt')).size).toBe(0);
  });

  it.each(['Segmentation fault', 'FEDORA-2021-1 Moderate/Sec.', 'Error: cache empty'])('refuses %p', (text) =>
    expect(() => parseDnfSecurityList(text)).toThrow(UnexpectedOutputError),
  );
});

describe('dnf 4.14 run here (Debian 12, a local repository with one security advisory)', () => {
  const dnf = '/usr/bin/dnf';
  const recorded = (checkUpdate: { stdout?: string; stderr?: string; exitCode: number }) =>
    replayHost({
      os: 'linux',
      commands: [
        { command: APT_GET, args: APT_ARGS, error: 'command_missing' },
        { command: dnf, args: ['-C', '-q', 'check-update'], ...checkUpdate },
        {
          command: dnf,
          args: ['-C', '-q', 'updateinfo', 'list', '--security'],
          stdout: fixture('linux/dnf/debian-12-dnf-4.14-updateinfo-list-security-C-q-local-repo.txt'),
        },
        { command: '/usr/bin/needs-restarting', args: ['-r'], error: 'command_missing' },
      ],
    });

  it('the probe’s own commands: one pending update, a security one, no date from dnf4', async () => {
    const result = await runProbe(
      recorded({
        exitCode: 100,
        stdout: fixture('linux/dnf/debian-12-dnf-4.14-check-update-C-q-local-repo.txt'),
      }),
      linuxPatchLevel,
    );
    expect(result.status === 'observed' && result.observation).toMatchObject({
      manager: 'dnf',
      pending: 1,
      securityPending: 1,
      updates: [{ name: 'posture-demo', version: '1.1-1', security: true }],
      rebootRequired: null,
    });
    const o = result.status === 'observed' ? (result.observation as PatchLevelObservation) : undefined;
    expect(o?.updates[0]?.releasedAt).toBeUndefined();
  });

  it('-C without a metadata cache (exit 1, message on stderr) is unknown with the reason', async () => {
    const result = await runProbe(
      recorded({
        exitCode: 1,
        stderr: fixture('linux/dnf/debian-12-dnf-4.14-check-update-C-q-no-cache.stderr.txt'),
      }),
      linuxPatchLevel,
    );
    expect(result).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
    // dnf's own message is kept in the reason.
    expect(result.status === 'unknown' && result.detail).toContain(
      fixture('linux/dnf/debian-12-dnf-4.14-check-update-C-q-no-cache.stderr.txt').trim(),
    );
  });
});

describe('dnf probe', () => {
  const dnf = '/usr/bin/dnf';
  const host = (securityStdout: string, securityExit = 0) =>
    replayHost({
      os: 'linux',
      capturedAt: '2026-06-20T00:00:00.000Z',
      commands: [
        { command: APT_GET, args: APT_ARGS, error: 'command_missing' },
        {
          command: dnf,
          args: ['-C', '-q', 'check-update'],
          exitCode: 100,
          stdout:
            'Upgrades\nkernel-core.x86_64     7.0.10-201.fc44  updates\ncurl.x86_64  8.0-1.fc44  updates\n',
        },
        {
          command: dnf,
          args: ['-C', '-q', 'updateinfo', 'list', '--security'],
          exitCode: securityExit,
          stdout: securityStdout,
        },
        { command: '/usr/bin/needs-restarting', args: ['-r'], exitCode: 0, stdout: 'garbage' },
      ],
      stats: { '/var/cache/libdnf5': Date.parse('2026-06-19T00:00:00Z') },
    });

  it('dnf5 advisories give releasedAt, and the verdict names the publication date as its evidence', async () => {
    const result = await runProbe(
      host(fixture('linux/dnf/fedora-44-dnf5-advisory-list-epoch-trimmed.txt')),
      linuxPatchLevel,
    );
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    const o = result.observation as PatchLevelObservation;
    expect(o).toMatchObject({ manager: 'dnf', pending: 2, securityPending: 1 });
    expect(o.updates.find((u) => u.name === 'kernel-core')).toMatchObject({
      security: true,
      releasedAt: '2026-05-27T16:06:31.000Z',
    });
    // needs-restarting printed garbage: only the reboot flag is unknown, with its reason.
    expect(o.rebootRequired).toBeNull();
    expect(o.unreadable).toEqual([
      expect.objectContaining({ source: 'needs-restarting -r', reason: 'unexpected_output' }),
    ]);
    const v = evaluatePosture(
      { patch_level: result } as PostureChecks,
      DEFAULT_POLICY,
      'linux',
      new Date('2026-06-20T00:00:00Z'),
    ).checks.find((c) => c.check === 'patch_level');
    expect(v).toMatchObject({ verdict: 'fail', code: 'security_updates_overdue', ageBasis: 'published' });
  });

  it('an advisory table it cannot read costs only the security flags, with the reason kept', async () => {
    const result = await runProbe(host('Name Type\nsomething new\n'), linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      pending: 2,
      securityPending: null,
      unreadable: expect.arrayContaining([
        expect.objectContaining({ source: 'dnf updateinfo list --security', reason: 'unexpected_output' }),
      ]),
    });
  });

  it('an advisory command that fails is noted, not thrown', async () => {
    const result = await runProbe(host('', 1), linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      securityPending: null,
      unreadable: expect.arrayContaining([
        expect.objectContaining({ source: 'dnf updateinfo list --security' }),
      ]),
    });
  });
});
