/**
 * The per-device push rate (push-rate.ts) shared by several verifier replicas, on the replay
 * store's Redis connection: one key per device holding its arrival time, read and written in one Lua
 * script (replicas cannot race between the two), expiring when the device's bucket is full again.
 * The clock is Redis's own (`TIME`), so replicas whose clocks differ still count on one. A Redis that
 * does not answer refuses the push (fail closed).
 */
import type { Redis } from 'ioredis';
import { cellRate, type PushRateLimiter, type PushRateLimits } from './push-rate.js';

/**
 * KEYS[1] the device's key; ARGV interval and tolerance (ms). Answers 0 when allowed, else the
 * milliseconds to wait. The same step as gcraStep in push-rate.ts.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowAt = tat - tolerance
if now < allowAt then return math.ceil(allowAt - now) end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now))
return 0
`;

type RedisWithTake = Redis & {
  posturePushTake(key: string, interval: string, tolerance: string): Promise<number>;
};

export function redisPushRateLimiter(
  redis: Redis,
  ready: () => Promise<void>,
  limits: PushRateLimits,
): PushRateLimiter {
  const rate = cellRate(limits);
  const client = redis as RedisWithTake;
  client.defineCommand('posturePushTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  return {
    async take(deviceId) {
      try {
        await ready();
        const wait = await client.posturePushTake(
          `posture:push-rate:${deviceId}`,
          String(rate.intervalMs),
          String(rate.toleranceMs),
        );
        return wait <= 0 ? { allowed: true } : { allowed: false, retryAfterMs: wait };
      } catch {
        return { allowed: false, unavailable: true };
      }
    },
  };
}
