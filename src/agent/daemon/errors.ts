import { PostureError } from '../../shared/errors.js';
import type { LocalApiErrorCode } from '../../shared/local-api.js';

/** Failures of the daemon's building blocks. Stable codes, documented in docs/daemon.md. */
export type DaemonErrorCode =
  /** The socket's folder can be written by others: anyone could swap the socket for their own. */
  | 'ERR_SOCKET_DIR_UNSAFE'
  /** Another process answers on the socket path: a second daemon is running. */
  | 'ERR_SOCKET_IN_USE'
  /** The local API transport does not exist on this OS (yet). */
  | 'ERR_TRANSPORT_UNSUPPORTED'
  /** A schedule entry is not a valid cron expression, or names an unknown check. */
  | 'ERR_SCHEDULE_INVALID'
  /** No daemon answers on the local API socket (`posture status`). */
  | 'ERR_DAEMON_NOT_RUNNING'
  /** Something answered on the socket, but not the local API's status. */
  | 'ERR_DAEMON_BAD_ANSWER'
  /** The daemon holds no attestation it may hand out (local API `no_attestation`). */
  | 'ERR_DAEMON_NO_ATTESTATION'
  /** The daemon refused the request with another local API code (rate_limited, malformed_request, …). */
  | 'ERR_DAEMON_REFUSED';

export class DaemonError extends PostureError {
  declare readonly code: DaemonErrorCode;

  constructor(code: DaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * What a local API handler throws to answer with one of the API's own error codes
 * (e.g. `unavailable` while the daemon is still starting). Any other error is answered as
 * `unavailable` with a generic message: never a stack trace.
 */
export class LocalApiFailure extends PostureError {
  declare readonly code: LocalApiErrorCode;

  constructor(
    code: LocalApiErrorCode,
    message: string,
    /** rate_limited: when to try again. */
    readonly retryAfterMs?: number,
    /** unavailable because the agent core refused: its code (ERR_DEVICE_REVOKED, …). */
    readonly agentCode?: string,
  ) {
    super(code, message);
  }
}
