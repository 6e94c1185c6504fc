/**
 * The posture attestation (DESIGN §2.5): a JWT, typ posture-attestation+jwt, ES256, signed by the
 * device key, shaped after the IETF Entity Attestation Token (RFC 9711).
 */
import { randomBytes } from 'node:crypto';
import type { AttestationClaims } from '../shared/claims.js';
import {
  ALG,
  ATTESTATION_TYP,
  DEFAULT_ATTESTATION_LIFETIME_S,
  EAT_PROFILE,
  MAX_ATTESTATION_LIFETIME_S,
} from '../shared/claims.js';
import { PostureError } from '../shared/errors.js';
import type { PostureReport } from '../shared/posture.js';
import { signCompact } from '../keys/jws.js';
import type { DeviceKey } from '../keys/types.js';
import { AGENT } from '../host/agent-info.js';
import { compactPosture } from './compact.js';
import type { SessionKey } from './session.js';
import { createSessionKey } from './session.js';

export interface AttestOptions {
  report: PostureReport;
  key: DeviceKey;
  audience: string;
  /** This device's id at the verifier; before enrollment, the key's thumbprint. */
  deviceId?: string;
  nonce?: string;
  lifetimeSeconds?: number;
  now?: () => number;
}

export interface Attestation {
  token: string;
  claims: AttestationClaims;
  session: SessionKey;
  expiresAt: number;
}

export async function createAttestation(options: AttestOptions): Promise<Attestation> {
  const lifetime = options.lifetimeSeconds ?? DEFAULT_ATTESTATION_LIFETIME_S;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_ATTESTATION_LIFETIME_S) {
    throw new PostureError(
      'ERR_ATTESTATION_LIFETIME',
      `an attestation lives at most ${MAX_ATTESTATION_LIFETIME_S} s; ${lifetime} was asked for.`,
    );
  }
  const iat = Math.floor((options.now ?? Date.now)() / 1000);
  const session = createSessionKey();
  const device = options.deviceId ?? options.key.kid;
  const claims: AttestationClaims = {
    iss: device,
    sub: device,
    aud: options.audience,
    iat,
    exp: iat + lifetime,
    jti: randomBytes(16).toString('base64url'),
    ...(options.nonce ? { eat_nonce: options.nonce } : {}),
    eat_profile: EAT_PROFILE,
    swname: AGENT.name,
    swversion: AGENT.version,
    key_protection: options.key.protection,
    cnf: { jwk: session.publicJwk },
    posture: compactPosture(options.report),
  };
  const token = await signCompact(
    { alg: ALG, typ: ATTESTATION_TYP, kid: options.key.kid },
    claims as unknown as Record<string, unknown>,
    options.key,
  );
  return { token, claims, session, expiresAt: claims.exp * 1000 };
}
