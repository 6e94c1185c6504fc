import { darwinOsVersion, SW_VERS } from '../../src/probes/os-version/darwin.js';
import { linuxOsVersion } from '../../src/probes/os-version/linux.js';
import { parseOsRelease } from '../../src/probes/os-version/parse-os-release.js';
import { parseSwVers } from '../../src/probes/os-version/parse-sw-vers.js';
import { parseWindowsCurrentVersion } from '../../src/probes/os-version/parse-windows-version.js';
import { runProbe } from '../../src/probes/run.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { fixture, fixtureJson, fixtureNames } from '../helpers/fixtures.js';
import { replayHost } from '../helpers/capture.js';

describe('os-release (Linux)', () => {
  it.each([
    ['ubuntu-24.04', 'ubuntu', '24.04', false],
    ['ubuntu-22.04', 'ubuntu', '22.04', false],
    ['debian-12', 'debian', '12', false],
    ['debian-13', 'debian', '13', false],
    ['fedora-42', 'fedora', '42', false],
    ['rhel-9.6', 'rhel', '9.6', false],
    ['rocky-9.3', 'rocky', '9.3', false],
    ['alpine-3.23', 'alpine', '3.23.0', false],
    ['arch', 'arch', undefined, true],
    ['gentoo-2.18', 'gentoo', '2.18', true],
    ['opensuse-tumbleweed-20250527', 'opensuse-tumbleweed', '20250527', true],
    ['opensuse-microos-20241205', 'opensuse-microos', '20241205', true],
    // Kali carries a VERSION_ID (a snapshot of the rolling suite); its codename says it rolls.
    ['kali-2023.3', 'kali', '2023.3', true],
    ['kali-2026.3-head', 'kali', '2026.3', true],
  ])('%s → id %s, version %s, rolling %s', async (file, id, version, rolling) => {
    const result = await runProbe(
      replayHost({
        os: 'linux',
        files: {
          '/etc/os-release': fixture(`linux/os-release/${file}`),
          '/proc/sys/kernel/osrelease': '6.1.0-18-amd64\n',
        },
      }),
      linuxOsVersion,
    );
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    const o = result.observation as { distroId: string; version?: string; rolling: boolean; kernel: string };
    expect(o.distroId).toBe(id);
    if (version === '3.23.0') expect(o.version).toMatch(/^3\.23/);
    else expect(o.version).toBe(version);
    expect(o.rolling).toBe(rolling);
    expect(o.kernel).toBe('6.1.0-18-amd64');
  });

  it('covers every recorded os-release file', () => {
    expect(fixtureNames('linux/os-release')).toHaveLength(14);
  });

  it('falls back to /usr/lib/os-release as os-release(5) says', async () => {
    const host = replayHost({
      os: 'linux',
      files: {
        '/etc/os-release': 'not_found',
        '/usr/lib/os-release': fixture('linux/os-release/debian-12'),
        '/proc/sys/kernel/osrelease': 'not_found',
      },
    });
    const result = await runProbe(host, linuxOsVersion);
    expect(result.status === 'observed' && (result.observation as { distroId: string }).distroId).toBe(
      'debian',
    );
  });

  it('unquotes single and double quotes and skips comments', () => {
    expect(parseOsRelease('# comment\nID=\'gentoo\'\nNAME="A \\"quoted\\" name"\n')).toMatchObject({
      id: 'gentoo',
      name: 'A "quoted" name',
    });
  });

  it.each(['', 'garbage', '\u0000\u0001'])('garbage %p → unknown/unexpected_output', async (text) => {
    expect(() => parseOsRelease(text)).toThrow(UnexpectedOutputError);
    const result = await runProbe(
      replayHost({ os: 'linux', files: { '/etc/os-release': text } }),
      linuxOsVersion,
    );
    expect(result).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
  });
});

describe('sw_vers (macOS)', () => {
  it.each([
    ['macos10.13-mac-os-x-no-patch.txt', 'Mac OS X', '10.13', undefined],
    ['macos10.15.7-mac-os-x.txt', 'Mac OS X', '10.15.7', undefined],
    ['macos11.2.1.txt', 'macOS', '11.2.1', undefined],
    ['macos13.3.1-rsr-a.txt', 'macOS', '13.3.1', '(a)'],
    ['macos13.6.3-tabs-expanded.txt', 'macOS', '13.6.3', undefined],
    ['macos14.2.1-tabs-expanded.txt', 'macOS', '14.2.1', undefined],
    ['macos15.0-tabs.txt', 'macOS', '15.0', undefined],
    ['macos15.6.1-tabs.txt', 'macOS', '15.6.1', undefined],
  ])('%s', (file, name, version, extra) => {
    const v = parseSwVers(fixture(`darwin/sw_vers/${file}`));
    expect(v.productName).toBe(name);
    expect(v.productVersion).toBe(version);
    expect(v.productVersionExtra).toBe(extra);
  });

  it('reports the Rapid Security Response through the probe', async () => {
    const host = replayHost({
      os: 'darwin',
      commands: [{ command: SW_VERS, args: [], stdout: fixture('darwin/sw_vers/macos13.3.1-rsr-a.txt') }],
    });
    const result = await runProbe(host, darwinOsVersion);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      platform: 'darwin',
      version: '13.3.1',
      rapidSecurityResponse: '(a)',
      build: '22E772610a',
    });
  });

  it('a missing sw_vers is unknown/command_missing', async () => {
    const host = replayHost({
      os: 'darwin',
      commands: [{ command: SW_VERS, args: [], error: 'command_missing' }],
    });
    expect(await runProbe(host, darwinOsVersion)).toMatchObject({
      status: 'unknown',
      reason: 'command_missing',
    });
  });

  it.each(['', 'ProductName: macOS\n', 'ProductVersion: banana\n'])('garbage %p is refused', (text) => {
    expect(() => parseSwVers(text)).toThrow(UnexpectedOutputError);
  });
});

describe('CurrentVersion (Windows)', () => {
  it('Windows 11 whose ProductName says "Windows 10" is named by its build', () => {
    const o = parseWindowsCurrentVersion(
      fixtureJson(
        'windows/currentversion/cnquery-select_convertto-json_win11-24h2-arm64-productname-windows10.json',
      ) as Record<string, unknown>,
    );
    expect(o).toMatchObject({
      name: 'Windows 11 Enterprise',
      version: '10.0.26100.2033',
      build: '26100',
      ubr: 2033,
      displayVersion: '24H2',
      edition: 'Enterprise',
    });
  });

  it('Windows 10 stays Windows 10, and servers keep their name', () => {
    expect(
      parseWindowsCurrentVersion({
        CurrentBuild: '19045',
        UBR: 5737,
        ProductName: 'Windows 10 Pro',
        DisplayVersion: '22H2',
      }).name,
    ).toBe('Windows 10 Pro');
    expect(
      parseWindowsCurrentVersion({
        CurrentBuild: '26100',
        ProductName: 'Windows Server 2025 Datacenter',
        InstallationType: 'Server',
      }).name,
    ).toBe('Windows Server 2025 Datacenter');
  });

  it('refuses a missing or absurd build', () => {
    expect(() => parseWindowsCurrentVersion({ ProductName: 'Windows 10 Pro' })).toThrow(
      UnexpectedOutputError,
    );
    expect(() => parseWindowsCurrentVersion({ CurrentBuild: 'abc' })).toThrow(UnexpectedOutputError);
  });
});
