/**
 * Replay protection shared by several verifier replicas, in Redis. Each proof id is set once with a
 * time to live (`SET key 1 PX ttl`), and each device has a share: at most `perDeviceCapacity` new ids
 * in a 120-second window (a counter per device, created with the window's expiry). One device past
 * its share is answered 'quota_exceeded' and fills nothing more; every other device goes on. Both
 * steps run in one Lua script, so replicas cannot race between the check and the set. A Redis that
 * does not answer makes the store "unavailable", which denies (fail closed). The same connection
 * counts each device's pushes (`pushRateLimiter`).
 */
import { Redis } from 'ioredis';
import type { ReplayResult, ReplayStore } from '../verifier/replay.js';
import type { PushRateLimiter, PushRateLimits } from './push-rate.js';
import { redisPushRateLimiter } from './redis-push-rate.js';

/** The window a device's share is counted in: the memory store's retention. */
const SHARE_WINDOW_MS = 120_000;

/**
 * KEYS[1] the proof id's key, KEYS[2] the device's counter; ARGV: ttl (ms), share, window (ms).
 * Answers 0 replayed, -1 over the share, 1 fresh.
 */
const REMEMBER_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if n > tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
`;

type RedisWithRemember = Redis & {
  postureRemember(
    idKey: string,
    shareKey: string,
    ttl: number,
    share: number,
    window: number,
  ): Promise<number>;
};

export interface RedisReplayStore extends ReplayStore {
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The per-device push rate, counted on this store's connection (redis-push-rate.ts). */
  pushRateLimiter(limits: PushRateLimits): PushRateLimiter;
}

export function openRedisReplayStore(
  url: string,
  options: { perDeviceCapacity?: number } = {},
): RedisReplayStore {
  const share = options.perDeviceCapacity ?? 100_000;
  const redis = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
  }) as RedisWithRemember;
  redis.defineCommand('postureRemember', { numberOfKeys: 2, lua: REMEMBER_SCRIPT });
  redis.on('error', () => undefined); // surfaced per command as "unavailable"
  const ready = () => whenReady(redis);
  return {
    async remember(id, expiresAtMs, nowMs, device): Promise<ReplayResult> {
      const ttl = Math.max(1, expiresAtMs - nowMs);
      try {
        await ready();
        const result = await redis.postureRemember(
          `posture:replay:${id}`,
          `posture:replay-share:${device}`,
          ttl,
          share,
          SHARE_WINDOW_MS,
        );
        return result === 1 ? 'fresh' : result === 0 ? 'replayed' : 'quota_exceeded';
      } catch {
        return 'unavailable';
      }
    },
    async ping() {
      await ready();
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
    pushRateLimiter: (limits) => redisPushRateLimiter(redis, ready, limits),
  };
}

/** Commands are not queued while disconnected (they fail at once); a connection being made is awaited briefly. */
function whenReady(redis: Redis): Promise<void> {
  return redis.status === 'ready'
    ? Promise.resolve()
    : new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          redis.off('ready', onReady);
          reject(new Error('Redis is not connected'));
        }, 1000);
        const onReady = () => {
          clearTimeout(timer);
          resolve();
        };
        redis.once('ready', onReady);
      });
}
