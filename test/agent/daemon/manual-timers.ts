/** Timers and a clock that move only when the test says so (the daemon takes both as parameters). */
import type { Timers } from '../../../src/agent/daemon/events/trigger.js';

export function manualTimers(): Timers & {
  now(): number;
  advance(ms: number): Promise<void>;
  pending(): number;
} {
  let clock = 0;
  let nextId = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => clock,
    setTimeout(fn, ms) {
      const id = nextId++;
      due.set(id, { at: clock + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    pending: () => due.size,
    async advance(ms) {
      const end = clock + ms;
      for (let i = 0; i < 10; i++) await Promise.resolve();
      for (;;) {
        const next = [...due.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        due.delete(next[0]);
        clock = next[1].at;
        next[1].fn();
        // let promise chains started by the timer settle before the next one fires
        for (let i = 0; i < 10; i++) await Promise.resolve();
      }
      clock = end;
      for (let i = 0; i < 10; i++) await Promise.resolve();
    },
  };
}
