/**
 * What every event source emits: a trigger naming its source and the checks it may have changed.
 * The debouncer (debounce.ts) coalesces triggers per check before the daemon re-probes.
 */
import type { TriggerSource } from '../../../shared/local-api.js';
import type { CheckId } from '../../../shared/posture.js';
import { CHECK_IDS } from '../../../shared/posture.js';

export interface Trigger {
  source: TriggerSource;
  /** The checks to re-probe; empty: nothing to re-probe (e.g. going to sleep). */
  checks: readonly CheckId[];
  /** When the source saw it (wall clock, ISO 8601). */
  at: string;
  /** Short, for the log: "nft: add rule inet f input …", "/var/lib/dpkg/status replaced". */
  detail: string;
}

export type TriggerListener = (trigger: Trigger) => void;

/** Something worth logging that an event source met: it stays up, polling covers the gap. */
export interface SourceProblem {
  source: string;
  code: 'exited' | 'restart' | 'unavailable' | 'forged_signal' | 'watch_failed' | 'bad_line';
  detail: string;
}
export type ProblemListener = (problem: SourceProblem) => void;

export interface EventSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const ALL_CHECKS: readonly CheckId[] = CHECK_IDS;

/** Timers as a parameter, so tests step time by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
