/**
 * The verifier's device store: enrollment tokens and enrolled devices. One interface; SQLite is the
 * embedded default (sqlite-store.ts), PostgreSQL serves several replicas. Devices are revoked or
 * locked, never deleted. Every method throws only a StoreError (store-errors.ts): unreachable or
 * failing (callers deny, 503) or a key already in use (409).
 */
import type { KeyProtection, PublicJwk } from '../shared/claims.js';
import type { DeviceStatus } from '../verifier/verify-request.js';

export interface EnrollmentToken {
  /** SHA-256 (base64url) of the token; the token itself is never stored. */
  hash: string;
  label?: string;
  createdAt: number;
  expiresAt: number;
  usedAt?: number;
  usedBy?: string;
}

export interface DeviceFacts {
  hostname?: string;
  model?: string;
  serial?: string;
  os?: string;
}

export interface StoredDevice {
  deviceId: string;
  kid: string;
  jwk: PublicJwk;
  keyProtection: KeyProtection;
  status: DeviceStatus;
  label?: string;
  facts: DeviceFacts;
  enrolledAt: number;
  lastSeenAt?: number;
  /** The last decision for this device: overall verdict and failing checks. */
  lastPosture?: { overall: string; failing: string[]; policyRevision: string; at: number };
  /**
   * When this device first reported pending security updates (ms), kept until it reports none:
   * the verifier's clock for the policy's age limit, which the device cannot reset.
   */
  securityPendingSince?: number;
  /** The newest attestation the device pushed (iat in seconds, jti): older ones are superseded. */
  newestAttestation?: { iat: number; jti: string };
  /** When the device last pushed an attestation or a heartbeat (ms). */
  lastPushAt?: number;
}

/**
 * Why an enrollment did not happen. The token is consumed only by a successful enrollment: a key
 * whose device is revoked or locked, or a re-enrollment claiming another key protection than the
 * one recorded, leaves the token usable.
 */
export type EnrollRefusal =
  | 'token_invalid'
  | 'token_used'
  | 'token_expired'
  | 'device_revoked'
  | 'device_locked'
  | 'key_protection_mismatch';

export type EnrollResult =
  | { ok: true; device: StoredDevice; reenrolled: boolean }
  | { ok: false; reason: EnrollRefusal; device?: StoredDevice };

export interface DeviceStore {
  readonly kind: string;
  createToken(token: EnrollmentToken): Promise<void>;
  /**
   * In one transaction: consume the token (unused, unexpired) and record the device — or, if this
   * key is already enrolled and active, update its facts and return it (re-enrollment keeps its id,
   * its status and the key protection recorded first: a key's protection never changes). A key
   * whose device is revoked or locked, or that now claims another protection, is refused and the
   * token is left unused.
   */
  enroll(
    tokenHash: string,
    now: number,
    device: Omit<StoredDevice, 'status' | 'label'>,
  ): Promise<EnrollResult>;
  deviceByKid(kid: string): Promise<StoredDevice | undefined>;
  device(deviceId: string): Promise<StoredDevice | undefined>;
  listDevices(options?: { limit?: number; offset?: number }): Promise<StoredDevice[]>;
  setStatus(deviceId: string, status: DeviceStatus): Promise<boolean>;
  /**
   * Replaces a device's key (after a verified rotation statement); the old kid stops working.
   * False when the device no longer holds `oldKid`; a StoreError ERR_STORE_KEY_IN_USE when another
   * device (or this one) already holds `kid`.
   */
  rotateKey(
    deviceId: string,
    oldKid: string,
    jwk: PublicJwk,
    kid: string,
    keyProtection: KeyProtection,
  ): Promise<boolean>;
  recordSeen(deviceId: string, at: number, posture: StoredDevice['lastPosture']): Promise<void>;
  /**
   * A pushed attestation (or a heartbeat, the same attestation again): in one conditional write,
   * records it as the device's newest, its posture as the last one, and `at` as last seen and
   * last push — unless the device already holds a newer one (an earlier iat). The same iat
   * replaces (the last push wins a tie). False when refused, or no such device: replicas racing
   * cannot make an older attestation the newest.
   */
  recordAttestation(
    deviceId: string,
    newest: { iat: number; jti: string },
    at: number,
    posture: StoredDevice['lastPosture'],
  ): Promise<boolean>;
  /**
   * `at`: the device reports pending security updates; sets the record only when none is set (the
   * earliest report stays, whichever replica writes first). `null`: it reports none; clears it.
   */
  setSecurityPendingSince(deviceId: string, at: number | null): Promise<void>;
  /** For readiness: throws when the store cannot be used. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Whether an already enrolled device may be enrolled again with this claim: not when it is revoked
 * or locked, and not with another key protection than the one recorded (a key's protection is a
 * fact of its first enrollment; re-enrolling never raises it).
 */
export function reenrollRefusal(
  existing: StoredDevice,
  claimed: KeyProtection,
): Extract<EnrollResult, { ok: false }> | undefined {
  if (existing.status === 'revoked') return { ok: false, reason: 'device_revoked', device: existing };
  if (existing.status === 'locked') return { ok: false, reason: 'device_locked', device: existing };
  if (existing.keyProtection !== claimed)
    return { ok: false, reason: 'key_protection_mismatch', device: existing };
  return undefined;
}

/** The columns of a new device row, in the order both stores insert them. */
export const DEVICE_INSERT_COLUMNS =
  'device_id, kid, jwk, key_protection, status, label, facts, enrolled_at' as const;

/** The values of a newly enrolled device's row, in the order of DEVICE_INSERT_COLUMNS. */
export function newDeviceRow(
  d: Omit<StoredDevice, 'status' | 'label'>,
  label: string | null | undefined,
): [string, string, string, KeyProtection, 'active', string | null, string, number] {
  return [
    d.deviceId,
    d.kid,
    JSON.stringify(d.jwk),
    d.keyProtection,
    'active',
    label ?? null,
    JSON.stringify(d.facts),
    d.enrolledAt,
  ];
}
