/**
 * The per-device push rate shared by several verifier replicas through a real Redis (the replay
 * store's connection, one per replica): pushes to either replica spend one device's share, the
 * refusal says when to come back, another device is untouched, the counter expires on its own, and a
 * Redis that does not answer refuses (fail closed).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { openRedisReplayStore, type RedisReplayStore } from '../../src/verifier-service/redis-replay.js';
import type { RedisServer } from '../fakes/redis.js';
import { redisAvailable, startRedis } from '../fakes/redis.js';
import { enrolledDevice } from '../helpers/enrolled-device.js';
import { attestAt, codeOf, push, PUSH_POLICY } from '../helpers/push.js';
import { describeWith } from '../helpers/real-part.js';
import { serviceConfig, testService } from '../helpers/service.js';

describeWith('redis-server', redisAvailable())('push rate shared through Redis', () => {
  let redis: RedisServer;
  const stores: RedisReplayStore[] = [];
  const connect = () => {
    const store = openRedisReplayStore(redis.url);
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);

  afterAll(async () => {
    for (const store of stores) await store.close();
    await redis?.stop();
  });

  it('two replicas count one device together; another device has its own share', async () => {
    const limits = { perMinute: 1, burst: 3 };
    const one = connect().pushRateLimiter(limits);
    const two = connect().pushRateLimiter(limits);
    const device = `dev-${randomUUID()}`;
    const now = Date.now();
    expect(await one.take(device, now)).toEqual({ allowed: true });
    expect(await two.take(device, now)).toEqual({ allowed: true });
    expect(await one.take(device, now)).toEqual({ allowed: true });
    for (const replica of [two, one]) {
      const refused = await replica.take(device, now);
      expect(refused.allowed).toBe(false);
      const wait = 'retryAfterMs' in refused ? refused.retryAfterMs : -1;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(60_000);
    }
    expect(await two.take(`dev-${randomUUID()}`, now)).toEqual({ allowed: true });

    // The counter expires by itself once the device's burst would be whole again (3 intervals).
    const raw = new Redis(redis.url);
    try {
      const ttl = await raw.pttl(`posture:push-rate:${device}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3 * 60_000);
    } finally {
      raw.disconnect();
    }
  });

  it('through the push route: a device pushing to both replicas is refused 429 push_rate_limited', async () => {
    const config = serviceConfig({ push: { rateLimit: { perMinute: 1, burst: 2 } } });
    const first = connect();
    const r1 = await testService({
      config,
      replay: first,
      pushRate: first.pushRateLimiter(config.push.rateLimit),
    });
    const second = connect();
    const r2 = await testService({
      config,
      store: r1.store, // one device store for both, as PostgreSQL would be
      replay: second,
      pushRate: second.pushRateLimiter(config.push.rateLimit),
    });
    r1.setPolicy(PUSH_POLICY);
    r2.setPolicy(PUSH_POLICY);
    const device = await enrolledDevice(r1);
    expect((await push(r1.call, await attestAt(device, 30))).statusCode).toBe(200);
    expect((await push(r2.call, await attestAt(device, 20))).statusCode).toBe(200);
    const refused = await push(r1.call, await attestAt(device, 10));
    expect([refused.statusCode, codeOf(refused)]).toEqual([429, 'push_rate_limited']);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    const other = await enrolledDevice(r2);
    expect((await push(r2.call, await attestAt(other, 5))).statusCode).toBe(200);
  });

  it('Redis down: the counter refuses (fail closed) instead of letting pushes through', async () => {
    const limiter = connect().pushRateLimiter({ perMinute: 60, burst: 30 });
    expect(await limiter.take(`dev-${randomUUID()}`, Date.now())).toEqual({ allowed: true });
    await redis.stop();
    try {
      expect(await limiter.take(`dev-${randomUUID()}`, Date.now())).toEqual({
        allowed: false,
        unavailable: true,
      });
    } finally {
      await redis.start();
    }
  }, 30_000);
});
