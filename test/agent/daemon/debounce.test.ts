import { createDebouncer, type RecheckBatch } from '../../../src/agent/daemon/events/debounce.js';
import type { Trigger } from '../../../src/agent/daemon/events/trigger.js';
import type { CheckId } from '../../../src/shared/posture.js';
import { manualTimers } from './manual-timers.js';

function trigger(checks: CheckId[], source: Trigger['source'] = 'firewall_ruleset'): Trigger {
  return { source, checks, at: '2026-01-01T00:00:00.000Z', detail: 'test' };
}

function setup(run?: (batch: RecheckBatch) => Promise<void>) {
  const timers = manualTimers();
  const batches: RecheckBatch[] = [];
  const debouncer = createDebouncer({
    run: run ?? (async (b) => void batches.push(b)),
    quietMs: 300,
    maxWaitMs: 2_000,
    timers,
    now: timers.now,
  });
  return { timers, batches, debouncer };
}

describe('createDebouncer', () => {
  it('a burst of triggers for one check becomes one run after the quiet time', async () => {
    const { timers, batches, debouncer } = setup();
    expect(debouncer.trigger(trigger(['firewall'])).coalesced).toBe(false);
    for (let i = 0; i < 19; i++) {
      await timers.advance(100);
      expect(debouncer.trigger(trigger(['firewall'])).coalesced).toBe(true);
    }
    expect(batches).toHaveLength(0);
    // a steady stream cannot postpone it past maxWaitMs (2 s after the first trigger)
    await timers.advance(100);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.checks).toEqual(['firewall']);
    expect(batches[0]?.triggers).toHaveLength(20);
    expect(debouncer.trigger(trigger(['firewall'])).coalesced).toBe(false);
    await timers.advance(300);
    expect(batches).toHaveLength(2);
  });

  it('triggers for different checks are re-probed together', async () => {
    const { timers, batches, debouncer } = setup();
    debouncer.trigger(trigger(['firewall']));
    await timers.advance(100);
    expect(debouncer.trigger(trigger(['patch_level'], 'file_change')).coalesced).toBe(false);
    await timers.advance(299);
    expect(batches).toHaveLength(0);
    await timers.advance(1);
    expect(batches).toEqual([{ checks: ['firewall', 'patch_level'], triggers: expect.any(Array) }]);
    expect(batches[0]?.triggers.map((t) => t.source)).toEqual(['firewall_ruleset', 'file_change']);
  });

  it('runs never overlap; triggers during a run wait for the next one', async () => {
    let release: () => void = () => undefined;
    const started: CheckId[][] = [];
    const { timers, debouncer } = setup(
      (b) =>
        new Promise<void>((resolve) => {
          started.push(b.checks);
          release = resolve;
        }),
    );
    debouncer.trigger(trigger(['firewall']));
    await timers.advance(300);
    expect(started).toEqual([['firewall']]);
    debouncer.trigger(trigger(['firewall']));
    debouncer.trigger(trigger(['os_version'], 'clock_jump'));
    await timers.advance(5_000);
    expect(started).toHaveLength(1); // still running
    release();
    await timers.advance(300);
    expect(started).toEqual([['firewall'], ['firewall', 'os_version']]);
  });

  it('a failed run is reported and the debouncer goes on', async () => {
    const timers = manualTimers();
    const errors: unknown[] = [];
    let calls = 0;
    const debouncer = createDebouncer({
      run: async () => {
        calls++;
        throw new Error('probe crashed');
      },
      onRunError: (e) => errors.push(e),
      timers,
      now: timers.now,
    });
    debouncer.trigger(trigger(['firewall']));
    await timers.advance(1_000);
    debouncer.trigger(trigger(['firewall']));
    await timers.advance(1_000);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
  });

  it('a trigger without checks (going to sleep) queues nothing; stop drops what is pending', async () => {
    const { timers, batches, debouncer } = setup();
    expect(debouncer.trigger(trigger([], 'sleep'))).toEqual({ coalesced: false, checks: [] });
    debouncer.trigger(trigger(['firewall']));
    debouncer.stop();
    await timers.advance(5_000);
    expect(batches).toEqual([]);
    expect(timers.pending()).toBe(0);
  });
});
