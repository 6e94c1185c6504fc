/**
 * What the daemon hands its local clients (`posture headers|run|attest`, the SDK): its current
 * attestation, or one for another audience signed from the same report, plus fresh proofs made
 * with the attestation's session key. The device key and the session keys never leave the daemon.
 *
 * Fail closed: no attestation held (starting, no audience, cannot sign, posture changed and not
 * signed again) or one too close to its end (renewal overdue) → `no_attestation`, never a stale or
 * empty one. An attestation for another audience is signed from the report of the one held now and
 * kept only while that one is (a posture change drops them all); at most `maxAudiences` are kept.
 * A fresh device-key signature (an audience not cached, a nonce) is rate limited per user.
 *
 * The verifier takes the newest attestation the daemon pushed as the device's own and denies any
 * other issued before it or in the same second (`attestation_superseded`, verify-request.ts). A
 * fresh one is therefore signed only in a later second than the held one: at most a second's wait.
 */
import type { Attestation } from '../../attest/attestation.js';
import { postureHeaders } from '../../attest/headers.js';
import { ATTESTATION_HEADER, PROOF_HEADER } from '../../shared/claims.js';
import type { PostureReport } from '../../shared/posture.js';
import { LocalApiFailure } from './errors.js';
import type { TokenBuckets } from './rate-limit.js';

export interface HeldAttestation {
  attestation: Attestation;
  report: PostureReport;
}

export interface LocalSigningDeps {
  /** The attestation the daemon presents now, with the report it was signed from. */
  held: () => HeldAttestation | undefined;
  /** Why there is none, in a sentence (from the status: starting, no_audience, attestation_failed…). */
  whyNone: () => string;
  /** Signs `report` for `audience` with the device key. */
  sign: (request: { audience: string; report: PostureReport; nonce?: string }) => Promise<Attestation>;
  /** Fresh signatures per user (LOCAL_API_LIMITS.freshSignBurst / freshSignRefillMs). */
  freshSigns: TokenBuckets;
  maxAudiences: number;
  minRemainingMs: number;
  now: () => number;
  /** Waits (default setTimeout); tests pass a clock that steps. */
  sleep?: (ms: number) => Promise<void>;
}

export interface SignedHeaders {
  headers: { [ATTESTATION_HEADER]: string; [PROOF_HEADER]: string };
  attestation: Attestation;
}

export interface LocalSigning {
  attestation(request: { audience?: string; nonce?: string }, userKey: string): Promise<Attestation>;
  headers(
    request: { method: string; url: string; audience?: string },
    userKey: string,
  ): Promise<SignedHeaders>;
}

interface CachedAudience {
  /** The jti of the held attestation this one was signed alongside. */
  basedOn: string;
  attestation: Promise<Attestation>;
}

export function createLocalSigning(deps: LocalSigningDeps): LocalSigning {
  const byAudience = new Map<string, CachedAudience>();

  function usable(attestation: Attestation): boolean {
    return attestation.expiresAt - deps.now() >= deps.minRemainingMs;
  }

  function heldNow(): HeldAttestation {
    const held = deps.held();
    if (!held)
      throw new LocalApiFailure('no_attestation', `the daemon holds no attestation: ${deps.whyNone()}`);
    if (!usable(held.attestation))
      throw new LocalApiFailure(
        'no_attestation',
        'the daemon’s attestation is about to expire and its renewal is overdue; `posture status` says why',
      );
    return held;
  }

  function takeFreshSign(userKey: string): void {
    const waitMs = deps.freshSigns.take(userKey);
    if (waitMs > 0)
      throw new LocalApiFailure(
        'rate_limited',
        'too many fresh signatures (other audiences, nonces)',
        waitMs,
      );
  }

  async function signFresh(held: HeldAttestation, audience: string, nonce?: string): Promise<Attestation> {
    const laterSecond = (held.attestation.claims.iat + 1) * 1000 - deps.now();
    if (laterSecond > 0) await (deps.sleep ?? sleep)(laterSecond + 5);
    try {
      return await deps.sign({ audience, report: held.report, ...(nonce ? { nonce } : {}) });
    } catch {
      throw new LocalApiFailure(
        'no_attestation',
        'the daemon could not sign an attestation for this audience; see its log',
      );
    }
  }

  async function forAudience(held: HeldAttestation, audience: string, userKey: string): Promise<Attestation> {
    const basedOn = held.attestation.claims.jti;
    const cached = byAudience.get(audience);
    if (cached?.basedOn === basedOn) {
      const attestation = await cached.attestation.catch(() => undefined);
      if (attestation && usable(attestation)) return attestation;
    }
    takeFreshSign(userKey);
    const signing = signFresh(held, audience);
    byAudience.delete(audience);
    // Keep only the newest audiences, and only those signed alongside the held attestation.
    for (const [key, entry] of byAudience)
      if (entry.basedOn !== basedOn || byAudience.size >= deps.maxAudiences) byAudience.delete(key);
    byAudience.set(audience, { basedOn, attestation: signing });
    signing.catch(() => {
      if (byAudience.get(audience)?.attestation === signing) byAudience.delete(audience);
    });
    return signing;
  }

  async function attestation(request: { audience?: string; nonce?: string }, userKey: string) {
    const held = heldNow();
    const audience = request.audience ?? held.attestation.claims.aud;
    if (request.nonce) {
      takeFreshSign(userKey);
      return signFresh(held, audience, request.nonce);
    }
    if (audience === held.attestation.claims.aud) return held.attestation;
    return forAudience(held, audience, userKey);
  }

  return {
    attestation,
    async headers(request, userKey) {
      const signed = await attestation(request.audience ? { audience: request.audience } : {}, userKey);
      const headers = postureHeaders(signed, request.method, request.url, deps.now());
      return {
        attestation: signed,
        headers: {
          [ATTESTATION_HEADER]: headers[ATTESTATION_HEADER] ?? '',
          [PROOF_HEADER]: headers[PROOF_HEADER] ?? '',
        },
      };
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
