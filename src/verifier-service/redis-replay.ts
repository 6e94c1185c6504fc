/**
 * Replay protection shared by several verifier replicas: `SET key 1 NX PX ttl` in Redis. A Redis
 * that does not answer makes the store "unavailable", which denies (fail closed).
 */
import { Redis } from 'ioredis';
import type { ReplayResult, ReplayStore } from '../verifier/replay.js';

export function openRedisReplayStore(
  url: string,
): ReplayStore & { ping(): Promise<void>; close(): Promise<void> } {
  const redis = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
  });
  redis.on('error', () => undefined); // surfaced per command as "unavailable"
  /** Commands are not queued while disconnected (they fail at once); a connection being made is awaited briefly. */
  const ready = (): Promise<void> =>
    redis.status === 'ready'
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
  return {
    async remember(id, expiresAtMs, nowMs): Promise<ReplayResult> {
      const ttl = Math.max(1, expiresAtMs - nowMs);
      try {
        await ready();
        const result = await redis.set(`posture:replay:${id}`, '1', 'PX', ttl, 'NX');
        return result === 'OK' ? 'fresh' : 'replayed';
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
  };
}
