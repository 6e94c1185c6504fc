/**
 * The in-memory replay store: once means once for at least the retention, across generation
 * turns; a full generation refuses; no false 'replayed' among many random jtis.
 */
import { randomBytes } from 'node:crypto';
import { MemoryReplayStore } from '../../src/verifier/replay.js';

const T = 120_000;

describe('MemoryReplayStore', () => {
  it('fresh once, then replayed through two generation turns, forgotten after both', async () => {
    const store = new MemoryReplayStore(1000, T);
    const exp = 65_000;
    expect(await store.remember('proof:a', exp, 0, 'd')).toBe('fresh');
    expect(await store.remember('proof:a', exp, 1, 'd')).toBe('replayed');
    expect(await store.remember('proof:b', T - 1 + exp, T - 1, 'd')).toBe('fresh');
    // First turn at T: a and b move to the previous generation and still count.
    expect(await store.remember('proof:a', exp, T, 'd')).toBe('replayed');
    expect(await store.remember('proof:b', exp, T + 1, 'd')).toBe('replayed');
    expect(await store.remember('proof:c', 2 * T + exp, 2 * T - 1, 'd')).toBe('fresh');
    // Second turn: a and b (remembered before T) are gone; c (remembered after) is kept.
    expect(await store.remember('proof:x', 2 * T + exp, 2 * T, 'd')).toBe('fresh');
    expect(await store.remember('proof:a', 2 * T + exp, 2 * T + 1, 'd')).toBe('fresh');
    expect(await store.remember('proof:c', 2 * T + exp, 2 * T + 2, 'd')).toBe('replayed');
  });

  it('keeps every id at least the retention after it was remembered, whatever the clock does', async () => {
    const store = new MemoryReplayStore(10_000, T, 10_000);
    let now = 5_000;
    const seen: Array<[string, number]> = [];
    for (let i = 0; i < 3000; i++) {
      now += Math.floor(Math.random() * 400);
      const id = `proof:${i}`;
      expect(await store.remember(id, now + 60_000, now, 'd')).toBe('fresh');
      seen.push([id, now]);
      const [old, at] = seen[Math.floor(Math.random() * seen.length)] as [string, number];
      if (now - at < T) expect(await store.remember(old, at + 60_000, now, 'd')).toBe('replayed');
    }
  });

  it('a clock that jumps far ahead forgets nothing that has not expired', async () => {
    const store = new MemoryReplayStore(1000, T);
    expect(await store.remember('proof:late', 10 * T + 60_000, 10 * T, 'd')).toBe('fresh');
    expect(await store.remember('proof:late', 10 * T + 60_000, 10 * T + 5, 'd')).toBe('replayed');
  });

  it('ids that must live longer than the retention are kept exactly until they expire', async () => {
    const store = new MemoryReplayStore(1000, T);
    expect(await store.remember('proof:long', 10 * T, 0, 'd')).toBe('fresh');
    expect(await store.remember('proof:long', 10 * T, 5 * T, 'd')).toBe('replayed');
    expect(await store.remember('proof:long', 10 * T + 60_000, 10 * T + 1, 'd')).toBe('fresh');
  });

  it('a full generation refuses new ids rather than forgetting one, and still knows the old ones', async () => {
    const store = new MemoryReplayStore(1000, T, 1000);
    for (let i = 0; i < 1000; i++)
      expect(await store.remember(`proof:${i}`, 60_000, 1, `d${i % 7}`)).toBe('fresh');
    expect(await store.remember('proof:new', 60_000, 2, 'd8')).toBe('unavailable');
    expect(await store.remember('proof:7', 60_000, 2, 'd0')).toBe('replayed');
    expect(store.size).toBe(1000);
  });

  it('one device cannot fill the store: it is refused at its share, every other device goes on', async () => {
    const store = new MemoryReplayStore(1000, T, 100);
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const r = await store.remember(`proof:greedy-${i}`, 60_000, 1, 'greedy');
      if (r === 'quota_exceeded') refused++;
      else expect(r).toBe('fresh');
    }
    expect(refused).toBe(4900);
    // What the greedy device already spent is still known as spent.
    expect(await store.remember('proof:greedy-7', 60_000, 2, 'greedy')).toBe('replayed');
    for (let d = 0; d < 9; d++)
      for (let i = 0; i < 100; i++)
        expect(await store.remember(`proof:d${d}-${i}`, 60_000, 3, `device-${d}`)).toBe('fresh');
    // The next generation gives the greedy device its share again.
    expect(await store.remember('proof:greedy-new', T + 60_000, T + 1, 'greedy')).toBe('fresh');
  });

  it('ids kept beyond the retention count against the same share, and are given back when they expire', async () => {
    const store = new MemoryReplayStore(1000, T, 10);
    for (let i = 0; i < 10; i++) expect(await store.remember(`proof:l${i}`, 10 * T, 0, 'dev')).toBe('fresh');
    expect(await store.remember('proof:l10', 10 * T, 0, 'dev')).toBe('quota_exceeded');
    expect(await store.remember('proof:o', 10 * T, 0, 'other')).toBe('fresh');
    // Generations turn, but the long-lived ids still hold the device's share until they expire.
    expect(await store.remember('proof:l11', 10 * T, 3 * T, 'dev')).toBe('quota_exceeded');
    expect(await store.remember('proof:l12', 20 * T, 10 * T + 1, 'dev')).toBe('fresh');
  });

  it('200,000 random jtis: every one fresh the first time, replayed the second', async () => {
    const store = new MemoryReplayStore(200_000, T, 200_000);
    const ids = Array.from({ length: 200_000 }, () => `proof:${randomBytes(16).toString('base64url')}`);
    let fresh = 0;
    for (const id of ids) if ((await store.remember(id, 60_000, 1, 'd')) === 'fresh') fresh++;
    expect(fresh).toBe(ids.length);
    let replayed = 0;
    for (const id of ids.slice(0, 20_000))
      if ((await store.remember(id, 60_000, 2, 'd')) === 'replayed') replayed++;
    expect(replayed).toBe(20_000);
  });
});
