/**
 * Replay protection shared by several verifier replicas: `SET key 1 NX PX ttl` in Redis. A Redis
 * that does not answer makes the store "unavailable", which denies (fail closed).
 */
import { Redis } from 'ioredis';
import type { ReplayResult, ReplayStore } from '../replay.js';

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
  return {
    async remember(id, expiresAtMs, nowMs): Promise<ReplayResult> {
      const ttl = Math.max(1, expiresAtMs - nowMs);
      try {
        const result = await redis.set(`posture:replay:${id}`, '1', 'PX', ttl, 'NX');
        return result === 'OK' ? 'fresh' : 'replayed';
      } catch {
        return 'unavailable';
      }
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
