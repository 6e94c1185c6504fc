import { PostureError } from '../shared/errors.js';

/**
 * Device-key failures. Each code is stable and documented in docs/keys.md; each message says what to do.
 */
export type KeyErrorCode =
  | 'ERR_KEYCHAIN_UNAVAILABLE'
  | 'ERR_KEYCHAIN_LOCKED'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_CORRUPT'
  | 'ERR_TPM_UNAVAILABLE'
  | 'ERR_NO_SERVICE_KEY_STORE'
  | 'ERR_TPM_FAILED'
  | 'ERR_NATIVE_HELPER_FAILED'
  | 'ERR_FILE_KEY_NOT_ALLOWED'
  | 'ERR_FILE_KEY_INSECURE'
  /** A new key file could not be written (disk full, read-only, I/O error): nothing was replaced. */
  | 'ERR_KEY_WRITE_FAILED'
  | 'ERR_KEY_STATE_CORRUPT'
  | 'ERR_ROTATION_FAILED';

export class KeyError extends PostureError {
  declare readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
