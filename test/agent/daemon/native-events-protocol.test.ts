/**
 * The native event helpers' line protocol (native-probes/PROTOCOL.md, "Event helpers") on the lines
 * the helpers print (our own protocol, written from native-probes/darwin/posture-events.swift and
 * native-probes/windows/posture-events.ps1; not OS outputs), and its mapping to triggers.
 */
import {
  nativeEventTrigger,
  parseNativeEventLine,
} from '../../../src/agent/daemon/events/native-events-protocol.js';
import {
  LOGIND_PREPARE_FOR_SLEEP,
  NETWORKMANAGER_STATE_CHANGED,
} from '../../../src/agent/daemon/events/dbus-signals.js';
import { ALL_CHECKS } from '../../../src/agent/daemon/events/trigger.js';

describe('parseNativeEventLine', () => {
  it.each([
    ['{"v":1,"event":"ready"}', 'ready'],
    ['{"v":1,"event":"network","detail":"State:/Network/Global/IPv4"}', 'network'],
    ['{"v":1,"event":"network","detail":"NetworkAddressChanged"}', 'network'],
    ['{"v":1,"event":"sleep","detail":"kIOMessageSystemWillSleep"}', 'sleep'],
    ['{"v":1,"event":"wake","detail":"Win32_PowerManagementEvent 7"}', 'wake'],
    // Foundation's JSONSerialization (sortedKeys) escapes "/" as "\/".
    ['{"detail":"State:\\/Network\\/Global\\/IPv4","event":"network","v":1}', 'network'],
    // Windows PowerShell's Console.Out ends lines with CR LF; streamLines splits at LF.
    ['{"v":1,"event":"wake","detail":"Win32_PowerManagementEvent 18"}\r', 'wake'],
  ])('reads %s', (text, event) => {
    expect(parseNativeEventLine(text)).toEqual({ ok: true, line: expect.objectContaining({ v: 1, event }) });
  });

  it.each([
    ['', 'not_json'],
    ['Register-WmiEvent : Access denied', 'not_json'],
    ['{"v":1,"event":"ready"', 'not_json'],
    ['{"v":2,"event":"wake"}', 'not_protocol'],
    ['{"event":"wake"}', 'not_protocol'],
    ['{"v":1,"event":"reboot"}', 'not_protocol'],
    ['{"v":1,"event":"wake","extra":true}', 'not_protocol'],
    ['{"v":1,"event":"wake","detail":5}', 'not_protocol'],
    [`{"v":1,"event":"wake","detail":"${'x'.repeat(501)}"}`, 'not_protocol'],
    ['[1]', 'not_protocol'],
    ['null', 'not_protocol'],
  ])('refuses %j as %s', (text, reason) => {
    expect(parseNativeEventLine(text)).toEqual({ ok: false, reason });
  });
});

describe('nativeEventTrigger', () => {
  it('maps events as the Linux D-Bus source does', () => {
    expect(nativeEventTrigger({ v: 1, event: 'wake' })).toEqual({ source: 'wake', checks: ALL_CHECKS });
    expect(nativeEventTrigger({ v: 1, event: 'network' })).toEqual({
      source: 'network',
      checks: ['firewall'],
    });
    expect(nativeEventTrigger({ v: 1, event: 'sleep' })).toEqual({ source: 'sleep', checks: [] });
    expect(nativeEventTrigger({ v: 1, event: 'ready' })).toBeUndefined();
  });

  it('agrees with the D-Bus source on which checks each event re-probes', () => {
    const at = new Date(0).toISOString();
    const pick = (t: { source: string; checks: readonly string[] } | undefined) => t && [t.source, t.checks];
    expect(pick(nativeEventTrigger({ v: 1, event: 'wake' }))).toEqual(
      pick(LOGIND_PREPARE_FOR_SLEEP.toTrigger([false], at)),
    );
    expect(pick(nativeEventTrigger({ v: 1, event: 'sleep' }))).toEqual(
      pick(LOGIND_PREPARE_FOR_SLEEP.toTrigger([true], at)),
    );
    expect(pick(nativeEventTrigger({ v: 1, event: 'network' }))).toEqual(
      pick(NETWORKMANAGER_STATE_CHANGED.toTrigger([70], at)),
    );
  });
});
