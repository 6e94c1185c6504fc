/**
 * Capture and replay: a capture taken on this machine replays to the same report, and captures
 * assembled from outputs recorded on real macOS and Windows machines give the expected verdicts.
 */
import { replayCapture, runCapture, runCheck } from '../../src/agent/check.js';
import { parseCapture } from '../../src/probes/capture.js';
import { createLiveHost } from '../../src/probes/live-host.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import { CaptureInvalidError } from '../../src/shared/errors.js';
import { fixture } from '../helpers/fixtures.js';
import { buildCapture } from '../helpers/capture.js';
import { testConfig } from '../helpers/config.js';

const verdicts = (o: { evaluation: { checks: { check: string; code: string }[] } }) =>
  Object.fromEntries(o.evaluation.checks.map((c) => [c.check, c.code]));

describe('capture on this machine', () => {
  it('replays to the same report and the same verdicts, from JSON text', async () => {
    const config = testConfig();
    const { capture, report } = await runCapture(createLiveHost(), config, 'jest round trip');
    expect(capture.commands.length).toBeGreaterThan(2);
    expect(capture.files.some((f) => f.path === '/proc/self/mountinfo')).toBe(true);
    const replayed = await replayCapture(
      parseCapture(JSON.stringify(capture)),
      'round-trip.json',
      config,
      DEFAULT_POLICY,
    );
    expect(replayed.report.checks).toEqual(report.checks);
    expect(replayed.report.collectedAt).toBe(report.collectedAt);
    expect(replayed.report.replayedFrom).toBe('round-trip.json');
    const live = await runCheck({ host: createLiveHost(), config, policy: DEFAULT_POLICY, cache: false });
    expect(Object.keys(verdicts(replayed))).toEqual(Object.keys(verdicts(live)));
  });

  it('a capture missing what a probe reads replays as unknown/not_in_capture, never as a guess', async () => {
    const capture = buildCapture({ os: 'linux' });
    const out = await replayCapture(capture, 'empty.json', testConfig(), DEFAULT_POLICY);
    for (const check of Object.values(out.report.checks))
      expect(check).toMatchObject({ status: 'unknown', reason: 'not_in_capture' });
    expect(out.evaluation.overall).toBe('unknown');
  });

  it.each([
    ['not JSON', '{'],
    ['wrong format', '{"format":"something-else"}'],
    ['wrong version', JSON.stringify({ ...buildCapture({ os: 'linux' }), version: 2 })],
    [
      'bad outcome',
      JSON.stringify({
        ...buildCapture({ os: 'linux' }),
        commands: [{ command: '/x', args: [], outcome: { ok: 'maybe' } }],
      }),
    ],
  ])('refuses a capture that is %s with ERR_CAPTURE_INVALID', (_name, text) => {
    expect(() => parseCapture(text)).toThrow(CaptureInvalidError);
    try {
      parseCapture(text);
    } catch (error) {
      expect((error as CaptureInvalidError).code).toBe('ERR_CAPTURE_INVALID');
    }
  });
});

describe('recorded macOS capture', () => {
  const sfw = '/usr/libexec/ApplicationFirewall/socketfilterfw';
  const capture = buildCapture({
    os: 'darwin',
    capturedAt: '2024-01-10T09:00:00.000Z',
    note: 'assembled from outputs recorded on real Macs (test/fixtures/SOURCES.md)',
    commands: [
      {
        command: '/usr/bin/fdesetup',
        args: ['status'],
        stdout: fixture('darwin/fdesetup-status/off-needs-restart-deferred-macos10.12.txt'),
      },
      {
        command: sfw,
        args: ['--getglobalstate'],
        stdout: fixture('darwin/socketfilterfw-globalstate/enabled-state1-2023.txt'),
      },
      {
        command: sfw,
        args: ['--getstealthmode'],
        stdout: fixture('darwin/socketfilterfw-stealthmode/enabled-old-wording-2024.txt'),
      },
      {
        command: sfw,
        args: ['--getblockall'],
        stdout: fixture('darwin/socketfilterfw-blockall/disabled-old-wording-2023.txt'),
      },
      {
        command: '/sbin/pfctl',
        args: ['-s', 'info'],
        exitCode: 1,
        stderr: 'pfctl: /dev/pf: Permission denied\n',
      },
      {
        command: '/usr/bin/sw_vers',
        args: [],
        stdout: fixture('darwin/sw_vers/macos14.2.1-tabs-expanded.txt'),
      },
      { command: '/usr/bin/uname', args: ['-r'], stdout: '23.2.0\n' },
      {
        command: '/usr/sbin/softwareupdate',
        args: ['--list', '--no-scan'],
        stdout: fixture('darwin/softwareupdate-list/xtype-stderr-noise-macos13.txt'),
      },
      {
        command: '/usr/bin/defaults',
        args: ['read', '/Library/Preferences/com.apple.SoftwareUpdate', 'LastSuccessfulDate'],
        exitCode: 1,
        stderr: 'does not exist\n',
      },
    ],
  });

  it('gives the expected verdicts', async () => {
    const out = await replayCapture(capture, 'mac.json', testConfig(), DEFAULT_POLICY);
    expect(out.report.platform).toBe('darwin');
    expect(verdicts(out)).toEqual({
      disk_encryption: 'volume_unencrypted',
      os_version: 'os_too_old',
      firewall: 'firewall_on',
      patch_level: 'update_age_unknown',
    });
    const fw = out.report.checks.firewall;
    expect(fw?.status === 'observed' && fw.observation).toMatchObject({ stealth: true, blockAll: false });
  });
});

describe('recorded Windows capture', () => {
  const ps = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
  const script = 'C:\\Program Files\\Posture Agent\\native-probes\\windows\\posture-probe.ps1';
  const args = (probe: string) => [
    '-NoLogo',
    '-NoProfile',
    '-NonInteractive',
    '-ExecutionPolicy',
    'Bypass',
    '-File',
    script,
    '-Probe',
    probe,
  ];
  const envelope = (probe: string, data: unknown) =>
    JSON.stringify({ protocol: 'posture-native/1', probe, ok: true, data });
  const capture = buildCapture({
    os: 'win32',
    capturedAt: '2024-10-20T09:00:00.000Z',
    note: 'helper envelopes around outputs recorded on real Windows machines (test/fixtures/SOURCES.md)',
    commands: [
      {
        command: ps,
        args: args('bitlocker'),
        stdout: envelope('bitlocker', {
          systemDrive: 'C:',
          volumes: JSON.parse(
            fixture(
              'windows/encryptablevolume/get-bitlockervolume_convertto-json_os-encrypted_data-decrypted.json',
            ),
          ),
        }),
      },
      {
        command: ps,
        args: args('firewall'),
        stdout: envelope('firewall', {
          profiles: JSON.parse(fixture('windows/netfirewallprofile/convertto-json_server2022.json')),
        }),
      },
      {
        command: ps,
        args: args('os_version'),
        stdout: envelope(
          'os_version',
          JSON.parse(
            fixture(
              'windows/currentversion/cnquery-select_convertto-json_win11-24h2-arm64-productname-windows10.json',
            ),
          ),
        ),
      },
      {
        command: ps,
        args: args('updates'),
        stdout: JSON.stringify({
          protocol: 'posture-native/1',
          probe: 'updates',
          ok: false,
          error: { code: 'insufficient_privilege', message: 'not elevated' },
        }),
      },
    ],
  });

  it('gives the expected verdicts, asking for the helper where the capture found it', async () => {
    const out = await replayCapture(capture, 'win.json', testConfig(), DEFAULT_POLICY);
    expect(out.report.platform).toBe('windows');
    expect(verdicts(out)).toEqual({
      disk_encryption: 'volume_unencrypted',
      os_version: 'os_supported',
      firewall: 'firewall_on',
      patch_level: 'observation_insufficient_privilege',
    });
    const os = out.report.checks.os_version;
    expect(os?.status === 'observed' && os.observation.name).toBe('Windows 11 Enterprise');
  });

  it('a helper that printed garbage is unknown/unexpected_output', async () => {
    const broken = buildCapture({
      os: 'win32',
      commands: [
        {
          command: ps,
          args: args('firewall'),
          stdout: 'Get-NetFirewallProfile : Access denied',
          exitCode: 1,
        },
      ],
    });
    const out = await replayCapture(broken, 'broken.json', testConfig(), DEFAULT_POLICY);
    expect(out.report.checks.firewall).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
  });
});
