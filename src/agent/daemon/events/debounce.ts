/**
 * Coalesces triggers per check before the daemon re-probes. A trigger marks its checks pending;
 * once no new trigger has come for `quietMs` (or `maxWaitMs` after the first, so a steady stream
 * of events cannot postpone the re-check for ever) every pending check is re-probed in one run.
 * Runs never overlap: triggers that arrive during a run wait for the next one. A trigger whose
 * checks are all pending already is "coalesced": it joins the queued run (the local API's
 * re-check answer says so).
 */
import type { CheckId } from '../../../shared/posture.js';
import type { Timers, Trigger } from './trigger.js';
import { realTimers } from './trigger.js';

const MAX_TRIGGERS_KEPT = 50;

export interface RecheckBatch {
  checks: CheckId[];
  /** Every trigger the batch answers, oldest first (for the log). */
  triggers: Trigger[];
}

export interface Debouncer {
  trigger(trigger: Trigger): { coalesced: boolean; checks: CheckId[] };
  /** Pending checks, for status and tests. */
  pending(): CheckId[];
  /** Drops what is pending and cancels the timer; a run in progress finishes. */
  stop(): void;
}

export interface DebounceOptions {
  run: (batch: RecheckBatch) => Promise<void>;
  /** A failed run is reported here; the checks are not re-queued (the schedule still runs). */
  onRunError?: (error: unknown, batch: RecheckBatch) => void;
  quietMs?: number;
  maxWaitMs?: number;
  timers?: Timers;
  now?: () => number;
}

export function createDebouncer(options: DebounceOptions): Debouncer {
  const quietMs = options.quietMs ?? 300;
  const maxWaitMs = options.maxWaitMs ?? 2_000;
  const timers = options.timers ?? realTimers;
  const now = options.now ?? Date.now;
  const checks = new Set<CheckId>();
  let triggers: Trigger[] = [];
  let firstAt: number | undefined;
  let timer: unknown;
  let running = false;
  let stopped = false;

  function schedule(): void {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    if (running || checks.size === 0 || stopped) return;
    const waited = now() - (firstAt ?? now());
    const wait = Math.max(0, Math.min(quietMs, maxWaitMs - waited));
    timer = timers.setTimeout(() => {
      timer = undefined;
      void flush();
    }, wait);
  }

  async function flush(): Promise<void> {
    if (running || checks.size === 0 || stopped) return;
    const batch: RecheckBatch = { checks: [...checks].sort(), triggers };
    checks.clear();
    triggers = [];
    firstAt = undefined;
    running = true;
    try {
      await options.run(batch);
    } catch (error) {
      options.onRunError?.(error, batch);
    } finally {
      running = false;
      if (checks.size > 0) firstAt ??= now();
      schedule();
    }
  }

  return {
    trigger(trigger) {
      const wanted = [...new Set(trigger.checks)];
      if (stopped || wanted.length === 0) return { coalesced: false, checks: wanted };
      const coalesced = wanted.every((c) => checks.has(c));
      for (const c of wanted) checks.add(c);
      if (triggers.length < MAX_TRIGGERS_KEPT) triggers.push(trigger); // a flood keeps its first few
      firstAt ??= now();
      schedule();
      return { coalesced, checks: wanted };
    },
    pending: () => [...checks].sort(),
    stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      checks.clear();
      triggers = [];
    },
  };
}
