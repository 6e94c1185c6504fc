/**
 * The policy the daemon judges by, so its verdict is the one the proxy will reach: the verifier's
 * active policy from `GET /v1/policy` (`{revision, policy}`), asked again on every re-check with a
 * conditional request (If-None-Match with the ETag it last sent; a verifier without ETags answers
 * 200 and the revision tells whether anything changed). The built-in default (or the configured
 * policy file) serves only when no verifier is configured. When the verifier is configured but its
 * policy cannot be had, the last one fetched is kept; before the first, there is no policy, and the
 * daemon says so instead of judging by another one (fail closed).
 */
import { z } from 'zod';
import type { Policy } from '../../shared/policy.js';
import { validatePolicy } from '../../shared/policy.js';

export type PolicyOrigin = 'verifier' | 'local';

export interface PolicyState {
  policy: Policy;
  origin: PolicyOrigin;
  /** When the verifier last answered (verifier only). */
  fetchedAt?: string;
}

export interface PolicySource {
  /** The policy to judge by now; refreshes from the verifier first. Undefined: none can be had. */
  current(): Promise<{ state?: PolicyState; problem?: string }>;
}

const answerSchema = z.object({ revision: z.string(), policy: z.unknown() });

export function createPolicySource(options: {
  /** The verifier's base URL; undefined: no verifier configured. */
  server?: string;
  local: () => Promise<Policy>;
  fetch?: typeof fetch;
  now?: () => Date;
  timeoutMs?: number;
}): PolicySource {
  const f = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  let cached: PolicyState | undefined;
  let etag: string | undefined;

  async function fromVerifier(server: string): Promise<{ state?: PolicyState; problem?: string }> {
    try {
      const res = await f(`${server.replace(/\/+$/, '')}/v1/policy`, {
        headers: { accept: 'application/json', ...(etag && cached ? { 'if-none-match': etag } : {}) },
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      if (res.status === 304 && cached) {
        cached = { ...cached, fetchedAt: now().toISOString() };
        return { state: cached };
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const answer = answerSchema.parse(await res.json());
      const policy = validatePolicy(answer.policy, `${server}/v1/policy`);
      etag = res.headers.get('etag') ?? undefined;
      cached = { policy, origin: 'verifier', fetchedAt: now().toISOString() };
      return { state: cached };
    } catch (error) {
      const problem = `cannot fetch the policy from ${server}/v1/policy (${error instanceof Error ? error.message : String(error)})`;
      return cached ? { state: cached, problem } : { problem };
    }
  }

  return {
    async current() {
      if (options.server) return fromVerifier(options.server);
      return { state: { policy: await options.local(), origin: 'local' } };
    },
  };
}
