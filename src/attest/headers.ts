/** The two request headers, and a fetch that adds them to every request and renews before expiry. */
import { ATTESTATION_HEADER, PROOF_HEADER } from '../shared/claims.js';
import type { Attestation } from './attestation.js';

export function postureHeaders(
  attestation: Attestation,
  method: string,
  url: string,
  now = Date.now(),
): Record<string, string> {
  return {
    [ATTESTATION_HEADER]: attestation.token,
    [PROOF_HEADER]: attestation.session.proof(method, url, attestation.token, now),
  };
}

export interface PostureFetchOptions {
  /** Makes a fresh attestation (collects posture and signs it with the device key). */
  attest: () => Promise<Attestation>;
  /** Renew when less than this is left (default 60 s, and never later than at 80 % of the lifetime). */
  renewBeforeMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * A fetch that adds `Posture-Attestation` and a fresh `Posture-Proof` to every request, renewing the
 * attestation before it expires; concurrent requests share one renewal.
 */
export function createPostureFetch(options: PostureFetchOptions): typeof fetch {
  const now = options.now ?? Date.now;
  const base = options.fetch ?? fetch;
  let current: Attestation | undefined;
  let issuedAt = 0;
  let renewing: Promise<Attestation> | undefined;
  const fresh = async (): Promise<Attestation> => {
    const t = now();
    if (current) {
      const lifetime = current.expiresAt - issuedAt;
      const renewAt = Math.min(
        current.expiresAt - (options.renewBeforeMs ?? 60_000),
        issuedAt + lifetime * 0.8,
      );
      if (t < renewAt) return current;
    }
    renewing ??= options
      .attest()
      .then((a) => {
        current = a;
        issuedAt = now();
        return a;
      })
      .finally(() => {
        renewing = undefined;
      });
    return renewing;
  };
  return async (input, init) => {
    const request = new Request(input, init);
    const attestation = await fresh();
    const headers = new Headers(request.headers);
    for (const [name, value] of Object.entries(
      postureHeaders(attestation, request.method, request.url, now()),
    ))
      headers.set(name, value);
    return base(new Request(request, { headers }));
  };
}
