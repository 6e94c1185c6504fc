/** Denial pages are short-lived and bounded by count and by size, whatever the denials hold. */
import { randomUUID } from 'node:crypto';
import { DENIAL_PAGE_TTL_MS, DenialPages } from '../../src/verifier-service/denial-pages.js';

const reason = (text = 'The firewall does not filter incoming connections.') => ({
  code: 'posture_failed',
  check: 'firewall',
  message: text,
  remediation: text,
});

describe('DenialPages', () => {
  it('keeps a page for its decision id until it expires', () => {
    let now = 1_000_000;
    const pages = new DenialPages(() => now);
    const id = randomUUID();
    pages.remember(id, 403, [reason()]);
    expect(pages.find(id)).toMatchObject({ status: 403, reasons: [{ check: 'firewall' }] });
    now += DENIAL_PAGE_TTL_MS + 1;
    expect(pages.find(id)).toBeUndefined();
  });

  it('ignores ids that are not random UUIDs', () => {
    const pages = new DenialPages(() => 0);
    pages.remember('1', 403, [reason()]);
    expect(pages.find('1')).toBeUndefined();
  });

  it('drops the oldest pages past 10,000, and past its size bound however long each text is', () => {
    const pages = new DenialPages(() => 0);
    const first = randomUUID();
    pages.remember(first, 403, [reason()]);
    for (let i = 0; i < 10_000; i++) pages.remember(randomUUID(), 403, [reason()]);
    expect(pages.find(first)).toBeUndefined();

    const big = new DenialPages(() => 0);
    const ids = Array.from({ length: 400 }, () => randomUUID());
    // 16 reasons of 2 × 1,000 characters (each clipped to 1,000): about 32,000 characters a page.
    for (const id of ids)
      big.remember(
        id,
        403,
        Array.from({ length: 40 }, () => reason('x'.repeat(5000))),
      );
    expect(big.find(ids[0]!)).toBeUndefined();
    expect(big.find(ids.at(-1)!)?.reasons).toHaveLength(16);
    expect(big.find(ids.at(-1)!)?.reasons[0]?.message.length).toBeLessThanOrEqual(1001);
  });
});
