/**
 * How often one device may push (`POST /v1/devices/attestation`), counted per device id, never per
 * address: the generic cell rate algorithm (a token bucket kept as one time per device, the
 * "theoretical arrival time"). A device may push `burst` times at once, then once every
 * 60 / `perMinute` seconds; beyond that it is told when to come back (Retry-After). Counted only
 * after the push verified (signatures, proof, replay), so nobody can spend another device's share by
 * naming it. In memory here (one verifier, SQLite); shared through Redis for several replicas
 * (redis-push-rate.ts).
 */
export interface PushRateLimits {
  /** Sustained pushes per minute per device. */
  perMinute: number;
  /** Pushes a device may make at once (after a quiet period). */
  burst: number;
}

export type PushRateResult =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number }
  /** The shared counter could not be reached: the push is refused (fail closed). */
  | { allowed: false; unavailable: true };

export interface PushRateLimiter {
  take(deviceId: string, nowMs: number): Promise<PushRateResult>;
}

/** The spacing between pushes and the slack a burst may use, in milliseconds. */
export function cellRate(limits: PushRateLimits): { intervalMs: number; toleranceMs: number } {
  const intervalMs = 60_000 / limits.perMinute;
  return { intervalMs, toleranceMs: intervalMs * (limits.burst - 1) };
}

/**
 * One step of the algorithm: the device's stored arrival time (undefined: none), now, and the rate;
 * the answer and the arrival time to store when allowed.
 */
export function gcraStep(
  storedTat: number | undefined,
  nowMs: number,
  rate: { intervalMs: number; toleranceMs: number },
): { allowed: true; tat: number } | { allowed: false; retryAfterMs: number } {
  const tat = Math.max(storedTat ?? nowMs, nowMs);
  const allowAt = tat - rate.toleranceMs;
  if (nowMs < allowAt) return { allowed: false, retryAfterMs: Math.ceil(allowAt - nowMs) };
  return { allowed: true, tat: tat + rate.intervalMs };
}

/** How often the devices whose bucket is whole again are forgotten (a pass over all of them). */
const SWEEP_EVERY_MS = 60_000;

/**
 * The limiter of a single verifier process. One number per device that pushed lately; a device whose
 * arrival time has passed has its whole burst again, the same as one never seen, so it is dropped at
 * the next sweep (at most once a minute, so a large fleet costs one pass a minute, not one a push).
 */
export function memoryPushRateLimiter(limits: PushRateLimits): PushRateLimiter {
  const rate = cellRate(limits);
  const arrivals = new Map<string, number>();
  let lastSweep = -Infinity;
  return {
    async take(deviceId, nowMs) {
      if (nowMs - lastSweep >= SWEEP_EVERY_MS) {
        lastSweep = nowMs;
        for (const [id, tat] of arrivals) if (tat <= nowMs) arrivals.delete(id);
      }
      const step = gcraStep(arrivals.get(deviceId), nowMs, rate);
      if (!step.allowed) return step;
      arrivals.set(deviceId, step.tat);
      return { allowed: true };
    },
  };
}
