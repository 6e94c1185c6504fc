/**
 * The client side of the local API socket: `GET /v1/status` for `posture status`, and
 * `POST /v1/headers` / `POST /v1/attestation` for `posture headers|run|attest` and the SDK,
 * `POST /v1/admin/enroll` / `POST /v1/admin/rotate` for `posture enroll` and `posture key rotate`.
 * No daemon there (no socket, ECONNREFUSED, not a socket): ERR_DAEMON_NOT_RUNNING, the one case a
 * client may fall back to signing in process. The daemon's own coded refusal: ERR_DAEMON_NO_ATTESTATION
 * (`no_attestation`) or ERR_DAEMON_REFUSED (any other local API code, named in `localCode`); an
 * answer that is not the contract's: ERR_DAEMON_BAD_ANSWER.
 */
import { request } from 'node:http';
import type { ZodType } from 'zod';
import type {
  AttestationRequest,
  AttestationResponse,
  EnrollRequest,
  EnrollResponse,
  HeadersRequest,
  HeadersResponse,
  LocalApiErrorCode,
  RotateRequest,
  RotateResponse,
  StatusResponse,
} from '../../shared/local-api.js';
import {
  attestationResponseSchema,
  enrollResponseSchema,
  headersResponseSchema,
  LOCAL_API_ENDPOINTS,
  LOCAL_API_VERSION,
  localApiErrorSchema,
  rotateResponseSchema,
  statusResponseSchema,
} from '../../shared/local-api.js';
import { DaemonError } from './errors.js';

const MAX_ANSWER_BYTES = 1024 * 1024;

/** The daemon answered with one of the local API's error codes. */
export class DaemonRefusal extends DaemonError {
  constructor(
    readonly localCode: LocalApiErrorCode,
    message: string,
    /** The agent core's own code when it refused (enroll, rotate): ERR_DEVICE_REVOKED, … */
    readonly agentCode?: string,
  ) {
    super(
      localCode === 'no_attestation' ? 'ERR_DAEMON_NO_ATTESTATION' : 'ERR_DAEMON_REFUSED',
      `the Posture Agent daemon refused: ${message} [${localCode}]`,
    );
  }
}

export function readDaemonStatus(socketPath: string, timeoutMs = 10_000): Promise<StatusResponse> {
  return callDaemon(
    socketPath,
    { method: 'GET', path: LOCAL_API_ENDPOINTS.status.path },
    statusResponseSchema,
    timeoutMs,
  );
}

/** Posture-Attestation and a fresh Posture-Proof for one request, signed by the daemon. */
export function requestDaemonHeaders(
  socketPath: string,
  body: Omit<HeadersRequest, 'apiVersion'>,
  timeoutMs = 10_000,
): Promise<HeadersResponse> {
  return postToDaemon(socketPath, 'headers', body, headersResponseSchema, timeoutMs);
}

/** The daemon's attestation for an audience (its own when omitted). */
export function requestDaemonAttestation(
  socketPath: string,
  body: Omit<AttestationRequest, 'apiVersion'>,
  timeoutMs = 10_000,
): Promise<AttestationResponse> {
  return postToDaemon(socketPath, 'attestation', body, attestationResponseSchema, timeoutMs);
}

/** Enrolls the device through the daemon (an administrator's request: root or adminGroups). */
export function requestDaemonEnroll(
  socketPath: string,
  body: Omit<EnrollRequest, 'apiVersion'>,
  timeoutMs = 60_000,
): Promise<EnrollResponse> {
  return postToDaemon(socketPath, 'enroll', body, enrollResponseSchema, timeoutMs);
}

/** Rotates the daemon's device key (an administrator's request). */
export function requestDaemonRotate(
  socketPath: string,
  body: Omit<RotateRequest, 'apiVersion'>,
  timeoutMs = 60_000,
): Promise<RotateResponse> {
  return postToDaemon(socketPath, 'rotate', body, rotateResponseSchema, timeoutMs);
}

function postToDaemon<T>(
  socketPath: string,
  endpoint: 'headers' | 'attestation' | 'enroll' | 'rotate',
  body: object,
  schema: ZodType<T>,
  timeoutMs: number,
): Promise<T> {
  const call = {
    method: 'POST' as const,
    path: LOCAL_API_ENDPOINTS[endpoint].path,
    body: { apiVersion: LOCAL_API_VERSION, ...body },
  };
  return callDaemon(socketPath, call, schema, timeoutMs);
}

/** Whether an error means no daemon runs (the one case a client may sign in process instead). */
export function isNoDaemon(error: unknown): boolean {
  return error instanceof DaemonError && error.code === 'ERR_DAEMON_NOT_RUNNING';
}

function callDaemon<T>(
  socketPath: string,
  call: { method: 'GET' | 'POST'; path: string; body?: object },
  schema: ZodType<T>,
  timeoutMs: number,
  fresh = false,
): Promise<T> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: call.path,
        method: call.method,
        timeout: timeoutMs,
        ...(fresh ? { agent: false } : {}),
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
        });
        res.on('end', () => {
          try {
            resolve(answerOf(res.statusCode, body, schema));
          } catch (error) {
            reject(error instanceof DaemonRefusal ? error : badAnswer(socketPath, error));
          }
        });
        res.on('error', (error) => reject(badAnswer(socketPath, error)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive connection the daemon closed meanwhile (it stopped, or restarted): ask once
      // more on a new connection, which then finds the daemon, or finds none.
      if (req.reusedSocket && !fresh && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
        callDaemon(socketPath, call, schema, timeoutMs, true).then(resolve, reject);
        return;
      }
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED' || error.code === 'ENOTSOCK')
        reject(
          new DaemonError(
            'ERR_DAEMON_NOT_RUNNING',
            `no Posture Agent daemon answers on ${socketPath} (${error.code}); start the service (systemctl start posture-agent) or run \`posture daemon\`.`,
          ),
        );
      else reject(badAnswer(socketPath, error));
    });
    req.end(payload);
  });
}

function answerOf<T>(status: number | undefined, body: string, schema: ZodType<T>): T {
  const json: unknown = JSON.parse(body);
  if (status === 200) return schema.parse(json);
  const refusal = localApiErrorSchema.safeParse(json);
  if (refusal.success)
    throw new DaemonRefusal(refusal.data.error, refusal.data.message.slice(0, 500), refusal.data.agentCode);
  throw new Error(`HTTP ${status}: ${body.slice(0, 200)}`);
}

function badAnswer(socketPath: string, error: unknown): DaemonError {
  return new DaemonError(
    'ERR_DAEMON_BAD_ANSWER',
    `the daemon on ${socketPath} did not answer as expected (${error instanceof Error ? error.message : String(error)}).`,
  );
}
