/**
 * The daemon's link to the verifier: pushes each new attestation (`POST /v1/devices/attestation`,
 * docs/protocol.md) and, while nothing new is to be pushed, pushes the current one again as the
 * heartbeat. Each request carries the attestation and a fresh proof for that request, made by the
 * function given with the attestation (its session key), so this module needs nothing of the agent
 * core: the core hands over what it made.
 *
 * - Only the latest state is kept: an attestation submitted while another waits (for a retry, or
 *   behind a request in flight) replaces it; the older one is never sent afterwards.
 * - An unreachable verifier (network error, timeout, 429, 5xx, an answer that is not the verifier's:
 *   not JSON, another shape, larger than 64 KiB — read no further) is retried with exponential backoff and jitter (half the delay fixed, half random), up to
 *   `maxBackoffMs`; a newer attestation is sent at once, and the backoff goes on from where it was.
 * - 429 (the verifier's per-device push rate, `push_rate_limited`) and 503 with Retry-After: nothing
 *   is sent before Retry-After has passed (at least the backoff; at most an hour, so a bogus value
 *   cannot silence the device), not even a newer attestation, which waits as the latest.
 * - A refusal by the verifier (another 4xx: superseded, revoked, a bad proof) is reported with its
 *   code and not retried; the next attestation or heartbeat tries again.
 * - An attestation past its expiry is dropped, never sent.
 * - Nothing is decided here: `status()` says what the verifier last answered and when, or that it
 *   could not be reached. The verifier's decision is the only verdict; none is made up locally.
 */
import { PUSH_PATH } from '../../shared/claims.js';

export interface PushableAttestation {
  /** The compact attestation (Posture-Attestation). */
  token: string;
  /** When it expires (ms since 1970): it is not sent after that. */
  expiresAt: number;
  /** A fresh proof (Posture-Proof) for one request, made by the attestation's session key. */
  proof(method: string, url: string, nowMs: number): string | Promise<string>;
}

/** The verifier's decision for the pushed attestation, as it answered it. */
export interface PushDecision {
  allowed: boolean;
  reasons: Array<{ code: string; message?: string; check?: string }>;
  decisionId: string;
  policyRevision: string;
}

export type PushOutcome =
  | { kind: 'accepted'; at: number; heartbeat: boolean; decision: PushDecision }
  /** The verifier refused this attestation (a 4xx other than 429), with its code: not retried. */
  | { kind: 'refused'; at: number; status: number; code: string }
  /** Not reached, or its answer was not the verifier's: retried after `retryInMs`. */
  | {
      kind: 'unreachable';
      at: number;
      attempt: number;
      retryInMs: number;
      /** `rate_limited`: the verifier answered 429 (its per-device push rate); retryInMs honours Retry-After. */
      reason: 'network' | 'timeout' | 'status' | 'invalid_response' | 'rate_limited';
      status?: number;
    }
  /** The attestation expired before it could be sent: dropped. */
  | { kind: 'expired'; at: number };

export interface VerifierClientOptions {
  /** The verifier's public URL (its publicUrl), e.g. https://posture.example.com. */
  serverUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
  /** In [0, 1): the jitter. */
  random?: () => number;
  /** Heartbeat interval (default 60 s). */
  heartbeatMs?: number;
  /** First retry delay (default 1 s), doubled on each failure up to maxBackoffMs (default 5 min). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per request (default 10 s). */
  requestTimeoutMs?: number;
  /** The largest answer read (default 64 KiB): the verifier's are a few hundred bytes. */
  maxBodyBytes?: number;
  /** Every outcome, for the daemon's status and logs. */
  onOutcome?(outcome: PushOutcome): void;
}

export interface VerifierClient {
  /** The attestation to push now; replaces any one still waiting. */
  submit(attestation: PushableAttestation): void;
  /** The last outcome, or undefined before the first. */
  status(): PushOutcome | undefined;
  /** Stops retries and heartbeats; resolves once a request in flight has ended. */
  stop(): Promise<void>;
}

export function createVerifierClient(options: VerifierClientOptions): VerifierClient {
  return new PushLoop(options);
}

/** The push URL for a verifier's public URL (the proof's htu). */
export function pushEndpoint(serverUrl: string): string {
  return `${serverUrl.replace(/\/+$/, '')}${PUSH_PATH}`;
}

/** Equal jitter: half of the exponential delay fixed, half random. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

class PushLoop implements VerifierClient {
  private pending: PushableAttestation | undefined;
  private current: PushableAttestation | undefined;
  private last: PushOutcome | undefined;
  private attempt = 0;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Until when the verifier asked not to be sent anything (Retry-After); a submit does not wake the wait. */
  private holdUntil = 0;
  private stopped = false;
  private readonly url: string;
  private readonly now: () => number;

  constructor(private readonly o: VerifierClientOptions) {
    this.url = pushEndpoint(o.serverUrl);
    this.now = o.now ?? Date.now;
  }

  submit(attestation: PushableAttestation): void {
    if (this.stopped) return;
    this.pending = attestation;
    this.kick();
  }

  status(): PushOutcome | undefined {
    return this.last;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeat);
    this.wake?.();
    await this.running;
  }

  private kick(): void {
    if (this.wake) {
      if (this.now() >= this.holdUntil) this.wake();
    } else this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    while (this.pending && !this.stopped) {
      const attestation = this.pending;
      if (attestation.expiresAt <= this.now()) {
        this.pending = undefined;
        this.report({ kind: 'expired', at: this.now() });
        break;
      }
      const heartbeat = attestation === this.current;
      const outcome = await this.send(attestation, heartbeat);
      if (outcome.kind === 'unreachable') {
        this.report(outcome);
        await this.sleep(outcome.retryInMs);
        this.holdUntil = 0;
        continue;
      }
      this.attempt = 0;
      // Sent: it is done unless a newer one arrived meanwhile (then the loop sends that).
      if (this.pending === attestation) this.pending = undefined;
      if (outcome.kind === 'accepted') this.current = attestation;
      this.report(outcome);
    }
    this.scheduleHeartbeat();
  }

  private scheduleHeartbeat(): void {
    clearTimeout(this.heartbeat);
    if (this.stopped || !this.current) return;
    this.heartbeat = setTimeout(() => {
      if (!this.current || this.pending) return;
      this.pending = this.current;
      this.kick();
    }, this.o.heartbeatMs ?? 60_000);
    this.heartbeat.unref?.();
  }

  private async send(a: PushableAttestation, heartbeat: boolean): Promise<PushOutcome> {
    const doFetch = this.o.fetch ?? fetch;
    const at = this.now();
    let res: Response;
    try {
      const proof = await a.proof('POST', this.url, at);
      res = await doFetch(this.url, {
        method: 'POST',
        headers: { 'posture-attestation': a.token, 'posture-proof': proof },
        signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 10_000),
      });
    } catch (error) {
      const timeout = (error as { name?: string }).name === 'TimeoutError';
      return this.retry(timeout ? 'timeout' : 'network');
    }
    const body = await boundedJson(res, this.o.maxBodyBytes ?? MAX_BODY_BYTES);
    if (res.status === 429 || res.status === 503) {
      const asked = retryAfterMs(res.headers.get('retry-after'), this.now());
      if (asked !== undefined || res.status === 429)
        return this.retry(res.status === 429 ? 'rate_limited' : 'status', res.status, asked);
    }
    if (res.status >= 500) return this.retry('status', res.status);
    if (body === TOO_LARGE) return this.retry('invalid_response', res.status);
    if (res.status === 200) {
      const decision = asDecision(body);
      return decision ? { kind: 'accepted', at, heartbeat, decision } : this.retry('invalid_response', 200);
    }
    const code = (body as { error?: unknown } | undefined)?.error;
    if (typeof code !== 'string') return this.retry('invalid_response', res.status);
    return { kind: 'refused', at, status: res.status, code };
  }

  private retry(
    reason: Extract<PushOutcome, { kind: 'unreachable' }>['reason'],
    status?: number,
    retryAfter?: number,
  ) {
    this.attempt += 1;
    const backoff = backoffDelay(
      this.attempt,
      this.o.initialBackoffMs ?? 1000,
      this.o.maxBackoffMs ?? 300_000,
      (this.o.random ?? Math.random)(),
    );
    const retryInMs = retryAfter === undefined ? backoff : Math.max(backoff, retryAfter);
    if (retryAfter !== undefined) this.holdUntil = this.now() + retryInMs;
    const outcome: PushOutcome = {
      kind: 'unreachable',
      at: this.now(),
      attempt: this.attempt,
      retryInMs,
      reason,
      ...(status !== undefined ? { status } : {}),
    };
    return outcome;
  }

  /** Waits, unless a newer attestation (or stop) wakes it first. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private report(outcome: PushOutcome): void {
    this.last = outcome;
    try {
      this.o.onOutcome?.(outcome);
    } catch {
      // A listener that fails changes nothing here.
    }
  }
}

/** The longest Retry-After honoured: a bogus value must not silence the device for days. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Retry-After (RFC 9110 §10.2.3) in milliseconds from now: delay-seconds or an HTTP-date, capped at
 * MAX_RETRY_AFTER_MS; undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/GMT$/.test(text)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/** A verifier's answer is small; anything larger is not one (and must not fill the memory). */
const MAX_BODY_BYTES = 64 * 1024;
const TOO_LARGE = Symbol('too large');

/**
 * The answer's JSON, read up to `max` bytes: `TOO_LARGE` beyond (the rest is not read: the
 * connection is cancelled), undefined when it is not JSON or the connection fails meanwhile.
 */
async function boundedJson(res: Response, max: number): Promise<unknown> {
  if (!res.body) return undefined;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        return TOO_LARGE;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function asDecision(body: unknown): PushDecision | undefined {
  const d = (body as { decision?: unknown } | undefined)?.decision as Partial<PushDecision> | undefined;
  if (
    !d ||
    typeof d.allowed !== 'boolean' ||
    !Array.isArray(d.reasons) ||
    typeof d.decisionId !== 'string' ||
    typeof d.policyRevision !== 'string'
  )
    return undefined;
  return {
    allowed: d.allowed,
    reasons: d.reasons as PushDecision['reasons'],
    decisionId: d.decisionId,
    policyRevision: d.policyRevision,
  };
}
