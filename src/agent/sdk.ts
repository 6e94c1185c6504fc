/**
 * Node SDK: `createPostureFetch()` returns a fetch that sends this device's posture attestation and
 * a fresh proof with every request, renewing the attestation before it expires.
 *
 *   import { createPostureFetch } from 'posture-agent/sdk';
 *   const postureFetch = createPostureFetch({ audience: 'https://app.example.com' });
 *   const res = await postureFetch('https://app.example.com/api/items');
 */
import type { PostureFetchOptions } from '../attest/headers.js';
import { createPostureFetch as wrapFetch } from '../attest/headers.js';
import type { Settings } from './config.js';
import { loadConfig } from './config.js';
import { createAttestor } from './attestor.js';

export interface SdkOptions extends Partial<Pick<PostureFetchOptions, 'fetch' | 'renewBeforeMs'>> {
  /** The audience attestations are made for; default the configured one. */
  audience?: string;
  /** Settings that override the user file and environment (managed settings still win). */
  settings?: Settings;
}

export function createPostureFetch(options: SdkOptions = {}): typeof fetch {
  const attestor = createAttestor(loadConfig({ flags: options.settings ?? {} }));
  return wrapFetch({
    attest: () => attestor.attest(options.audience ? { audience: options.audience } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.renewBeforeMs !== undefined ? { renewBeforeMs: options.renewBeforeMs } : {}),
  });
}

export { postureHeaders } from '../attest/headers.js';
export { createAttestor } from './attestor.js';
