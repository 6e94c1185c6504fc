/**
 * Who signs for `posture headers|run|attest` and the SDK: the agent's daemon when it runs (the
 * device key stays with it), else this process with this user's key, saying so.
 *
 * - `auto`: ask the daemon; only when no daemon answers on the socket (no socket, ECONNREFUSED)
 *   sign in process, after one notice. A daemon that answers with an error (no attestation held,
 *   rate limited) is reported, never replaced by a local signature: that would hide, say, a daemon
 *   that will not sign because the posture changed under it.
 * - `daemon`: the daemon or nothing (ERR_DAEMON_NOT_RUNNING).
 * - `process`: never ask the daemon.
 */
import type { Attestation } from '../attest/attestation.js';
import { postureHeaders } from '../attest/headers.js';
import { isNoDaemon, requestDaemonAttestation, requestDaemonHeaders } from './daemon/status-client.js';

export type SignerChoice = 'auto' | 'daemon' | 'process';
/** Which path signed: the daemon, or this process (with this user's key). */
export type SignedBy = 'daemon' | 'process';

export const NO_DAEMON_NOTICE =
  "posture: no agent service running; signing in this process with this user's key";

export interface SignerDeps {
  choice: SignerChoice;
  socketPath: string;
  /** Signs in this process: the agent core with this user's key (no audience: the configured one). */
  attestInProcess: (request: { audience?: string; nonce?: string }) => Promise<Attestation>;
  /** Told once per fallback, with NO_DAEMON_NOTICE. */
  onFallback: (notice: string) => void;
  timeoutMs?: number;
  now?: () => number;
}

export interface SignedHeadersResult {
  headers: Record<string, string>;
  signedBy: SignedBy;
  audience: string;
  expiresAt: string;
}

export interface SignedAttestationResult {
  token: string;
  claims: Record<string, unknown>;
  expiresAt: string;
  signedBy: SignedBy;
}

/**
 * Headers for one request. `audience` undefined: the daemon's own, or in process `fallbackAudience`
 * (the configured one, else the URL's origin).
 */
export async function signedHeaders(
  deps: SignerDeps,
  request: { method: string; url: string; audience?: string; fallbackAudience: string },
): Promise<SignedHeadersResult> {
  return viaDaemonOr(
    deps,
    async () => {
      const answer = await requestDaemonHeaders(
        deps.socketPath,
        {
          method: request.method,
          url: request.url,
          ...(request.audience ? { audience: request.audience } : {}),
        },
        deps.timeoutMs,
      );
      return { headers: answer.headers, audience: answer.audience, expiresAt: answer.expiresAt };
    },
    async () => {
      const a = await deps.attestInProcess({ audience: request.audience ?? request.fallbackAudience });
      return {
        headers: postureHeaders(a, request.method, request.url, (deps.now ?? Date.now)()),
        audience: a.claims.aud,
        expiresAt: new Date(a.expiresAt).toISOString(),
      };
    },
  );
}

/** An attestation for an audience (the daemon's own, or in process the configured one). */
export async function signedAttestation(
  deps: SignerDeps,
  request: { audience?: string; nonce?: string },
): Promise<SignedAttestationResult> {
  const nonce = request.nonce ? { nonce: request.nonce } : {};
  return viaDaemonOr(
    deps,
    async () => {
      const answer = await requestDaemonAttestation(
        deps.socketPath,
        { ...(request.audience ? { audience: request.audience } : {}), ...nonce },
        deps.timeoutMs,
      );
      return { token: answer.token, claims: answer.claims, expiresAt: answer.expiresAt };
    },
    async () => {
      const a = await deps.attestInProcess({
        ...(request.audience ? { audience: request.audience } : {}),
        ...nonce,
      });
      return { token: a.token, claims: { ...a.claims }, expiresAt: new Date(a.expiresAt).toISOString() };
    },
  );
}

async function viaDaemonOr<T>(
  deps: SignerDeps,
  daemon: () => Promise<T>,
  inProcess: () => Promise<T>,
): Promise<T & { signedBy: SignedBy }> {
  if (deps.choice !== 'process') {
    try {
      return { ...(await daemon()), signedBy: 'daemon' };
    } catch (error) {
      if (deps.choice === 'daemon' || !isNoDaemon(error)) throw error;
      deps.onFallback(NO_DAEMON_NOTICE);
    }
  }
  return { ...(await inProcess()), signedBy: 'process' };
}
