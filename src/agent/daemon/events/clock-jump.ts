/**
 * Wall-clock jumps, and wake after suspend, by comparing two clocks on a timer: the monotonic
 * clock (performance.now(); CLOCK_MONOTONIC on Linux, which stops during suspend) and the wall
 * clock (Date.now()). Between two ticks both should advance alike; when the wall clock moved
 * more than `thresholdMs` further (or back), the time was set or the machine slept. Either way
 * every check is re-probed: certificates, patch age and attestation expiry all read the wall clock.
 * The timer is a parameter: tests tick by hand with clocks they set.
 */
import type { EventSource, TriggerListener } from './trigger.js';
import { ALL_CHECKS } from './trigger.js';

export interface Clocks {
  wallMs(): number;
  monotonicMs(): number;
}

export const realClocks: Clocks = { wallMs: () => Date.now(), monotonicMs: () => performance.now() };

export interface Ticker {
  /** Calls `fn` every `ms`; returns a function that stops it. */
  every(ms: number, fn: () => void): () => void;
}

export const realTicker: Ticker = {
  every(ms, fn) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return () => clearInterval(handle);
  },
};

export interface ClockJumpOptions {
  onTrigger: TriggerListener;
  clocks?: Clocks;
  ticker?: Ticker;
  intervalMs?: number;
  /** Drift between the clocks, per tick, that counts as a jump. */
  thresholdMs?: number;
}

export function clockJumpSource(options: ClockJumpOptions): EventSource {
  const clocks = options.clocks ?? realClocks;
  const ticker = options.ticker ?? realTicker;
  const interval = options.intervalMs ?? 5_000;
  const threshold = options.thresholdMs ?? 10_000;
  let stopTicking: (() => void) | undefined;
  let last = { wall: 0, mono: 0 };

  function tick(): void {
    const current = { wall: clocks.wallMs(), mono: clocks.monotonicMs() };
    const drift = current.wall - last.wall - (current.mono - last.mono);
    last = current;
    if (Math.abs(drift) < threshold) return;
    options.onTrigger({
      source: 'clock_jump',
      checks: ALL_CHECKS,
      at: new Date(current.wall).toISOString(),
      detail: `wall clock moved ${Math.round(drift / 1000)} s ${drift > 0 ? 'ahead of' : 'behind'} the monotonic clock (time set, or woke from sleep)`,
    });
  }

  return {
    name: 'clock-jump',
    async start() {
      if (stopTicking) return;
      last = { wall: clocks.wallMs(), mono: clocks.monotonicMs() };
      stopTicking = ticker.every(interval, tick);
    },
    async stop() {
      stopTicking?.();
      stopTicking = undefined;
    },
  };
}
