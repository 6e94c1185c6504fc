/** What every route handler of the verifier service is given: its configuration and collaborators. */
import type { Policy } from '../shared/policy.js';
import type { ReplayStore } from '../verifier/replay.js';
import type { ServiceConfig } from './config.js';
import type { DecisionEntry } from './decision-log.js';
import type { Metrics } from './metrics.js';
import type { NonceIssuer } from './nonce.js';
import { memoryPushRateLimiter, type PushRateLimiter } from './push-rate.js';
import type { DeviceStore } from './store.js';

export interface ServiceDeps {
  config: ServiceConfig;
  store: DeviceStore;
  replay: ReplayStore & { ping?(): Promise<void> };
  nonces: NonceIssuer;
  /** The active policy; `reloadPolicy` replaces it. */
  policy(): Policy;
  reloadPolicy(): Promise<Policy>;
  metrics: Metrics;
  logDecision(entry: DecisionEntry): void;
  /** Counts each device's pushes; default in this process's memory (`push.rateLimit`). */
  pushRate?: PushRateLimiter;
  now?: () => number;
}

/** The dependencies with the clock filled in. */
export type ServiceContext = Omit<ServiceDeps, 'now' | 'pushRate'> & {
  now: () => number;
  pushRate: PushRateLimiter;
};

export function serviceContext(deps: ServiceDeps): ServiceContext {
  return {
    ...deps,
    now: deps.now ?? Date.now,
    pushRate: deps.pushRate ?? memoryPushRateLimiter(deps.config.push.rateLimit),
  };
}
