/**
 * The schedule: validated configuration, the default's cadence (from node-cron's own matcher on
 * fixed dates), and a real short schedule run on node-cron's timers, bounded in time.
 */
import {
  DEFAULT_SCHEDULE,
  MIN_PACKAGE_INTERVAL_MS,
  scheduleSource,
  shortestGapMs,
  validateSchedule,
} from '../../../src/agent/daemon/schedule.js';
import type { Trigger } from '../../../src/agent/daemon/events/trigger.js';

describe('validateSchedule', () => {
  it('accepts the default: cheap checks every minute, the package manager every 6 hours', () => {
    const config = validateSchedule(DEFAULT_SCHEDULE);
    const [cheap, packages] = config.entries;
    expect(shortestGapMs(cheap?.cron ?? '')).toBe(60_000);
    expect(cheap?.checks).toEqual(['firewall', 'disk_encryption', 'os_version']);
    expect(shortestGapMs(packages?.cron ?? '')).toBe(6 * 3_600_000);
    expect(packages?.checks).toEqual(['patch_level']);
  });

  it.each([
    ['not a cron expression', { entries: [{ name: 'x', cron: 'every minute', checks: ['firewall'] }] }],
    ['a 61st minute', { entries: [{ name: 'x', cron: '61 * * * *', checks: ['firewall'] }] }],
    ['an unknown check', { entries: [{ name: 'x', cron: '* * * * *', checks: ['antivirus'] }] }],
    ['an unknown field', { entries: [], extra: true }],
    [
      'package queries every 5 minutes',
      { entries: [{ name: 'p', cron: '*/5 * * * *', checks: ['patch_level'] }] },
    ],
    [
      'package queries every second',
      { entries: [{ name: 'p', cron: '* * * * * *', checks: ['patch_level'] }] },
    ],
  ])('refuses %s with ERR_SCHEDULE_INVALID', (_what, config) => {
    expect(() => validateSchedule(config)).toThrow(expect.objectContaining({ code: 'ERR_SCHEDULE_INVALID' }));
  });

  it('allows package queries at the minimum interval', () => {
    expect(MIN_PACKAGE_INTERVAL_MS).toBe(15 * 60_000);
    expect(() =>
      validateSchedule({ entries: [{ name: 'p', cron: '*/15 * * * *', checks: ['patch_level'] }] }),
    ).not.toThrow();
  });
});

describe('scheduleSource on real timers', () => {
  it('a once-a-second entry emits schedule triggers for its checks, and none after stop', async () => {
    const triggers: Trigger[] = [];
    const source = scheduleSource({
      config: { entries: [{ name: 'fast', cron: '* * * * * *', checks: ['firewall'], jitterMs: 0 }] },
      onTrigger: (t) => triggers.push(t),
    });
    await source.start();
    expect(source.nextRuns()[0]?.next).toBeInstanceOf(Date);
    await new Promise((r) => setTimeout(r, 3_500));
    await source.stop();
    const count = triggers.length;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThanOrEqual(5);
    expect(triggers.every((t) => t.source === 'schedule' && t.checks.join() === 'firewall')).toBe(true);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(triggers).toHaveLength(count);
    expect(source.nextRuns()).toEqual([]);
  });
});
