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

export interface RenewOptions {
  /** Makes a fresh attestation (collects posture and signs it with the device key). */
  attest: () => Promise<Attestation>;
  /** Renew when less than this is left (default 60 s, and never later than at 80 % of the lifetime). */
  renewBeforeMs?: number;
  now?: () => number;
}

export interface PostureFetchOptions extends Partial<RenewOptions> {
  /**
   * Makes the two headers for one request (e.g. asked of the agent's daemon); when given, `attest`
   * is not used.
   */
  headers?: (method: string, url: string) => Promise<Record<string, string>>;
  fetch?: typeof fetch;
}

/**
 * The current attestation, renewed before it expires; concurrent callers share one renewal.
 */
export function renewingAttestation(options: RenewOptions): () => Promise<Attestation> {
  const now = options.now ?? Date.now;
  let current: Attestation | undefined;
  let issuedAt = 0;
  let renewing: Promise<Attestation> | undefined;
  return async (): Promise<Attestation> => {
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
}

/**
 * A fetch that adds `Posture-Attestation` and a fresh `Posture-Proof` to every request: from
 * `headers` when given, else from an attestation made by `attest` and renewed before it expires.
 */
export function createPostureFetch(options: PostureFetchOptions): typeof fetch {
  const now = options.now ?? Date.now;
  const base = options.fetch ?? fetch;
  const makeHeaders = options.headers ?? inProcessHeaders(options, now);
  return async (input, init) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    for (const [name, value] of Object.entries(await makeHeaders(request.method, request.url)))
      headers.set(name, value);
    return base(new Request(request, { headers }));
  };
}

function inProcessHeaders(
  options: Partial<RenewOptions>,
  now: () => number,
): (method: string, url: string) => Promise<Record<string, string>> {
  const { attest } = options;
  if (!attest) throw new TypeError('createPostureFetch needs `headers` or `attest`');
  const fresh = renewingAttestation({ ...options, attest, now });
  return async (method, url) => postureHeaders(await fresh(), method, url, now());
}
