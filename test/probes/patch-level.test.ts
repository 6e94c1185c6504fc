import { darwinPatchLevel, SOFTWAREUPDATE } from '../../src/probes/patch-level/darwin.js';
import { APT_ARGS, APT_GET, linuxPatchLevel } from '../../src/probes/patch-level/linux.js';
import { parseAptSimulation } from '../../src/probes/patch-level/parse-apt.js';
import {
  nvraName,
  parseDnfCheckUpdate,
  parseDnfSecurityList,
  parseNeedsRestarting,
} from '../../src/probes/patch-level/parse-dnf.js';
import { parsePacmanUpgradable } from '../../src/probes/patch-level/parse-pacman.js';
import {
  markMacSecurity,
  parseDefaultsDate,
  parseSoftwareUpdateList,
} from '../../src/probes/patch-level/parse-softwareupdate.js';
import { newestHotfix, parseWindowsUpdates } from '../../src/probes/patch-level/parse-windows-update.js';
import { parseZypperUpdates, zypperPending } from '../../src/probes/patch-level/parse-zypper.js';
import { createLiveHost } from '../../src/probes/live-host.js';
import { runProbe } from '../../src/probes/run.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { asArray } from '../../src/host/native-protocol.js';
import { fixture, fixtureJson } from '../helpers/fixtures.js';
import { replayHost } from '../helpers/capture.js';

const GARBAGE = ['', '\n', 'Segmentation fault', 'E: Could not get lock /var/lib/dpkg/lock-frontend'];

describe('apt', () => {
  it('marks updates offered by a -security pocket (Ubuntu)', () => {
    const updates = parseAptSimulation(
      fixture('linux/apt/ubuntu-22.04-apt-get-s-upgrade-security-pockets.txt'),
    );
    expect(updates.map((u) => [u.name, u.security])).toEqual([
      ['bsdutils', true],
      ['gzip', true],
      ['tar', true],
      ['distro-info-data', false],
    ]);
  });

  it('reads Debian-Security origins and -qq output without a summary', () => {
    const updates = parseAptSimulation(
      fixture('linux/apt/debian-10-apt-get-sqq-upgrade-debian-security-trimmed.txt'),
    );
    expect(updates.find((u) => u.name === 'dpkg')?.security).toBe(true);
    expect(updates.find((u) => u.name === 'base-files')?.security).toBe(false);
  });

  it('handles multiarch notes and third-party origins', () => {
    const updates = parseAptSimulation(
      fixture('linux/apt/ubuntu-22.04-apt-get-s-upgrade-kept-back-multiarch-thirdparty-trimmed.txt'),
    );
    expect(updates.find((u) => u.name === 'cursor')).toMatchObject({
      version: '3.23.23-1791166813',
      security: false,
    });
    expect(updates.find((u) => u.name === 'libkrb5-3')?.security).toBe(false);
  });

  it('nothing to upgrade is an empty list', () => {
    expect(parseAptSimulation(fixture('linux/apt/ubuntu-19.04-apt-dist-upgrade-0-upgraded.txt'))).toEqual([]);
  });

  it.each(GARBAGE)('garbage %p is refused', (text) => {
    expect(() => parseAptSimulation(text)).toThrow(UnexpectedOutputError);
  });

  it('the probe reports index freshness, last install and reboot flag from apt state files', async () => {
    const day = 86_400_000;
    const now = Date.parse('2026-11-20T10:00:00Z');
    const host = replayHost({
      os: 'linux',
      commands: [
        {
          command: APT_GET,
          args: APT_ARGS,
          stdout: fixture('linux/apt/ubuntu-22.04-apt-get-s-upgrade-security-pockets.txt'),
        },
      ],
      stats: {
        '/var/lib/apt/periodic/update-success-stamp': now - day,
        '/var/log/apt/history.log': now - 3 * day,
        '/run/reboot-required': now - 3 * day,
      },
    });
    const result = await runProbe(host, linuxPatchLevel);
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    expect(result.observation).toMatchObject({
      manager: 'apt',
      pending: 4,
      securityPending: 3,
      indexRefreshedAt: new Date(now - day).toISOString(),
      lastInstallAt: new Date(now - 3 * day).toISOString(),
      rebootRequired: true,
    });
  });

  it('without update-notifier the absence of /run/reboot-required proves nothing', async () => {
    const host = replayHost({
      os: 'linux',
      commands: [
        {
          command: APT_GET,
          args: APT_ARGS,
          stdout: fixture('linux/apt/ubuntu-19.04-apt-dist-upgrade-0-upgraded.txt'),
        },
      ],
      stats: {
        '/run/reboot-required': 'not_found',
        '/usr/share/update-notifier/notify-reboot-required': 'not_found',
      },
    });
    const result = await runProbe(host, linuxPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({ rebootRequired: null });
  });

  it('runs for real on this Debian machine', async () => {
    const result = await runProbe(createLiveHost(), linuxPatchLevel);
    expect(result.status).toBe('observed');
    expect(result.status === 'observed' && (result.observation as { manager: string }).manager).toBe('apt');
  });
});

describe('dnf', () => {
  it('check-update exit 100 lists packages; exit 0 means none; exit 1 is an error', () => {
    const updates = parseDnfCheckUpdate(fixture('linux/dnf/fedora-dnf-e0-d0-check-update.txt'), 100);
    expect(updates.length).toBeGreaterThan(0);
    expect(updates[0]).toMatchObject({ name: 'pgdg-fedora-repo', version: '42.0-6' });
    expect(parseDnfCheckUpdate('', 0)).toEqual([]);
    expect(() => parseDnfCheckUpdate('Error: Failed to download metadata', 1)).toThrow(UnexpectedOutputError);
    expect(() => parseDnfCheckUpdate('', 100)).toThrow(UnexpectedOutputError);
  });

  it('updateinfo --security names the affected packages', () => {
    const names = parseDnfSecurityList(fixture('linux/dnf/fedora-34-updateinfo-list-security.txt'));
    expect(names.has('curl')).toBe(true);
    expect(names.has('dhcp-client')).toBe(true);
    expect(names.has('kernel-core')).toBe(true);
    expect(nvraName('dhcp-client-12:4.4.2-11.b1.fc34.x86_64')).toBe('dhcp-client');
  });

  it('needs-restarting -r', () => {
    expect(parseNeedsRestarting(fixture('linux/dnf/needs-restarting-r-reboot-required.txt'), 1)).toBe(true);
    expect(parseNeedsRestarting(fixture('linux/dnf/needs-restarting-r-no-reboot.txt'), 0)).toBe(false);
    expect(() => parseNeedsRestarting('garbage', 0)).toThrow(UnexpectedOutputError);
  });
});

describe('zypper', () => {
  it('list-updates XML from SLES 12 and Leap 16', () => {
    expect(parseZypperUpdates(fixture('linux/zypper/sles12sp1-zypper-x-lu.xml')).length).toBeGreaterThan(2);
    const leap = parseZypperUpdates(
      fixture('linux/zypper/opensuse-leap-16.0-zypper-quiet-xmlout-list-updates.xml'),
    );
    expect(leap.map((u) => u.name)).toEqual([
      'kernel-default',
      'kernel-default-extra',
      'kernel-default-optional',
      'qemu-guest-agent',
    ]);
  });

  it('security patches are counted from list-patches', () => {
    const patches = parseZypperUpdates(
      fixture('linux/zypper/opensuse-leap-16.0-zypper-quiet-xmlout-list-patches-security-trimmed.xml'),
    );
    const pending = zypperPending(
      parseZypperUpdates(fixture('linux/zypper/opensuse-leap-16.0-zypper-quiet-xmlout-list-updates.xml')),
      patches,
    );
    expect(pending.securityPending).toBeGreaterThan(0);
    expect(
      pending.updates.filter((u) => u.security).every((u) => u.name.startsWith('openSUSE-Leap-16.0-')),
    ).toBe(true);
  });

  it('a security patch carries its issue date as its publication date (Leap 16; zypper 1.14.42 run here)', () => {
    const leap = zypperPending(
      [],
      parseZypperUpdates(
        fixture('linux/zypper/opensuse-leap-16.0-zypper-quiet-xmlout-list-patches-security-trimmed.xml'),
      ),
    );
    expect(leap.updates[0]).toMatchObject({ security: true, releasedAt: '2025-12-18T12:42:03.000Z' });
    const here = zypperPending(
      parseZypperUpdates(fixture('linux/zypper/debian-12-zypper-1.14.42-x-list-updates-local-repo.xml')),
      parseZypperUpdates(
        fixture('linux/zypper/debian-12-zypper-1.14.42-x-list-patches-security-local-repo.xml'),
      ),
    );
    expect(here.securityPending).toBe(1);
    expect(here.updates).toEqual([
      {
        name: 'openSUSE-DEMO-2026-1',
        version: '1',
        security: true,
        releasedAt: '2026-09-21T14:13:20.000Z',
        restartRequired: false,
      },
      { name: 'posture-demo', version: '1.1-1', security: false },
    ]);
  });

  it.each([
    'debian-12-zypper-1.14.42-x-list-updates-unsigned-repo-skipped-exit106.xml',
    'debian-12-zypper-1.14.42-x-list-patches-unsigned-repo-skipped-exit106.xml',
  ])('a repository zypper skipped (%s) is no "nothing pending": refused', (file) => {
    expect(() => parseZypperUpdates(fixture(`linux/zypper/${file}`))).toThrow(UnexpectedOutputError);
  });

  it.each([
    '',
    '<stream>',
    'not xml',
    '<?xml version="1.0"?><stream><message type="error">Repository is not refreshed</message></stream>',
  ])('%p is refused', (text) => {
    expect(() => parseZypperUpdates(text)).toThrow(UnexpectedOutputError);
  });
});

describe('pacman', () => {
  it('reads upgradable packages; security is not known', () => {
    const updates = parsePacmanUpgradable(fixture('linux/pacman/arch-checkupdates.txt'));
    expect(updates.find((u) => u.name === 'linux')).toMatchObject({
      version: '5.4.7.arch1-1',
      security: false,
    });
    expect(() => parsePacmanUpgradable('error: failed to init transaction')).toThrow(UnexpectedOutputError);
  });

  it('reads `pacman --query --upgrades` with epochs (Arch, 2017)', () => {
    const updates = parsePacmanUpgradable(fixture('linux/pacman/arch-2017-pacman-query-upgrades-epoch.txt'));
    expect(updates).toHaveLength(24);
    expect(updates.find((u) => u.name === 'lz4')?.version).toBe('1:1.8.0-1');
  });

  it('an [ignored] package (IgnorePkg) is still pending: the device lacks the update', () => {
    expect(parsePacmanUpgradable(fixture('linux/pacman/arch-2017-pacman-qu-ignored.txt'))).toEqual([
      { name: 'fish', version: '2.6.0-1', security: false },
    ]);
  });
});

describe('softwareupdate (macOS)', () => {
  it('reads the modern Label format with restart actions', () => {
    const updates = parseSoftwareUpdateList(
      fixture('darwin/softwareupdate-list/kib-major-upgrade-macos13.txt'),
    );
    expect(updates.map((u) => [u.name, u.version, u.restartRequired])).toEqual([
      ['Safari', '17.0', false],
      ['macOS Ventura 13.6', '13.6', true],
      ['macOS Sonoma 14.0', '14.0', true],
    ]);
  });

  it('an upgrade to the next major macOS is not a pending security update', () => {
    const updates = markMacSecurity(
      parseSoftwareUpdateList(fixture('darwin/softwareupdate-list/kib-major-upgrade-macos13.txt')),
      '13.5.2',
    );
    expect(updates.map((u) => [u.name, u.security])).toEqual([
      ['Safari', true],
      ['macOS Ventura 13.6', true],
      ['macOS Sonoma 14.0', false],
    ]);
  });

  it.each([
    'label-format-macos10.15.txt',
    'label-format-restart-macos11.6.txt',
    'label-format-no-tool-header-macos11.0.1.txt',
    'xtype-stderr-noise-macos13.txt',
    'kib-restart-macos26.txt',
    'old-format-macos10.10.txt',
    'old-format-macos10.12.txt',
    'old-format-restart-manpage-docs.txt',
  ])('reads %s', (file) => {
    const updates = parseSoftwareUpdateList(fixture(`darwin/softwareupdate-list/${file}`));
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) expect(u.name).not.toMatch(/^\s|Label:/);
  });

  it('the old format keeps [restart]', () => {
    const updates = parseSoftwareUpdateList(
      fixture('darwin/softwareupdate-list/old-format-restart-manpage-docs.txt'),
    );
    expect(updates.find((u) => u.name === 'AirPort Software')).toMatchObject({
      restartRequired: true,
      recommended: true,
    });
    expect(updates.find((u) => u.name === 'iCal')).toMatchObject({ recommended: false });
  });

  it('"No new software available." (on stderr) means none; silence is refused', () => {
    expect(
      parseSoftwareUpdateList('', fixture('darwin/softwareupdate-list/no-updates-stderr-macos10.15.7.txt')),
    ).toEqual([]);
    expect(() => parseSoftwareUpdateList('', '')).toThrow(UnexpectedOutputError);
  });

  it('the probe never scans the network and reports the last successful check', async () => {
    const host = replayHost({
      os: 'darwin',
      commands: [
        {
          command: SOFTWAREUPDATE,
          args: ['--list', '--no-scan'],
          stdout: fixture('darwin/softwareupdate-list/kib-restart-macos26.txt'),
        },
        {
          command: '/usr/bin/sw_vers',
          args: [],
          stdout: 'ProductName:\t\tmacOS\nProductVersion:\t\t26.5.1\nBuildVersion:\t\t25F71\n',
        },
        {
          command: '/usr/bin/defaults',
          args: ['read', '/Library/Preferences/com.apple.SoftwareUpdate', 'LastSuccessfulDate'],
          stdout: '2026-11-19 08:00:00 +0000\n',
        },
      ],
    });
    const result = await runProbe(host, darwinPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      manager: 'softwareupdate',
      pending: 1,
      securityPending: 1,
      indexRefreshedAt: '2026-11-19T08:00:00.000Z',
    });
    expect(parseDefaultsDate('2024-02-12 07:12:07 +0100')).toBe('2024-02-12T06:12:07.000Z');
  });
});

describe('Windows Update', () => {
  it('security by MSRC severity or category, with publication dates from /Date()/', () => {
    const o = parseWindowsUpdates({
      updates: [
        {
          Title: '2026-11 Cumulative Update for Windows 11 Version 24H2 (KB5070000)',
          KBArticleIDs: ['5070000'],
          MsrcSeverity: 'Critical',
          Categories: ['Security Updates'],
          LastDeploymentChangeTime: '/Date(1762819200000)/',
        },
        {
          Title: 'Microsoft Defender Antivirus antimalware platform update',
          MsrcSeverity: null,
          Categories: [{ Name: 'Definition Updates' }],
        },
      ],
      rebootRequired: false,
      lastSearchSuccessDate: '/Date(1763600000000)/',
    });
    expect(o).toMatchObject({
      manager: 'windows_update',
      pending: 2,
      securityPending: 1,
      rebootRequired: false,
    });
    expect(o.updates[0]).toMatchObject({
      version: 'KB5070000',
      security: true,
      releasedAt: '2025-11-11T00:00:00.000Z',
    });
    expect(o.indexRefreshedAt).toBe(new Date(1763600000000).toISOString());
  });

  it('newest hotfix date from real Get-HotFix JSON (PowerShell 5.1 /Date()/ string)', () => {
    const hotfix = asArray(
      fixtureJson('windows/hotfix/get-hotfix_remote_convertto-json_ps51_date-string.json'),
    );
    expect(newestHotfix(hotfix)).toBe('2019-09-06T22:00:00.000Z');
  });

  it('refuses data without an updates list', () => {
    expect(() => parseWindowsUpdates({})).toThrow(UnexpectedOutputError);
    expect(() => parseWindowsUpdates({ updates: [{ KBArticleIDs: [] }] })).toThrow(UnexpectedOutputError);
  });
});
