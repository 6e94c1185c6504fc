/**
 * Sleep/wake and network changes on macOS and Windows, from a native event helper: a long-running
 * process started through the exec module's streamLines (absolute path, argument array, no shell;
 * on Linux only, wrapped so it dies with the daemon) that prints one protocol line per event
 * (native-events-protocol.ts, native-probes/PROTOCOL.md):
 * - macOS: native-probes/darwin/posture-events, built from posture-events.swift
 *   (SystemConfiguration dynamic store keys State:/Network/Global/IPv4|IPv6; IOKit
 *   IORegisterForSystemPower);
 * - Windows: native-probes/windows/posture-events.ps1 under Windows PowerShell 5.1
 *   (Win32_PowerManagementEvent; System.Net.NetworkInformation.NetworkChange).
 *
 * Events become triggers as the Linux D-Bus source makes them (wake: every check; network: the
 * firewall; sleep: nothing). A missing helper, a helper that exits and a line that is not the
 * protocol are problems (codes `unavailable`, `exited`, `bad_line`); the helper is restarted with a
 * growing delay (1 s … 60 s; the delay starts again after a run that lasted `stableMs`). start()
 * never waits for the helper: the schedule polls whatever happens here.
 */
import { nativeEventTrigger, parseNativeEventLine } from './native-events-protocol.js';
import type { EventSource, ProblemListener, Timers, TriggerListener } from './trigger.js';
import { realTimers } from './trigger.js';
import { supervisedLines, type SupervisedRun } from './supervised-lines.js';

export interface NativeEventOptions {
  /** Absolute path of the helper (or of powershell.exe) and its arguments. */
  command: string;
  args: readonly string[];
  onTrigger: TriggerListener;
  onProblem?: ProblemListener;
  now?: () => Date;
  timers?: Timers;
  minRestartMs?: number;
  maxRestartMs?: number;
  /** A run at least this long counts as healthy: the next restart waits minRestartMs again. */
  stableMs?: number;
  /** After this many non-protocol lines in one run the helper is stopped and restarted. */
  maxBadLines?: number;
}

export const NATIVE_EVENTS_SOURCE = 'native-events';

export function nativeEventSource(options: NativeEventOptions): EventSource & { pid(): number | undefined } {
  const now = options.now ?? (() => new Date());
  const maxBadLines = options.maxBadLines ?? 10;
  let badRun: SupervisedRun | undefined;
  let badLines = 0;

  function problem(code: 'unavailable' | 'exited' | 'bad_line' | 'restart', detail: string): void {
    options.onProblem?.({ source: NATIVE_EVENTS_SOURCE, code, detail });
  }

  function onLine(text: string, run: SupervisedRun): void {
    if (!text.trim()) return;
    const parsed = parseNativeEventLine(text.trim());
    if (!parsed.ok) {
      if (badRun !== run) [badRun, badLines] = [run, 0];
      badLines += 1;
      problem('bad_line', `${parsed.reason}: ${JSON.stringify(text.slice(0, 120))}`);
      if (badLines >= maxBadLines) void run.replace(`${badLines} lines outside the protocol`);
      return;
    }
    const mapped = nativeEventTrigger(parsed.line);
    if (!mapped) return;
    const detail = parsed.line.detail ? `: ${parsed.line.detail.slice(0, 200)}` : '';
    options.onTrigger({
      source: mapped.source,
      checks: mapped.checks,
      at: now().toISOString(),
      detail: `native ${parsed.line.event}${detail}`,
    });
  }

  const helper = supervisedLines({
    command: options.command,
    args: options.args,
    maxLineBytes: 4096,
    timers: options.timers ?? realTimers,
    now,
    minRestartMs: options.minRestartMs ?? 1_000,
    maxRestartMs: options.maxRestartMs ?? 60_000,
    stableMs: options.stableMs ?? 60_000,
    onLine,
    onEnded(outcome, restartInMs) {
      if (!outcome.ok && outcome.error === 'command_missing') {
        problem('unavailable', `${outcome.detail}; retrying in ${restartInMs} ms`);
        return;
      }
      const detail = outcome.ok
        ? `helper exited (code ${outcome.exitCode}, signal ${outcome.signal}): ${outcome.stderr.trim().slice(0, 200)}`
        : `${outcome.error}: ${outcome.detail}`;
      problem('exited', `${detail}; restarting in ${restartInMs} ms`);
    },
    onReplaced: (why, restartInMs) => problem('restart', `${why}; restarting in ${restartInMs} ms`),
  });

  return {
    name: NATIVE_EVENTS_SOURCE,
    pid: helper.pid,
    start: async () => helper.start(),
    stop: () => helper.stop(),
  };
}
