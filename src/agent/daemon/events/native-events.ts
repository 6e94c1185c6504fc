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
import { streamLines, type LineStream, type LineStreamExit } from '../../../host/exec.js';
import { nativeEventTrigger, parseNativeEventLine } from './native-events-protocol.js';
import type { EventSource, ProblemListener, Timers, TriggerListener } from './trigger.js';
import { realTimers } from './trigger.js';

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
  const timers = options.timers ?? realTimers;
  const now = options.now ?? (() => new Date());
  const minRestart = options.minRestartMs ?? 1_000;
  const maxRestart = options.maxRestartMs ?? 60_000;
  const stableMs = options.stableMs ?? 60_000;
  const maxBadLines = options.maxBadLines ?? 10;
  let stream: LineStream | undefined;
  let restartTimer: unknown;
  let delay = minRestart;
  let running = false;
  let startedAt = 0;
  let badLines = 0;

  function problem(code: 'unavailable' | 'exited' | 'bad_line' | 'restart', detail: string): void {
    options.onProblem?.({ source: NATIVE_EVENTS_SOURCE, code, detail });
  }

  function launch(): void {
    startedAt = now().getTime();
    badLines = 0;
    const current = streamLines({
      command: options.command,
      args: options.args,
      maxLineBytes: 4096,
      onLine: (line) => onLine(current, line),
      onExit: (outcome) => onExit(current, outcome),
    });
    stream = current;
  }

  function onLine(from: LineStream, text: string): void {
    if (stream !== from || !text.trim()) return;
    const parsed = parseNativeEventLine(text.trim());
    if (!parsed.ok) {
      badLines += 1;
      problem('bad_line', `${parsed.reason}: ${JSON.stringify(text.slice(0, 120))}`);
      if (badLines >= maxBadLines) void replace(from, `${badLines} lines outside the protocol`);
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

  /** Stops a misbehaving helper and starts another after the backoff. */
  async function replace(which: LineStream, why: string): Promise<void> {
    if (stream !== which) return;
    stream = undefined;
    await which.stop();
    if (!running) return;
    problem('restart', `${why}; restarting in ${delay} ms`);
    scheduleRestart();
  }

  function onExit(which: LineStream, outcome: LineStreamExit): void {
    if (stream !== which) return;
    stream = undefined;
    if (!running) return;
    if (now().getTime() - startedAt >= stableMs) delay = minRestart;
    if (!outcome.ok && outcome.error === 'command_missing') {
      problem('unavailable', `${outcome.detail}; retrying in ${delay} ms`);
    } else {
      const detail = outcome.ok
        ? `helper exited (code ${outcome.exitCode}, signal ${outcome.signal}): ${outcome.stderr.trim().slice(0, 200)}`
        : `${outcome.error}: ${outcome.detail}`;
      problem('exited', `${detail}; restarting in ${delay} ms`);
    }
    scheduleRestart();
  }

  function scheduleRestart(): void {
    restartTimer = timers.setTimeout(() => {
      restartTimer = undefined;
      if (running && !stream) launch();
    }, delay);
    delay = Math.min(maxRestart, delay * 2);
  }

  return {
    name: NATIVE_EVENTS_SOURCE,
    pid: () => stream?.pid,
    async start() {
      if (running) return;
      running = true;
      launch();
    },
    async stop() {
      running = false;
      if (restartTimer !== undefined) timers.clearTimeout(restartTimer);
      restartTimer = undefined;
      const current = stream;
      stream = undefined;
      await current?.stop();
    },
  };
}
