/**
 * The Windows helper (native-probes/windows/posture-probe.ps1) prints one JSON object per run,
 * as native-probes/PROTOCOL.md specifies:
 *   {"protocol":"posture-native/1","probe":"bitlocker","ok":true,"data":{…}}
 *   {"protocol":"posture-native/1","probe":"bitlocker","ok":false,"error":{"code":"insufficient_privilege","message":"…"}}
 * Windows PowerShell 5.1 writes DateTime values as "\/Date(1567807200000)\/" (ms since 1970, UTC),
 * or, when the value carries extra properties, as {"value":"\/Date(…)\/","DateTime":"…"}.
 */
import type { UnknownReason } from '../shared/posture.js';
import { UnexpectedOutputError } from './unexpected-output.js';

export const NATIVE_PROTOCOL = 'posture-native/1';

const HELPER_ERRORS: Record<string, UnknownReason> = {
  insufficient_privilege: 'insufficient_privilege',
  unsupported: 'unsupported_platform',
  timeout: 'timeout',
  failed: 'probe_error',
};

export type NativeResult =
  { ok: true; data: Record<string, unknown> } | { ok: false; reason: UnknownReason; message: string };

export function parseNativeOutput(text: string, probe: string): NativeResult {
  let doc: unknown;
  try {
    // PowerShell may prefix a UTF-8 byte order mark.
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw new UnexpectedOutputError(`the ${probe} helper did not print JSON`);
  }
  const d = doc as Record<string, unknown>;
  if (d?.protocol !== NATIVE_PROTOCOL)
    throw new UnexpectedOutputError(
      `the ${probe} helper speaks "${String(d?.protocol)}", expected ${NATIVE_PROTOCOL}`,
    );
  if (d.probe !== probe)
    throw new UnexpectedOutputError(`the helper answered for "${String(d.probe)}", expected "${probe}"`);
  if (d.ok === true && d.data && typeof d.data === 'object' && !Array.isArray(d.data))
    return { ok: true, data: d.data as Record<string, unknown> };
  if (d.ok === false) {
    const error = (d.error ?? {}) as { code?: unknown; message?: unknown };
    return {
      ok: false,
      reason: HELPER_ERRORS[String(error.code)] ?? 'probe_error',
      message: String(error.message ?? 'the helper reported an error'),
    };
  }
  throw new UnexpectedOutputError(`the ${probe} helper printed neither data nor an error`);
}

/** ConvertTo-Json turns a single result into an object and several into an array; accept both. */
export function asArray(value: unknown): Record<string, unknown>[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object');
}

/** "\/Date(1567807200000)\/" (after JSON decoding "/Date(1567807200000)/"), {value: …}, or ISO text → ISO string. */
export function parseJsonDate(value: unknown): string | undefined {
  if (value && typeof value === 'object' && 'value' in value)
    return parseJsonDate((value as { value: unknown }).value);
  if (typeof value !== 'string') return undefined;
  const ms = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(value)?.[1];
  if (ms) return new Date(Number(ms)).toISOString();
  const t = Date.parse(value);
  return Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value) ? undefined : new Date(t).toISOString();
}
