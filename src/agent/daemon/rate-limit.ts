/**
 * A token bucket per key (a local user): `burst` requests at once, then one per `refillMs`.
 * The clock is a parameter so tests step it. Keys are forgotten once their bucket is full again,
 * so the map cannot grow without bound.
 */
export interface TokenBuckets {
  /** Takes a token for `key`: 0 when allowed, else the milliseconds until one is free. */
  take(key: string): number;
}

export function createTokenBuckets(options: {
  burst: number;
  refillMs: number;
  now: () => number;
  maxKeys?: number;
}): TokenBuckets {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = options.maxKeys ?? 1024;
  function refill(bucket: { tokens: number; at: number }, now: number): void {
    const gained = Math.floor((now - bucket.at) / options.refillMs);
    if (gained <= 0) return;
    bucket.tokens = Math.min(options.burst, bucket.tokens + gained);
    bucket.at = bucket.tokens === options.burst ? now : bucket.at + gained * options.refillMs;
  }
  function sweep(now: number): void {
    for (const [key, bucket] of buckets) {
      refill(bucket, now);
      if (bucket.tokens === options.burst) buckets.delete(key);
    }
  }
  return {
    take(key) {
      const now = options.now();
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= maxKeys) sweep(now);
        if (buckets.size >= maxKeys) return options.refillMs; // fail closed: too many users at once
        bucket = { tokens: options.burst, at: now };
        buckets.set(key, bucket);
      }
      refill(bucket, now);
      if (bucket.tokens > 0) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, bucket.at + options.refillMs - now);
    },
  };
}
