/**
 * Which sources the daemon builds per OS (nothing is started): polling (the schedule) everywhere;
 * nftables and D-Bus on Linux; the native event helper on macOS and Windows, found in the install
 * dir and, on Windows, run through the probes' PowerShell launcher.
 */
import { join } from 'node:path';
import { eventSourcesFor, nativeEventHelper } from '../../../src/agent/daemon/event-sources.js';
import { DEFAULT_SCHEDULE } from '../../../src/agent/daemon/schedule.js';
import { powershellScript } from '../../../src/host/powershell.js';

function names(platform: NodeJS.Platform): string[] {
  return eventSourcesFor({
    platform,
    schedule: DEFAULT_SCHEDULE,
    onTrigger: () => undefined,
    onProblem: () => undefined,
    env: {},
    installDir: '/opt/posture-agent',
  }).map((s) => s.name);
}

describe('eventSourcesFor', () => {
  it('gives macOS and Windows the native helper plus the polling schedule', () => {
    for (const platform of ['darwin', 'win32'] as const) {
      expect(names(platform)).toEqual(['schedule', 'clock-jump', 'file-watch', 'native-events']);
    }
  });

  it('gives Linux nftables and D-Bus, no native helper', () => {
    expect(names('linux')).toEqual(['schedule', 'clock-jump', 'file-watch', 'nft-monitor', 'dbus']);
  });

  it('finds each helper in the install dir', () => {
    expect(nativeEventHelper('darwin', '/opt/pa', {})).toEqual({
      command: join('/opt/pa', 'native-probes', 'darwin', 'posture-events'),
      args: [],
    });
    const script = join('/opt/pa', 'native-probes', 'windows', 'posture-events.ps1');
    expect(nativeEventHelper('win32', '/opt/pa', { SystemRoot: 'D:\\Windows' })).toEqual(
      powershellScript('D:\\Windows', script, []),
    );
    expect(nativeEventHelper('win32', '/opt/pa', {})?.command).toBe(
      'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
    );
    expect(nativeEventHelper('linux', '/opt/pa', {})).toBeUndefined();
    expect(nativeEventHelper('freebsd', '/opt/pa', {})).toBeUndefined();
  });
});
