import { PostureError } from '../shared/errors.js';

/**
 * Why enrolling (or telling the verifier about a rotated key) failed. Each code has its own exit
 * code in the CLI (src/cli/exit-codes.ts), so an MDM script knows what to do next:
 * - ERR_ENROLLMENT_REFUSED: the token is used, expired or unknown; ask IT for a new one.
 * - ERR_SERVER_UNREACHABLE: the network or the verifier is down; retry later.
 * - ERR_DEVICE_REVOKED: this device key was revoked; a revoked key stays revoked, so make a new key
 *   (`posture key rotate --force-new`) and enroll it (or `posture enroll --new-key-if-revoked`).
 * - ERR_DEVICE_LOCKED: IT locked this device; only IT can unlock it.
 * - ERR_SERVER_URL_MISMATCH: --server is not the verifier's public URL; use the one it names.
 * - ERR_ENROLLMENT_CORRUPT: the local enrollment record is damaged; enroll again.
 */
export type EnrollErrorCode =
  | 'ERR_ENROLLMENT_REFUSED'
  | 'ERR_SERVER_UNREACHABLE'
  | 'ERR_DEVICE_REVOKED'
  | 'ERR_DEVICE_LOCKED'
  | 'ERR_SERVER_URL_MISMATCH'
  | 'ERR_ENROLLMENT_CORRUPT';

export class EnrollError extends PostureError {
  declare readonly code: EnrollErrorCode;
  /** The verifier's public URL, when it said which one to use. */
  readonly publicUrl: string | undefined;
  /** Whether the verifier used the enrollment token up (false: it can be used again). */
  readonly tokenUsed: boolean | undefined;

  constructor(
    code: EnrollErrorCode,
    message: string,
    options: { publicUrl?: string; tokenUsed?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.publicUrl = options.publicUrl;
    this.tokenUsed = options.tokenUsed;
  }
}
