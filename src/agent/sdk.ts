/**
 * Node SDK: `createPostureFetch()` returns a fetch that sends this device's posture attestation and
 * a fresh proof with every request. When the agent's daemon runs, it signs (the device key stays
 * with it; one local API call per request); when it does not, this process collects and signs with
 * this user's key, renewing the attestation before it expires, and says so once (`onFallback`).
 *
 *   import { createPostureFetch } from 'posture-agent/sdk';
 *   const postureFetch = createPostureFetch({ audience: 'https://app.example.com' });
 *   const res = await postureFetch('https://app.example.com/api/items');
 *   postureFetch.signedBy(); // 'daemon' | 'process' (undefined before the first request)
 */
import type { PostureFetchOptions } from '../attest/headers.js';
import { createPostureFetch as wrapFetch, postureHeaders, renewingAttestation } from '../attest/headers.js';
import type { AgentConfig, Settings } from './config.js';
import { loadConfig } from './config.js';
import { createAttestor } from './attestor.js';
import type { SignedBy, SignerChoice } from './signer.js';
import { NO_DAEMON_NOTICE } from './signer.js';
import { isNoDaemon, requestDaemonHeaders } from './daemon/status-client.js';

export interface SdkOptions extends Partial<Pick<PostureFetchOptions, 'fetch' | 'renewBeforeMs'>> {
  /** The audience attestations are made for; default the configured one (the daemon's, with it). */
  audience?: string;
  /** Settings that override the user file and environment (managed settings still win). */
  settings?: Settings;
  /** A whole configuration instead of loading one (embedders that load their own); wins over `settings`. */
  config?: AgentConfig;
  /**
   * `auto` (default): the daemon when it answers, else this process; `daemon`: the daemon only
   * (a request fails with ERR_DAEMON_NOT_RUNNING without it); `process`: never the daemon.
   */
  signer?: SignerChoice;
  /** Told when no daemon answers and this process signs instead; default a process warning, once. */
  onFallback?: (notice: string) => void;
  /** With `auto`, how long to sign in process before asking the daemon again (default 30 s). */
  daemonRetryMs?: number;
  now?: () => number;
}

export type PostureFetch = typeof fetch & {
  /** Who signed the last request's headers: the daemon or this process; undefined before any. */
  signedBy(): SignedBy | undefined;
};

export function createPostureFetch(options: SdkOptions = {}): PostureFetch {
  const config = options.config ?? loadConfig({ flags: options.settings ?? {} });
  const attestor = createAttestor(config);
  const now = options.now ?? Date.now;
  const choice = options.signer ?? 'auto';
  const retryMs = options.daemonRetryMs ?? 30_000;
  const audience = options.audience ?? config.audience;
  const inProcess = renewingAttestation({
    attest: () => attestor.attest(options.audience ? { audience: options.audience } : {}),
    now,
    ...(options.renewBeforeMs !== undefined ? { renewBeforeMs: options.renewBeforeMs } : {}),
  });
  const onFallback =
    options.onFallback ?? ((notice: string) => process.emitWarning(notice, { code: 'POSTURE_NO_DAEMON' }));
  let lastSignedBy: SignedBy | undefined;
  let askDaemonAfter = 0;

  async function headers(method: string, url: string): Promise<Record<string, string>> {
    if (choice === 'daemon' || (choice === 'auto' && now() >= askDaemonAfter)) {
      try {
        const answer = await requestDaemonHeaders(config.socketPath, {
          method,
          url,
          ...(audience ? { audience } : {}),
        });
        lastSignedBy = 'daemon';
        return answer.headers;
      } catch (error) {
        if (choice === 'daemon' || !isNoDaemon(error)) throw error;
        if (lastSignedBy !== 'process') onFallback(NO_DAEMON_NOTICE);
        askDaemonAfter = now() + retryMs;
      }
    }
    const attestation = await inProcess();
    lastSignedBy = 'process';
    return postureHeaders(attestation, method, url, now());
  }

  const fetchWithPosture = wrapFetch({
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  }) as PostureFetch;
  fetchWithPosture.signedBy = () => lastSignedBy;
  return fetchWithPosture;
}

export { postureHeaders } from '../attest/headers.js';
export { createAttestor } from './attestor.js';
export type { SignedBy, SignerChoice } from './signer.js';
