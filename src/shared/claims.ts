/**
 * The wire contract between agent and verifier (DESIGN §2.5–2.6): header names, token types, the
 * claims of the posture attestation and of the per-request proof, and their limits. Both sides
 * import these constants so they cannot drift apart.
 */
import type { OsFamily, PostureChecks } from './posture.js';

export const ATTESTATION_HEADER = 'Posture-Attestation';
export const PROOF_HEADER = 'Posture-Proof';
/** Where the agent pushes each new attestation, and its heartbeat (docs/protocol.md). */
export const PUSH_PATH = '/v1/devices/attestation';
export const ATTESTATION_TYP = 'posture-attestation+jwt';
export const PROOF_TYP = 'posture-proof+jwt';
export const ALG = 'ES256';
/** RFC 9711 eat_profile naming this attestation format. */
export const EAT_PROFILE = 'tag:posture-agent.org,2026:attestation:v1';
/** Every header value is at most this many bytes. */
export const MAX_HEADER_BYTES = 8 * 1024;
export const DEFAULT_ATTESTATION_LIFETIME_S = 600;
export const MAX_ATTESTATION_LIFETIME_S = 900;

/**
 * Where a device key lives (DESIGN §2.3); the one list every side imports. `os_keystore`: a
 * non-exportable software key held and used by the OS key service for a system service (Windows:
 * the Software Key Storage Provider's machine keys, DPAPI-machine protected), not hardware.
 */
export const KEY_PROTECTIONS = ['tpm', 'secure_enclave', 'keychain', 'os_keystore', 'file'] as const;
export type KeyProtection = (typeof KEY_PROTECTIONS)[number];

/** A public P-256 key as a JWK (RFC 7517), the only kind used. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface AttestationClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  eat_nonce?: string;
  eat_profile: typeof EAT_PROFILE;
  swname: string;
  swversion: string;
  key_protection: KeyProtection;
  cnf: { jwk: PublicJwk };
  posture: AttestedPosture;
}

/** The posture as attested: the observations (compacted to fit a header), not verdicts. */
export interface AttestedPosture {
  platform: OsFamily | 'unsupported';
  collectedAt: string;
  checks: PostureChecks;
}

export interface ProofClaims {
  htm: string;
  htu: string;
  iat: number;
  jti: string;
  ath: string;
}
