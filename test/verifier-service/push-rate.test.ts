/**
 * The per-device push rate: the algorithm with a chosen clock, and the push route on SQLite over
 * real HTTP with real keys (the in-memory counter): past the burst a device gets 429
 * `push_rate_limited` with Retry-After, its refused push is not recorded, and another device from
 * the same address goes on.
 */
import { cellRate, gcraStep, memoryPushRateLimiter } from '../../src/verifier-service/push-rate.js';
import { enrolledDevice, failingFirewall } from '../helpers/enrolled-device.js';
import { attestAt, codeOf, forwardAuth, push, PUSH_POLICY } from '../helpers/push.js';
import { serviceConfig, testService } from '../helpers/service.js';

describe('push rate (generic cell rate algorithm)', () => {
  it('spaces pushes 60 / perMinute seconds apart, with burst - 1 of slack', () => {
    expect(cellRate({ perMinute: 60, burst: 30 })).toEqual({ intervalMs: 1000, toleranceMs: 29_000 });
    expect(cellRate({ perMinute: 1, burst: 1 })).toEqual({ intervalMs: 60_000, toleranceMs: 0 });
  });

  it('a device may push `burst` times at once, then waits one interval', async () => {
    const limiter = memoryPushRateLimiter({ perMinute: 6, burst: 3 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i += 1) expect(await limiter.take('dev-a', t0)).toEqual({ allowed: true });
    expect(await limiter.take('dev-a', t0)).toEqual({ allowed: false, retryAfterMs: 10_000 });
    expect(await limiter.take('dev-a', t0 + 4_000)).toEqual({ allowed: false, retryAfterMs: 6_000 });
    expect(await limiter.take('dev-a', t0 + 10_000)).toEqual({ allowed: true });
    expect(await limiter.take('dev-a', t0 + 10_000)).toMatchObject({ allowed: false });
    // Counted per device: another one has its own burst.
    expect(await limiter.take('dev-b', t0)).toEqual({ allowed: true });
  });

  it('a quiet device has its whole burst again; refused attempts spend nothing', async () => {
    const limiter = memoryPushRateLimiter({ perMinute: 60, burst: 2 });
    const t0 = 5_000_000;
    await limiter.take('d', t0);
    await limiter.take('d', t0);
    for (let i = 0; i < 10; i += 1) expect((await limiter.take('d', t0 + 500)).allowed).toBe(false);
    expect(await limiter.take('d', t0 + 1_000)).toEqual({ allowed: true });
    expect((await limiter.take('d', t0 + 1_000)).allowed).toBe(false);
    expect(await limiter.take('d', t0 + 60_000)).toEqual({ allowed: true });
    expect(await limiter.take('d', t0 + 60_000)).toEqual({ allowed: true });
  });

  it('a clock that goes back does not hand out more pushes', () => {
    const rate = cellRate({ perMinute: 60, burst: 1 });
    const first = gcraStep(undefined, 10_000, rate);
    expect(first).toEqual({ allowed: true, tat: 11_000 });
    expect(gcraStep(11_000, 9_000, rate)).toEqual({ allowed: false, retryAfterMs: 2_000 });
  });
});

describe('POST /v1/devices/attestation past the device rate (SQLite, in-memory counter)', () => {
  it('answers 429 push_rate_limited with Retry-After; the refused push is not recorded; other devices go on', async () => {
    const svc = await testService({
      config: serviceConfig({ push: { rateLimit: { perMinute: 1, burst: 2 } } }),
    });
    svc.setPolicy(PUSH_POLICY);
    const device = await enrolledDevice(svc);
    const other = await enrolledDevice(svc);
    const a1 = await attestAt(device, 30);
    const a2 = await attestAt(device, 20);
    expect((await push(svc.call, a1)).statusCode).toBe(200);
    expect((await push(svc.call, a2)).statusCode).toBe(200);

    const a3 = await attestAt(device, 10, failingFirewall());
    const refused = await push(svc.call, a3);
    expect([refused.statusCode, codeOf(refused)]).toEqual([429, 'push_rate_limited']);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.json()).toMatchObject({ retryAfterSeconds: retryAfter });
    expect(svc.decisions.at(-1)).toMatchObject({
      status: 429,
      reasons: ['push_rate_limited'],
      allowed: false,
    });
    // Not recorded: a2 is still the newest, so it is still let through, and a3 is not superseding.
    expect((await forwardAuth(svc.call, a2)).statusCode).toBe(200);

    // Per device, not per address: the other device (same loopback address) pushes.
    expect((await push(svc.call, await attestAt(other, 5))).statusCode).toBe(200);
  });

  it('by default a device may push 30 times at once (perMinute 60, burst 30)', async () => {
    // The default counter, on a clock that stands still: however long the 31 pushes take here.
    const counter = memoryPushRateLimiter(serviceConfig().push.rateLimit);
    const frozen = Date.now();
    const svc = await testService({ pushRate: { take: (id) => counter.take(id, frozen) } });
    svc.setPolicy(PUSH_POLICY);
    const device = await enrolledDevice(svc);
    for (let i = 0; i < 30; i += 1)
      expect((await push(svc.call, await attestAt(device, 100 - i))).statusCode).toBe(200);
    const refused = await push(svc.call, await attestAt(device, 50));
    expect([refused.statusCode, codeOf(refused)]).toEqual([429, 'push_rate_limited']);
    expect(refused.headers['retry-after']).toBe('1');
  });

  it('refuses a rate of 0 or a burst beyond 1000 in the configuration', () => {
    expect(() => serviceConfig({ push: { rateLimit: { perMinute: 0 } } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    expect(() => serviceConfig({ push: { rateLimit: { burst: 1001 } } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
