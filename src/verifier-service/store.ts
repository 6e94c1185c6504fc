/**
 * The verifier's device store: enrollment tokens and enrolled devices. One interface; SQLite is the
 * embedded default (sqlite-store.ts), PostgreSQL serves several replicas. Devices are revoked or
 * locked, never deleted. Every method may throw when the store is unreachable; callers deny.
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
}

export type EnrollResult =
  | { ok: true; device: StoredDevice; reenrolled: boolean }
  | { ok: false; reason: 'token_invalid' | 'token_used' | 'token_expired' };

export interface DeviceStore {
  readonly kind: string;
  createToken(token: EnrollmentToken): Promise<void>;
  /**
   * In one transaction: consume the token (unused, unexpired) and record the device — or, if this
   * key is already enrolled, return that device (re-enrollment keeps its id and its status).
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
  /** Replaces a device's key (after a verified rotation statement); the old kid stops working. */
  rotateKey(
    deviceId: string,
    oldKid: string,
    jwk: PublicJwk,
    kid: string,
    keyProtection: KeyProtection,
  ): Promise<boolean>;
  recordSeen(deviceId: string, at: number, posture: StoredDevice['lastPosture']): Promise<void>;
  /**
   * `at`: the device reports pending security updates; sets the record only when none is set (the
   * earliest report stays, whichever replica writes first). `null`: it reports none; clears it.
   */
  setSecurityPendingSince(deviceId: string, at: number | null): Promise<void>;
  /** For readiness: throws when the store cannot be used. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
