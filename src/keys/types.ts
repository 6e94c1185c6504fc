/**
 * One device key per device (per user profile on shared machines): ECDSA P-256, identified by its
 * RFC 7638 JWK thumbprint. Where the private part lives is its protection level. The private part
 * never leaves the store it was made in (tpm, secure_enclave) or lives only in the OS credential store
 * (keychain), or, only when explicitly configured, in a root-only file.
 */
import type { KeyProtection, PublicJwk } from '../shared/claims.js';

export interface DeviceKey {
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  readonly protection: KeyProtection;
  readonly createdAt: string;
  /** Where the store keeps it (keychain account, TPM handle, file path, helper key name). */
  readonly ref: string;
  /** ES256 signature over `data` as raw r‖s (64 bytes), ready for a JWS. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface KeyStore {
  readonly kind: KeyProtection;
  /** Makes a new key under `ref`; never overwrites an existing one. */
  create(ref: string): Promise<DeviceKey>;
  /** Opens the key under `ref` (reading a keychain secret once). ERR_KEY_NOT_FOUND when absent. */
  open(ref: string, createdAt: string): Promise<DeviceKey>;
  /** Deletes the key under `ref`; absent is not an error. */
  remove(ref: string): Promise<void>;
}
