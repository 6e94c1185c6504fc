/**
 * The one table from error codes to process exit codes (STYLE 14), and what each exit code means,
 * printed by --help and listed in the README. MDM and deploy scripts branch on these numbers.
 */
import type { EnrollErrorCode } from '../agent/enroll-errors.js';
import type { DaemonErrorCode } from '../agent/daemon/errors.js';
import type { KeyErrorCode } from '../keys/errors.js';

export const EXIT = {
  pass: 0,
  fail: 1,
  unknown: 2,
  usage: 3,
  error: 4,
  key: 5,
  refused: 6,
  unreachable: 7,
  revoked: 8,
  locked: 9,
  wrongServer: 10,
  noDaemon: 11,
  daemonRefused: 12,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every device-key failure: the key cannot be used (docs/keys.md says what to do for each). */
const KEY_EXITS: Record<KeyErrorCode, ExitCode> = {
  ERR_KEYCHAIN_UNAVAILABLE: EXIT.key,
  ERR_KEYCHAIN_LOCKED: EXIT.key,
  ERR_KEY_NOT_FOUND: EXIT.key,
  ERR_KEY_CORRUPT: EXIT.key,
  ERR_TPM_UNAVAILABLE: EXIT.key,
  ERR_NO_SERVICE_KEY_STORE: EXIT.key,
  ERR_TPM_FAILED: EXIT.key,
  ERR_NATIVE_HELPER_FAILED: EXIT.key,
  ERR_FILE_KEY_NOT_ALLOWED: EXIT.key,
  ERR_FILE_KEY_INSECURE: EXIT.key,
  ERR_KEY_WRITE_FAILED: EXIT.key,
  ERR_KEY_STATE_CORRUPT: EXIT.key,
  ERR_ROTATION_FAILED: EXIT.key,
};

/** Talking to a verifier: each answer its own code, so a script knows whether to retry, re-key or ask IT. */
const ENROLL_EXITS: Record<EnrollErrorCode, ExitCode> = {
  ERR_ENROLLMENT_REFUSED: EXIT.refused,
  ERR_SERVER_UNREACHABLE: EXIT.unreachable,
  ERR_DEVICE_REVOKED: EXIT.revoked,
  ERR_DEVICE_LOCKED: EXIT.locked,
  ERR_SERVER_URL_MISMATCH: EXIT.wrongServer,
  ERR_ENROLLMENT_CORRUPT: EXIT.usage,
};

/** The daemon and its local API: `posture status` found no daemon, or not one that speaks the API. */
const DAEMON_EXITS: Record<DaemonErrorCode, ExitCode> = {
  ERR_DAEMON_NOT_RUNNING: EXIT.noDaemon,
  ERR_DAEMON_BAD_ANSWER: EXIT.noDaemon,
  ERR_DAEMON_NO_ATTESTATION: EXIT.daemonRefused,
  ERR_DAEMON_REFUSED: EXIT.daemonRefused,
  ERR_SOCKET_DIR_UNSAFE: EXIT.usage,
  ERR_SOCKET_IN_USE: EXIT.usage,
  ERR_TRANSPORT_UNSUPPORTED: EXIT.usage,
  ERR_SCHEDULE_INVALID: EXIT.usage,
};

const BY_CODE: Readonly<Record<string, ExitCode>> = { ...KEY_EXITS, ...ENROLL_EXITS, ...DAEMON_EXITS };

/** The exit code for a coded error; every other code (usage, policy, config, capture, output file) is 3. */
export function exitCodeForError(code: string): ExitCode {
  return Object.hasOwn(BY_CODE, code) ? (BY_CODE[code] as ExitCode) : EXIT.usage;
}

/** What each exit code means, for --help (the README lists the same). */
export const EXIT_MEANINGS: readonly (readonly [ExitCode, string])[] = [
  [EXIT.pass, 'done; for "check": every check passes'],
  [EXIT.fail, '"check": a check fails'],
  [EXIT.unknown, '"check": none fails but one is unknown'],
  [
    EXIT.usage,
    'bad usage, policy, config, capture or output file [ERR_USAGE, ERR_POLICY_INVALID, ERR_OUTPUT_UNWRITABLE, …]',
  ],
  [EXIT.error, 'internal error'],
  [
    EXIT.key,
    'the device key cannot be used: keychain locked or absent, TPM unreachable [ERR_KEYCHAIN_LOCKED, …]',
  ],
  [
    EXIT.refused,
    'the verifier refused the token: used, expired or unknown; ask IT for a new one [ERR_ENROLLMENT_REFUSED]',
  ],
  [
    EXIT.unreachable,
    'the verifier could not be reached or could not answer; retry later [ERR_SERVER_UNREACHABLE]',
  ],
  [
    EXIT.revoked,
    'this device key is revoked: make a new key (posture key rotate --force-new) and enroll again, or enroll with --new-key-if-revoked [ERR_DEVICE_REVOKED]',
  ],
  [EXIT.locked, 'IT has locked this device; ask IT to unlock it [ERR_DEVICE_LOCKED]'],
  [
    EXIT.wrongServer,
    '--server is not the verifier\u2019s public URL; use the URL the message names [ERR_SERVER_URL_MISMATCH]',
  ],
  [
    EXIT.noDaemon,
    '"status", or "headers"/"run"/"attest"/"enroll"/"key rotate" with --require-daemon: no daemon answers on the local API socket, or not as expected [ERR_DAEMON_NOT_RUNNING, ERR_DAEMON_BAD_ANSWER]',
  ],
  [
    EXIT.daemonRefused,
    '"headers", "run", "attest": the daemon answered but signed nothing: it holds no current attestation (starting, not enrolled and no audience, the key cannot sign; "posture status" says why) or refused the request (rate limited); "enroll", "key rotate" while the daemon runs: the caller is not root or in adminGroups [ERR_DAEMON_NO_ATTESTATION, ERR_DAEMON_REFUSED]',
  ],
];
