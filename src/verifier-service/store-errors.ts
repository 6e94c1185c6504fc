/**
 * What a device store may throw, and nothing else: every backend's own errors (a SQLite constraint,
 * a PostgreSQL unique violation or lost connection) are turned into one of these codes, which the
 * service answers with a status and the same code (409 key_in_use, 503 store_unavailable) instead
 * of an uncoded 500.
 */
import { PostureError } from '../shared/errors.js';
import type { DeviceStore } from './store.js';

export type StoreErrorCode = 'ERR_STORE_KEY_IN_USE' | 'ERR_STORE_UNAVAILABLE';

export class StoreError extends PostureError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The HTTP answer for each store error: status and the JSON `error` code. */
export const STORE_ERROR_ANSWERS: Record<StoreErrorCode, readonly [number, string, string]> = {
  ERR_STORE_KEY_IN_USE: [409, 'key_in_use', 'This key is already enrolled for a device; use a new key.'],
  ERR_STORE_UNAVAILABLE: [
    503,
    'store_unavailable',
    'The verifier cannot use its device store right now; try again shortly.',
  ],
};

/**
 * Wraps every method of a store so that what it throws is a StoreError, as `classify` decides
 * (a StoreError passes through unchanged).
 */
export function withStoreErrors(store: DeviceStore, classify: (error: unknown) => StoreError): DeviceStore {
  const guard =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await method(...args);
      } catch (error) {
        throw error instanceof StoreError ? error : classify(error);
      }
    };
  return {
    kind: store.kind,
    createToken: guard(store.createToken.bind(store)),
    enroll: guard(store.enroll.bind(store)),
    deviceByKid: guard(store.deviceByKid.bind(store)),
    device: guard(store.device.bind(store)),
    listDevices: guard(store.listDevices.bind(store)),
    setStatus: guard(store.setStatus.bind(store)),
    rotateKey: guard(store.rotateKey.bind(store)),
    recordSeen: guard(store.recordSeen.bind(store)),
    recordAttestation: guard(store.recordAttestation.bind(store)),
    setSecurityPendingSince: guard(store.setSecurityPendingSince.bind(store)),
    ping: guard(store.ping.bind(store)),
    close: guard(store.close.bind(store)),
  };
}
