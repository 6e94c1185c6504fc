import { clockJumpSource, realTicker } from '../../../src/agent/daemon/events/clock-jump.js';
import type { Trigger } from '../../../src/agent/daemon/events/trigger.js';
import { ALL_CHECKS } from '../../../src/agent/daemon/events/trigger.js';

function handTicker() {
  let fn: (() => void) | undefined;
  return {
    every: (_ms: number, f: () => void) => {
      fn = f;
      return () => (fn = undefined);
    },
    tick: () => fn?.(),
    active: () => fn !== undefined,
  };
}

describe('clockJumpSource', () => {
  it('clocks that advance together trigger nothing; a jump ahead (wake) or back triggers every check', async () => {
    const clocks = { wall: Date.parse('2026-03-01T10:00:00Z'), mono: 5_000 };
    const ticker = handTicker();
    const triggers: Trigger[] = [];
    const source = clockJumpSource({
      onTrigger: (t) => triggers.push(t),
      clocks: { wallMs: () => clocks.wall, monotonicMs: () => clocks.mono },
      ticker,
      thresholdMs: 10_000,
    });
    await source.start();
    for (let i = 0; i < 5; i++) {
      clocks.wall += 5_000 + 3; // ordinary jitter
      clocks.mono += 5_000;
      ticker.tick();
    }
    expect(triggers).toEqual([]);
    clocks.wall += 3_600_000 + 5_000; // an hour asleep: monotonic stood still
    clocks.mono += 5_000;
    ticker.tick();
    clocks.wall -= 120_000; // time set back two minutes
    clocks.mono += 5_000;
    ticker.tick();
    expect(triggers.map((t) => t.source)).toEqual(['clock_jump', 'clock_jump']);
    expect(triggers[0]?.checks).toEqual(ALL_CHECKS);
    expect(triggers[0]?.detail).toContain('3600 s ahead');
    expect(triggers[1]?.detail).toContain('behind');
    await source.stop();
    expect(ticker.active()).toBe(false);
  });

  it('runs on the real timer and the real clocks without false alarms', async () => {
    const triggers: Trigger[] = [];
    const source = clockJumpSource({
      onTrigger: (t) => triggers.push(t),
      ticker: realTicker,
      intervalMs: 20,
    });
    await source.start();
    await new Promise((r) => setTimeout(r, 200));
    await source.stop();
    expect(triggers).toEqual([]);
  });
});
