/**
 * The local API between the agent service (daemon) and its local clients (tray, CLI, SDK):
 * versioned, typed messages defined once, so every side uses the same types. Transport-free:
 * the Unix-socket HTTP server lives in src/agent/daemon/, this file holds only the contract.
 * Documented in docs/local-api.md; change both together.
 *
 * Rules that every transport applies:
 * - the version is in the path (`/v1/…`) and in every body (`apiVersion: 1`); any other version
 *   gets `unsupported_version`, never a best-effort answer;
 * - a request body is at most LOCAL_API_LIMITS.maxRequestBytes of JSON, else `message_too_large`;
 * - reading status, subscribing to status changes and asking for a re-check are for any local
 *   user; enrolling, rotating the device key and reloading settings are for administrators.
 */
import { z } from 'zod';
import { CHECK_IDS } from './posture.js';

export const LOCAL_API_VERSION = 1 as const;
export const SUPPORTED_LOCAL_API_VERSIONS: readonly number[] = [LOCAL_API_VERSION];

export const LOCAL_API_LIMITS: Readonly<{
  maxRequestBytes: number;
  maxHeaderBytes: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxStreams: number;
  maxStreamsPerUser: number;
  recheckBurst: number;
  recheckRefillMs: number;
  signBurst: number;
  signRefillMs: number;
  freshSignBurst: number;
  freshSignRefillMs: number;
  maxAudiences: number;
  minRemainingMs: number;
}> = {
  /** Largest request body accepted, in bytes. Every request fits in far less. */
  maxRequestBytes: 16 * 1024,
  /** Largest request header block, in bytes (node:http `maxHeaderSize`). */
  maxHeaderBytes: 8 * 1024,
  /** A request must arrive whole within this time, or the connection is closed. */
  requestTimeoutMs: 5_000,
  /** Open connections at once (status streams included). */
  maxConnections: 64,
  /** Open status streams at once, in all, and per local user. */
  maxStreams: 32,
  maxStreamsPerUser: 8,
  /** Re-check requests a user may make: a bucket of `burst`, refilled one per `refillMs`. */
  recheckBurst: 3,
  recheckRefillMs: 10_000,
  /** Headers and attestation requests a user may make (each a proof or a copy: cheap): 100 at once, then 100/s. */
  signBurst: 100,
  signRefillMs: 10,
  /** Fresh device-key signatures a user may cause (another audience, a nonce): 5 at once, then 1 per 2 s. */
  freshSignBurst: 5,
  freshSignRefillMs: 2_000,
  /** Attestations for audiences other than the daemon's own kept at once (oldest dropped first). */
  maxAudiences: 16,
  /** An attestation with less than this left is never handed out (the renewal is overdue). */
  minRemainingMs: 15_000,
};
Object.freeze(LOCAL_API_LIMITS);
export type LocalApiLimits = typeof LOCAL_API_LIMITS;

/** Error codes of the local API: a closed union, each with its HTTP status. */
export const LOCAL_API_ERROR_STATUS = {
  /** The body is not JSON, or not the shape this endpoint takes. */
  malformed_request: 400,
  /** A version in the path or body that this daemon does not speak. */
  unsupported_version: 400,
  /** No such endpoint. */
  unknown_endpoint: 404,
  /** The endpoint exists, with another method. */
  method_not_allowed: 405,
  /** The caller is not an administrator (or could not be identified) and the action needs one. */
  forbidden: 403,
  /** The body is larger than LOCAL_API_LIMITS.maxRequestBytes. */
  message_too_large: 413,
  /** Too many re-check requests, or too many status streams, from this user. */
  rate_limited: 429,
  /** The daemon could not do it now (still starting, verifier unreachable, handler failed). */
  unavailable: 503,
  /**
   * The daemon holds no attestation it may hand out: still starting, no audience and not enrolled,
   * the device key cannot sign, the posture changed and was not signed again, or the renewal is
   * overdue. Never answered with an empty or stale attestation instead.
   */
  no_attestation: 503,
} as const;
export type LocalApiErrorCode = keyof typeof LOCAL_API_ERROR_STATUS;
export const LOCAL_API_ERROR_CODES = Object.keys(LOCAL_API_ERROR_STATUS) as LocalApiErrorCode[];

export const localApiErrorSchema = z
  .object({
    apiVersion: z.literal(LOCAL_API_VERSION),
    error: z.enum(LOCAL_API_ERROR_CODES as [LocalApiErrorCode, ...LocalApiErrorCode[]]),
    /** A sentence a person can read. */
    message: z.string(),
    /** unsupported_version: the versions this daemon speaks. */
    supportedVersions: z.array(z.number().int()).optional(),
    /** rate_limited: when to try again. */
    retryAfterMs: z.number().int().nonnegative().optional(),
    /**
     * unavailable, when the agent core refused (enroll, rotate): its stable code, e.g.
     * `ERR_DEVICE_REVOKED`, so a client shows the same outcome (and exit code) as in-process work.
     */
    agentCode: z
      .string()
      .regex(/^ERR_[A-Z0-9_]{1,60}$/)
      .optional(),
  })
  .strict();
export type LocalApiError = z.infer<typeof localApiErrorSchema>;

/** What made the daemon re-check: the event sources of docs/daemon.md, the schedule, or a client. */
export const TRIGGER_SOURCES = [
  'startup',
  'schedule',
  'firewall_ruleset',
  'sleep',
  'wake',
  'network',
  'file_change',
  'clock_jump',
  'request',
  'reload',
] as const;
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];

const checkId = z.enum(CHECK_IDS);

/** What became of a push to the verifier (docs/daemon.md, push and supersede). */
export const PUSH_OUTCOMES = ['accepted', 'refused', 'unreachable', 'expired'] as const;
const isoTime = z.iso.datetime({ offset: true });

const checkStatusSchema = z
  .object({
    check: checkId,
    verdict: z.enum(['pass', 'fail', 'unknown', 'not_applicable']),
    /** The policy's stable code ("firewall_off", …), docs/policy.md. */
    code: z.string(),
    reason: z.string(),
    remediation: z.string().optional(),
    /** When the probe observed what the verdict rests on. */
    observedAt: isoTime,
  })
  .strict();

/** What the daemon last observed and decided, and from when. */
export const daemonStatusSchema = z
  .object({
    /** starting: nothing observed yet; running; degraded: running, but something needs attention. */
    state: z.enum(['starting', 'running', 'degraded']),
    startedAt: isoTime,
    agentVersion: z.string(),
    /** The last evaluation; null until the first re-check ends. */
    posture: z
      .object({
        overall: z.enum(['pass', 'fail', 'unknown']),
        policyRevision: z.string(),
        evaluatedAt: isoTime,
        checks: z.array(checkStatusSchema),
      })
      .strict()
      .nullable(),
    /** The last re-check: what triggered it, which checks it re-probed, when it ended. */
    lastRecheck: z
      .object({ trigger: z.enum(TRIGGER_SOURCES), checks: z.array(checkId), finishedAt: isoTime })
      .strict()
      .nullable(),
    /** The attestation the daemon presents now; null when it has none. */
    attestation: z.object({ issuedAt: isoTime, expiresAt: isoTime }).strict().nullable(),
    enrollment: z
      .object({
        enrolled: z.boolean(),
        deviceId: z.string().optional(),
        keyProtection: z.string().optional(),
      })
      .strict(),
    /**
     * The verifier this device is enrolled with, what it answered the daemon's last push, and the last
     * decision it made on a pushed posture (what the proxy decides now, as long as nothing newer came).
     * Absent until the daemon has pushed to a verifier (not enrolled, or starting).
     */
    verifier: z
      .object({
        url: z.string(),
        lastPush: z
          .object({
            at: isoTime,
            outcome: z.enum(PUSH_OUTCOMES),
            heartbeat: z.boolean().optional(),
            /** refused: the verifier's code (attestation_superseded, device_revoked, …). */
            code: z.string().optional(),
            /** unreachable: why (network, timeout, status, invalid_response, rate_limited). */
            reason: z.string().optional(),
            httpStatus: z.number().int().optional(),
            /** unreachable: when the daemon tries again. */
            retryInMs: z.number().int().nonnegative().optional(),
          })
          .strict(),
        lastDecision: z
          .object({
            at: isoTime,
            allowed: z.boolean(),
            /** `code` or `code:check`, as the verifier's decision log has them. */
            reasons: z.array(z.string()),
            decisionId: z.string().optional(),
            policyRevision: z.string().optional(),
          })
          .strict()
          .nullable(),
      })
      .strict()
      .optional(),
    /** Problems worth showing a person ("verifier unreachable since …"), as stable codes + text. */
    problems: z.array(z.object({ code: z.string(), message: z.string(), since: isoTime }).strict()),
  })
  .strict();
export type DaemonStatus = z.infer<typeof daemonStatusSchema>;

/** Who asked, as the daemon established it from the kernel (docs/local-api.md, "Who is asking"). */
export const callerSchema = z
  .object({ uid: z.number().int().nonnegative().nullable(), administrator: z.boolean() })
  .strict();
export type Caller = z.infer<typeof callerSchema>;

const version = z.literal(LOCAL_API_VERSION);

export const statusResponseSchema = z
  .object({ apiVersion: version, status: daemonStatusSchema, caller: callerSchema })
  .strict();
export type StatusResponse = z.infer<typeof statusResponseSchema>;

/** One server-sent event on /v1/events (`event: status`, `data:` this object as JSON). */
export const statusEventSchema = z
  .object({ apiVersion: version, sequence: z.number().int().nonnegative(), status: daemonStatusSchema })
  .strict();
export type StatusEvent = z.infer<typeof statusEventSchema>;

export const recheckRequestSchema = z
  .object({
    apiVersion: version,
    /** The checks to re-probe; omitted: all of them. */
    checks: z.array(checkId).min(1).max(CHECK_IDS.length).optional(),
  })
  .strict();
export type RecheckRequest = z.infer<typeof recheckRequestSchema>;

export const recheckResponseSchema = z
  .object({
    apiVersion: version,
    /** true: joined a re-check already queued for these checks instead of starting another. */
    coalesced: z.boolean(),
    checks: z.array(checkId),
  })
  .strict();
export type RecheckResponse = z.infer<typeof recheckResponseSchema>;

export const enrollRequestSchema = z
  .object({
    apiVersion: version,
    /** One-time enrollment token from the verifier's admin. */
    token: z.string().min(1).max(4096),
    /** Overrides the configured verifier for this enrollment (managed settings still win). */
    verifierUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    /**
     * When the verifier says the device key is revoked (and keeps the token unused): make a new key
     * and enroll it. Default true (the tray's flow); `posture enroll` sends its --new-key-if-revoked.
     */
    newKeyIfRevoked: z.boolean().optional(),
  })
  .strict();
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const enrollResponseSchema = z
  .object({ apiVersion: version, deviceId: z.string(), keyProtection: z.string() })
  .strict();
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const rotateRequestSchema = z
  .object({
    apiVersion: version,
    /** The current key is lost or revoked: a new key without a rotation statement (enroll again). */
    forceNew: z.boolean().optional(),
  })
  .strict();
export type RotateRequest = z.infer<typeof rotateRequestSchema>;
export const rotateResponseSchema = z
  .object({
    apiVersion: version,
    keyId: z.string(),
    /** Where the new key is kept (tpm, keychain, file, …); absent from daemons before it was added. */
    keyProtection: z.string().optional(),
    /** Why the verifier was not told yet, when it was not (the previous key is kept until it is). */
    notSent: z.string().optional(),
  })
  .strict();
export type RotateResponse = z.infer<typeof rotateResponseSchema>;

export const reloadRequestSchema = z.object({ apiVersion: version }).strict();
export type ReloadRequest = z.infer<typeof reloadRequestSchema>;
export const reloadResponseSchema = z
  .object({ apiVersion: version, reloadedAt: isoTime, changed: z.array(z.string()) })
  .strict();
export type ReloadResponse = z.infer<typeof reloadResponseSchema>;

/*
 * Signing for local clients (`posture headers|run|attest`, the SDK): the attestation speaks for the
 * device, not for the user asking, so any local user may ask; the device key never leaves the daemon.
 */

/** Control characters (C0, DEL, C1) and whitespace: never in a URL or nonce the daemon signs for. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE_TEXT = /[\s\u0000-\u001f\u007f-\u009f]/u;

/**
 * A URL the daemon signs for: absolute http(s), with a host, no user name or password, no control
 * characters or whitespace. The CLI checks its --url and --aud with the same function.
 */
export function isSignableUrl(text: string): boolean {
  if (text.length === 0 || text.length > MAX_SIGNED_URL_LENGTH || UNSAFE_TEXT.test(text)) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === ''
  );
}
export const MAX_SIGNED_URL_LENGTH = 8192;

const signableUrl = z
  .string()
  .max(MAX_SIGNED_URL_LENGTH)
  .refine(isSignableUrl, 'an absolute http(s) URL without credentials, whitespace or control characters');
const audienceUrl = signableUrl.refine((u) => u.length <= 2048, 'at most 2048 characters');
/** An HTTP method (an RFC 9110 token of at most 16 characters), as sent; the proof carries it upper-cased. */
export const HTTP_METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}$/u;
const httpMethod = z.string().regex(HTTP_METHOD, 'an HTTP method');

export const attestationRequestSchema = z
  .object({
    apiVersion: version,
    /** The audience; omitted: the daemon's own (its configured audience, else its verifier). */
    audience: audienceUrl.optional(),
    /** A verifier nonce to include (eat_nonce): always a fresh signature, never cached. */
    nonce: z
      .string()
      .min(1)
      .max(512)
      .refine((n) => !UNSAFE_TEXT.test(n), 'no whitespace or control characters')
      .optional(),
  })
  .strict();
export type AttestationRequest = z.infer<typeof attestationRequestSchema>;

export const attestationResponseSchema = z
  .object({
    apiVersion: version,
    /** The attestation (a JWT signed by the device key). */
    token: z.string().min(1),
    audience: z.string(),
    issuedAt: isoTime,
    expiresAt: isoTime,
    /** The token's claims, as signed. */
    claims: z.record(z.string(), z.unknown()),
  })
  .strict();
export type AttestationResponse = z.infer<typeof attestationResponseSchema>;

export const headersRequestSchema = z
  .object({
    apiVersion: version,
    method: httpMethod,
    /** The request URL: the proof is bound to it (without query and fragment, RFC 9449 htu). */
    url: signableUrl,
    /** The audience; omitted: the daemon's own. */
    audience: audienceUrl.optional(),
  })
  .strict();
export type HeadersRequest = z.infer<typeof headersRequestSchema>;

export const headersResponseSchema = z
  .object({
    apiVersion: version,
    /** Posture-Attestation and a fresh Posture-Proof for this method and URL. */
    headers: z
      .object({ 'Posture-Attestation': z.string().min(1), 'Posture-Proof': z.string().min(1) })
      .strict(),
    audience: z.string(),
    issuedAt: isoTime,
    expiresAt: isoTime,
  })
  .strict();
export type HeadersResponse = z.infer<typeof headersResponseSchema>;

export type LocalApiAccess = 'any_local_user' | 'administrator';

/** The endpoints, once: the server routes by this table and the docs list it. */
export const LOCAL_API_ENDPOINTS = {
  status: { method: 'GET', path: '/v1/status', access: 'any_local_user' },
  events: { method: 'GET', path: '/v1/events', access: 'any_local_user' },
  recheck: { method: 'POST', path: '/v1/recheck', access: 'any_local_user' },
  enroll: { method: 'POST', path: '/v1/admin/enroll', access: 'administrator' },
  rotate: { method: 'POST', path: '/v1/admin/rotate', access: 'administrator' },
  reload: { method: 'POST', path: '/v1/admin/reload', access: 'administrator' },
  attestation: { method: 'POST', path: '/v1/attestation', access: 'any_local_user' },
  headers: { method: 'POST', path: '/v1/headers', access: 'any_local_user' },
} as const satisfies Record<string, { method: 'GET' | 'POST'; path: string; access: LocalApiAccess }>;
export type LocalApiEndpoint = keyof typeof LOCAL_API_ENDPOINTS;

/** The request body schema of each POST endpoint. */
export const LOCAL_API_REQUEST_SCHEMAS = {
  recheck: recheckRequestSchema,
  enroll: enrollRequestSchema,
  rotate: rotateRequestSchema,
  reload: reloadRequestSchema,
  attestation: attestationRequestSchema,
  headers: headersRequestSchema,
} as const;

/**
 * The version a path asks for: `/v1/status` → 1, `/v7/x` → 7, anything else → null.
 * Lets a transport answer `unsupported_version` for `/v2/…` instead of `unknown_endpoint`.
 */
export function pathVersion(path: string): number | null {
  const match = /^\/v(\d{1,6})(?:\/|$)/.exec(path);
  return match?.[1] ? Number.parseInt(match[1], 10) : null;
}

/** The version a JSON body claims, when it claims one. */
export function bodyVersion(body: unknown): unknown {
  return typeof body === 'object' && body !== null && 'apiVersion' in body
    ? (body as { apiVersion: unknown }).apiVersion
    : undefined;
}
