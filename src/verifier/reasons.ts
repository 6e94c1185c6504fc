/**
 * Stable reason codes for every way a request can be denied, with the HTTP status a proxy should
 * answer and a sentence for the person. 401: the proof or attestation is missing or bad; 403: the
 * device is known but not allowed (posture fails, revoked, locked); 429: this one device has used up
 * its share of the replay store; 503: the verifier cannot decide right now (store down) — which
 * still denies.
 */
export const REASONS = {
  headers_missing: [
    401,
    'The request carries no posture attestation and proof. Reach this app from an enrolled device running Posture Agent; ask IT how, if you are unsure.',
  ],
  header_duplicated: [401, 'A posture header was sent more than once.'],
  header_too_large: [401, 'A posture header is larger than 8 KiB.'],
  malformed_token: [401, 'A posture header is not a compact JWS (three base64url parts).'],
  proof_header_invalid: [
    401,
    'The proof header is not a posture-proof+jwt with ES256 and an embedded public key.',
  ],
  proof_signature_invalid: [401, 'The proof signature does not verify with its key.'],
  proof_claims_invalid: [401, 'The proof claims are missing or of the wrong type.'],
  proof_method_mismatch: [401, 'The proof was made for another HTTP method.'],
  proof_url_mismatch: [401, 'The proof was made for another URL.'],
  proof_iat_out_of_window: [401, 'The proof is too old or from the future; check the device clock.'],
  proof_expired: [401, 'The proof has expired (its exp has passed); every request needs a fresh one.'],
  proof_not_yet_valid: [
    401,
    'The proof is not valid yet (its nbf is in the future); check the device clock.',
  ],
  attestation_header_invalid: [
    401,
    'The attestation header is not a posture-attestation+jwt signed with ES256 by a device key id.',
  ],
  attestation_embedded_key: [
    401,
    'The attestation carries its own key; only enrolled device keys are trusted.',
  ],
  crit_unsupported: [401, 'A token marks an extension critical that the verifier does not support.'],
  device_unknown: [401, 'The attestation is signed by a key no enrolled device has. Enroll this device.'],
  attestation_signature_invalid: [
    401,
    'The attestation signature does not verify with the enrolled device key.',
  ],
  attestation_claims_invalid: [401, 'The attestation claims are missing or of the wrong type.'],
  attestation_subject_mismatch: [401, 'The attestation names another device than the key that signed it.'],
  attestation_audience_invalid: [401, 'The attestation was made for another audience.'],
  attestation_expired: [401, 'The attestation has expired; the agent renews it automatically.'],
  attestation_not_yet_valid: [401, 'The attestation is from the future; check the device clock.'],
  attestation_too_old: [401, 'The attestation is older, or lives longer, than this verifier allows.'],
  attestation_nonce_invalid: [401, 'The attestation does not carry a current verifier nonce.'],
  attestation_superseded: [
    401,
    'The device has sent the verifier a newer attestation than this one; present the agent’s current attestation.',
  ],
  device_stale: [
    403,
    'The device has not sent the verifier a heartbeat recently enough; make sure the Posture Agent service is running.',
  ],
  device_revoked: [403, 'This device has been revoked. Contact IT.'],
  device_locked: [403, 'This device is locked. Contact IT.'],
  key_protection_mismatch: [
    401,
    'The attestation claims a key protection other than the one recorded when this device enrolled.',
  ],
  key_protection_not_allowed: [
    403,
    'This device keeps its key where the policy does not allow (for example in a file). Re-enroll with a TPM or keychain key.',
  ],
  binding_ath_mismatch: [401, 'The proof was made for another attestation.'],
  binding_cnf_mismatch: [401, 'The proof was not signed by the attestation’s session key.'],
  proof_replayed: [401, 'This proof was already used; every request needs a fresh one.'],
  posture_failed: [403, 'The device does not meet the access policy.'],
  posture_unknown: [403, 'The device posture could not be determined, and unknown never passes.'],
  store_unavailable: [503, 'The verifier cannot reach its device store; access is denied until it can.'],
  replay_quota_exceeded: [
    429,
    'This device sent more requests than the verifier remembers for one device; it is refused until earlier proofs age out.',
  ],
  replay_store_unavailable: [
    503,
    'The verifier cannot reach its replay store; access is denied until it can.',
  ],
  internal_error: [500, 'The verifier failed; access is denied.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ReasonCode = keyof typeof REASONS;
