/** The verification library: jose and src/shared only, no Node APIs; runs on any JS runtime. */
export { verifyRequest, webCryptoSignatures } from './verify-request.js';
export type {
  Decision,
  DecisionDevice,
  DenyReason,
  DeviceRecord,
  DeviceStatus,
  VerifiedAttestation,
  VerifyOptions,
  VerifyRequestInput,
} from './verify-request.js';
export { AttestationCache, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES } from './cache.js';
export { MemoryReplayStore } from './replay.js';
export type { ReplayResult, ReplayStore } from './replay.js';
export { REASONS } from './reasons.js';
export type { ReasonCode } from './reasons.js';
