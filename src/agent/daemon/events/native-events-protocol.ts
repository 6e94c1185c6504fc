/**
 * The line protocol of the native event helpers (native-probes/PROTOCOL.md, "Event helpers"):
 * native-probes/darwin/posture-events (Swift) and native-probes/windows/posture-events.ps1
 * (Windows PowerShell 5.1) each print one JSON object per line on stdout, for as long as they run:
 *
 *   {"v":1,"event":"ready"}                                  listening; printed once at start
 *   {"v":1,"event":"network","detail":"State:/Network/Global/IPv4"}
 *   {"v":1,"event":"sleep"}                                  the system is about to sleep
 *   {"v":1,"event":"wake"}                                   the system has resumed
 *
 * These are our own protocol's lines, not an OS output. A line is only a hint to re-probe: the
 * probes read the posture themselves, so nothing in it is trusted for a verdict.
 */
import { z } from 'zod';
import type { CheckId } from '../../../shared/posture.js';
import type { TriggerSource } from '../../../shared/local-api.js';
import { ALL_CHECKS } from './trigger.js';

export const NATIVE_EVENT_VERSION = 1;
export const NATIVE_EVENTS = ['ready', 'network', 'sleep', 'wake'] as const;
export type NativeEventName = (typeof NATIVE_EVENTS)[number];

export const nativeEventLineSchema = z
  .object({
    v: z.literal(NATIVE_EVENT_VERSION),
    event: z.enum(NATIVE_EVENTS),
    detail: z.string().max(500).optional(),
  })
  .strict();
export type NativeEventLine = z.infer<typeof nativeEventLineSchema>;

export type ParsedNativeLine =
  { ok: true; line: NativeEventLine } | { ok: false; reason: 'not_json' | 'not_protocol' };

/** One stdout line of an event helper, checked against the schema. Pure. */
export function parseNativeEventLine(text: string): ParsedNativeLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  const parsed = nativeEventLineSchema.safeParse(value);
  return parsed.success ? { ok: true, line: parsed.data } : { ok: false, reason: 'not_protocol' };
}

/**
 * What an event asks the daemon to re-probe, as the Linux D-Bus source maps logind and
 * NetworkManager (dbus-signals.ts): a wake re-probes everything, a network change the firewall (a
 * new network may mean another firewall profile), going to sleep queues nothing, `ready` is no
 * event. Undefined: no trigger.
 */
export function nativeEventTrigger(
  line: NativeEventLine,
): { source: TriggerSource; checks: readonly CheckId[] } | undefined {
  switch (line.event) {
    case 'wake':
      return { source: 'wake', checks: ALL_CHECKS };
    case 'network':
      return { source: 'network', checks: ['firewall'] };
    case 'sleep':
      return { source: 'sleep', checks: [] };
    case 'ready':
      return undefined;
  }
}
