/**
 * The native event source end to end against a real child process standing in for the macOS and
 * Windows helpers (test/fakes/native-events-helper.mjs, run by this Node through streamLines): its
 * protocol lines become triggers, garbage becomes `bad_line` problems, an exit is reported and the
 * helper restarted after the backoff (timers stepped by hand), a missing helper is `unavailable`,
 * and stop() kills it. The real helpers cannot run here (no macOS, no Windows).
 */
import { fileURLToPath } from 'node:url';
import { nativeEventSource } from '../../../src/agent/daemon/events/native-events.js';
import type { SourceProblem, Trigger } from '../../../src/agent/daemon/events/trigger.js';
import { ALL_CHECKS } from '../../../src/agent/daemon/events/trigger.js';
import { manualTimers } from './manual-timers.js';

const FAKE = fileURLToPath(new URL('../../fakes/native-events-helper.mjs', import.meta.url));

async function until(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function rig(mode: string, extra: { command?: string; maxBadLines?: number } = {}) {
  const timers = manualTimers();
  const triggers: Trigger[] = [];
  const problems: SourceProblem[] = [];
  const source = nativeEventSource({
    command: extra.command ?? process.execPath,
    args: extra.command ? [] : [FAKE, mode],
    onTrigger: (t) => triggers.push(t),
    onProblem: (p) => problems.push(p),
    timers,
    now: () => new Date(timers.now()),
    minRestartMs: 1_000,
    maxRestartMs: 4_000,
    ...(extra.maxBadLines ? { maxBadLines: extra.maxBadLines } : {}),
  });
  return { timers, triggers, problems, source };
}

describe('nativeEventSource with a stand-in helper', () => {
  it('turns protocol lines into triggers, garbage into bad_line, and restarts after an exit', async () => {
    const { timers, triggers, problems, source } = rig('script');
    await source.start();
    try {
      await until('the first run to exit', () => problems.some((p) => p.code === 'exited'));
      expect(triggers.map((t) => [t.source, t.checks])).toEqual([
        ['network', ['firewall']],
        ['sleep', []],
        ['wake', ALL_CHECKS],
      ]);
      expect(triggers.every((t) => t.at === new Date(0).toISOString())).toBe(true);
      expect(problems.map((p) => [p.source, p.code])).toEqual([
        ['native-events', 'bad_line'],
        ['native-events', 'bad_line'],
        ['native-events', 'exited'],
      ]);
      expect(timers.pending()).toBe(1); // the restart
      await timers.advance(1_000);
      await until('the second run to exit', () => problems.filter((p) => p.code === 'exited').length === 2);
      expect(triggers).toHaveLength(6);
    } finally {
      await source.stop();
    }
    expect(timers.pending()).toBe(0);
  });

  it('stop() kills a running helper and reports nothing', async () => {
    const { timers, problems, source } = rig('hang');
    await source.start();
    const pid = source.pid();
    expect(pid).toEqual(expect.any(Number));
    await until('the helper to run', () => alive(pid!));
    await source.stop();
    await until('the helper to be gone', () => !alive(pid!));
    expect(source.pid()).toBeUndefined();
    expect(problems).toEqual([]);
    expect(timers.pending()).toBe(0);
  });

  it('a missing helper is unavailable, retried with a growing delay; start() does not wait', async () => {
    const { timers, problems, source } = rig('', { command: `/nonexistent-${process.pid}/posture-events` });
    await source.start();
    try {
      await until('the first problem', () => problems.length === 1);
      await timers.advance(1_000);
      await until('the second problem', () => problems.length === 2);
      await timers.advance(1_999); // the delay doubled: not yet
      await new Promise((r) => setTimeout(r, 200));
      expect(problems).toHaveLength(2);
      await timers.advance(1);
      await until('the third problem', () => problems.length === 3);
      expect(problems.map((p) => p.code)).toEqual(['unavailable', 'unavailable', 'unavailable']);
    } finally {
      await source.stop();
    }
  });

  it('a helper printing only garbage is stopped after maxBadLines and restarted', async () => {
    const { timers, problems, source } = rig('garbage', { maxBadLines: 5 });
    await source.start();
    try {
      await until('the restart', () => problems.some((p) => p.code === 'restart'));
      const codes = problems.map((p) => p.code);
      expect(codes.slice(0, 6)).toEqual([
        'bad_line',
        'bad_line',
        'bad_line',
        'bad_line',
        'bad_line',
        'restart',
      ]);
      expect(source.pid()).toBeUndefined();
      await timers.advance(1_000);
      await until('the second run', () => problems.filter((p) => p.code === 'restart').length === 2);
    } finally {
      await source.stop();
    }
  });
});
