/**
 * The local API over HTTP on a Unix socket (Linux, macOS): never a TCP port. The contract is
 * src/shared/local-api.ts; this file is the transport. It knows nothing of the agent core: the
 * daemon passes its handlers in. Each connection's peer is identified once, from the kernel
 * (peer-credentials*.ts); administrator endpoints refuse anyone else with `forbidden`.
 *
 * Hostile input cannot stall it: bodies are capped (`message_too_large` before reading them
 * when Content-Length says so, else while reading), a request must arrive whole within
 * requestTimeoutMs, connections and status streams are capped, re-check requests are rate limited
 * per user, and a handler's failure is answered as `unavailable` without its stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type {
  AttestationRequest,
  AttestationResponse,
  Caller,
  DaemonStatus,
  EnrollRequest,
  EnrollResponse,
  HeadersRequest,
  HeadersResponse,
  LocalApiEndpoint,
  LocalApiError,
  LocalApiErrorCode,
  RecheckRequest,
  RecheckResponse,
  ReloadResponse,
  RotateRequest,
  RotateResponse,
} from '../../shared/local-api.js';
import {
  bodyVersion,
  LOCAL_API_ENDPOINTS,
  LOCAL_API_ERROR_STATUS,
  LOCAL_API_LIMITS,
  LOCAL_API_REQUEST_SCHEMAS,
  LOCAL_API_VERSION,
  pathVersion,
  SUPPORTED_LOCAL_API_VERSIONS,
} from '../../shared/local-api.js';
import { DaemonError, LocalApiFailure } from './errors.js';
import type { PeerIdentity, ResolvePeer } from './peer-credentials.js';
import { createTokenBuckets } from './rate-limit.js';
import { assertSafeSocketDir, clearStaleSocket, setSocketAccess } from './socket-path.js';
import { createStatusStreams } from './status-stream.js';

/** What the daemon does for each endpoint; the server only routes, checks and answers. */
export interface LocalApiHandlers {
  status(): DaemonStatus;
  recheck(request: RecheckRequest): Promise<Omit<RecheckResponse, 'apiVersion'>>;
  enroll(request: EnrollRequest): Promise<Omit<EnrollResponse, 'apiVersion'>>;
  rotate(request: RotateRequest): Promise<Omit<RotateResponse, 'apiVersion'>>;
  reload(): Promise<Omit<ReloadResponse, 'apiVersion'>>;
  /** The device's attestation for an audience (any local user: it speaks for the device). */
  attestation(request: AttestationRequest, who: Asker): Promise<Omit<AttestationResponse, 'apiVersion'>>;
  /** Posture-Attestation and a fresh Posture-Proof for one request. */
  headers(request: HeadersRequest, who: Asker): Promise<Omit<HeadersResponse, 'apiVersion'>>;
}

/** Who asked, and the key their per-user limits are kept under. */
export interface Asker {
  caller: Caller;
  userKey: string;
}

export interface LocalApiServerOptions {
  socketPath: string;
  /** Mode of the socket file; 0o666 lets every local user connect (identity comes from the kernel). */
  socketMode?: number;
  socketOwner?: { uid?: number; gid?: number };
  resolvePeer: ResolvePeer;
  isAdministrator: (identity: PeerIdentity) => boolean;
  handlers: LocalApiHandlers;
  now?: () => number;
  /** Overrides of LOCAL_API_LIMITS (tests use smaller ones). */
  limits?: Partial<typeof LOCAL_API_LIMITS>;
}

export interface LocalApiServer {
  listen(): Promise<void>;
  /** Sends a status change to every subscriber of /v1/events. */
  publishStatus(status: DaemonStatus): void;
  close(): Promise<void>;
}

export function createLocalApiServer(options: LocalApiServerOptions): LocalApiServer {
  const limits = { ...LOCAL_API_LIMITS, ...options.limits };
  const peers = new WeakMap<Socket, Promise<PeerIdentity>>();
  const rechecks = createTokenBuckets({
    burst: limits.recheckBurst,
    refillMs: limits.recheckRefillMs,
    now: options.now ?? Date.now,
  });
  const streams = createStatusStreams({
    maxStreams: limits.maxStreams,
    maxStreamsPerKey: limits.maxStreamsPerUser,
  });
  // The peer is looked up when its first request arrives (not on connect), at most a few at a time,
  // and remembered for the connection: a flood of connections cannot start a flood of lookups.
  const resolvePeer = limitConcurrency(options.resolvePeer, MAX_PEER_LOOKUPS);
  const signs = createTokenBuckets({
    burst: limits.signBurst,
    refillMs: limits.signRefillMs,
    now: options.now ?? Date.now,
  });
  const context: RequestContext = { options, limits, peers, rechecks, signs, streams, resolvePeer };
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      // How often node:http looks for requests past their timeout (its default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.floor(limits.requestTimeoutMs / 4)),
    },
    (request, response) => {
      handleRequest(context, request, response).catch(() =>
        sendError(response, 'unavailable', 'request failed'),
      );
    },
  );
  server.maxConnections = limits.maxConnections;

  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return {
    listen: () => listenOnSocket(server, options),
    publishStatus: (status) => streams.publish(status),
    close: () => closeServer(server, streams.closeAll),
  };
}

const MAX_PEER_LOOKUPS = 4;

interface RequestContext {
  resolvePeer: ResolvePeer;
  options: LocalApiServerOptions;
  limits: typeof LOCAL_API_LIMITS;
  peers: WeakMap<Socket, Promise<PeerIdentity>>;
  rechecks: ReturnType<typeof createTokenBuckets>;
  signs: ReturnType<typeof createTokenBuckets>;
  streams: ReturnType<typeof createStatusStreams>;
}

async function listenOnSocket(server: Server, options: LocalApiServerOptions): Promise<void> {
  if (/^\\\\[.?]\\pipe\\/i.test(options.socketPath)) {
    // node:http could listen on a named pipe, but with the default security descriptor (read-only
    // for Everyone: unprivileged clients cannot write) and no way to learn the client's identity.
    // Both need native code (docs/local-api.md, "Windows"); refuse rather than run half-safe.
    throw new DaemonError(
      'ERR_TRANSPORT_UNSUPPORTED',
      `named pipes are not supported yet: ${options.socketPath}`,
    );
  }
  await assertSafeSocketDir(options.socketPath);
  await clearStaleSocket(options.socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await setSocketAccess(options.socketPath, { mode: options.socketMode ?? 0o666, ...options.socketOwner });
}

function closeServer(server: Server, closeStreams: () => void): Promise<void> {
  closeStreams();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function route(method: string, path: string): { endpoint?: LocalApiEndpoint; wrongMethod: boolean } {
  for (const [name, spec] of Object.entries(LOCAL_API_ENDPOINTS)) {
    if (spec.path !== path) continue;
    return spec.method === method
      ? { endpoint: name as LocalApiEndpoint, wrongMethod: false }
      : { wrongMethod: true };
  }
  return { wrongMethod: false };
}

async function handleRequest(
  context: RequestContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const version = pathVersion(path);
  if (version !== null && !SUPPORTED_LOCAL_API_VERSIONS.includes(version)) {
    return sendError(response, 'unsupported_version', `API version ${version} is not spoken here`);
  }
  const { endpoint, wrongMethod } = route(request.method ?? '', path);
  if (wrongMethod)
    return sendError(response, 'method_not_allowed', `${request.method} is not allowed on ${path}`);
  if (!endpoint) return sendError(response, 'unknown_endpoint', `no endpoint ${path}`);

  let lookup = context.peers.get(request.socket);
  if (!lookup) {
    lookup = context.resolvePeer(request.socket);
    context.peers.set(request.socket, lookup);
  }
  const identity = await lookup;
  const caller: Caller = {
    uid: identity.identified ? identity.uid : null,
    administrator: context.options.isAdministrator(identity),
  };
  if (LOCAL_API_ENDPOINTS[endpoint].access === 'administrator' && !caller.administrator) {
    return sendError(response, 'forbidden', `${path} is for administrators; run it with sudo`);
  }
  const userKey = caller.uid === null ? 'unidentified' : `uid:${caller.uid}`;
  const { handlers } = context.options;

  switch (endpoint) {
    case 'status':
      return sendJson(response, 200, { apiVersion: LOCAL_API_VERSION, status: handlers.status(), caller });
    case 'events':
      if (!context.streams.subscribe(response, userKey, handlers.status())) {
        sendError(response, 'rate_limited', 'too many open status streams');
      }
      return;
    default:
      break;
  }

  const body = await readBody(request, response, context.limits);
  if (body === undefined) return;
  const parsed = parseBody(endpoint, body);
  if ('error' in parsed) return sendError(response, parsed.error, parsed.message, parsed.extra);

  if (endpoint === 'recheck') {
    const waitMs = context.rechecks.take(userKey);
    if (waitMs > 0) {
      return sendError(response, 'rate_limited', 'too many re-check requests', { retryAfterMs: waitMs });
    }
  }
  if (endpoint === 'attestation' || endpoint === 'headers') {
    const waitMs = context.signs.take(userKey);
    if (waitMs > 0) {
      return sendError(response, 'rate_limited', 'too many signing requests', { retryAfterMs: waitMs });
    }
  }
  await callHandler(response, () => dispatch(handlers, endpoint, parsed.value, { caller, userKey }));
}

function dispatch(
  handlers: LocalApiHandlers,
  endpoint: LocalApiEndpoint,
  value: unknown,
  who: Asker,
): Promise<object> {
  switch (endpoint) {
    case 'attestation':
      return handlers.attestation(value as AttestationRequest, who);
    case 'headers':
      return handlers.headers(value as HeadersRequest, who);
    case 'recheck':
      return handlers.recheck(value as RecheckRequest);
    case 'enroll':
      return handlers.enroll(value as EnrollRequest);
    case 'rotate':
      return handlers.rotate(value as RotateRequest);
    default:
      return handlers.reload();
  }
}

async function callHandler(response: ServerResponse, run: () => Promise<object>): Promise<void> {
  let result: object;
  try {
    result = await run();
  } catch (error) {
    if (error instanceof LocalApiFailure)
      return sendError(response, error.code, error.message, {
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        ...(error.agentCode !== undefined ? { agentCode: error.agentCode } : {}),
      });
    return sendError(response, 'unavailable', 'the daemon could not do this now; see its log');
  }
  sendJson(response, 200, { apiVersion: LOCAL_API_VERSION, ...result });
}

type Parsed =
  { value: unknown } | { error: LocalApiErrorCode; message: string; extra?: Partial<LocalApiError> };

function parseBody(endpoint: LocalApiEndpoint, text: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'malformed_request', message: 'the body is not JSON' };
  }
  const claimed = bodyVersion(json);
  if (claimed !== undefined && claimed !== LOCAL_API_VERSION) {
    return {
      error: 'unsupported_version',
      message: `apiVersion ${JSON.stringify(claimed).slice(0, 20)} is not spoken here`,
      extra: { supportedVersions: [...SUPPORTED_LOCAL_API_VERSIONS] },
    };
  }
  const schema = LOCAL_API_REQUEST_SCHEMAS[endpoint as keyof typeof LOCAL_API_REQUEST_SCHEMAS];
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      error: 'malformed_request',
      message: `${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}`,
    };
  }
  return { value: result.data };
}

/**
 * Reads a body of at most maxRequestBytes; answers message_too_large itself and returns undefined.
 * A body that does not arrive within requestTimeoutMs ends the connection (node:http's own
 * requestTimeout covers the headers, not a body still trickling in once the handler runs).
 */
function readBody(
  request: IncomingMessage,
  response: ServerResponse,
  limits: { maxRequestBytes: number; requestTimeoutMs: number },
): Promise<string | undefined> {
  const max = limits.maxRequestBytes;
  const declared = Number(request.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > max) {
    sendError(response, 'message_too_large', `the body is larger than ${max} bytes`, {}, true);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const deadline = setTimeout(() => {
      if (done) return;
      done = true;
      request.socket.destroy();
      resolve(undefined);
    }, limits.requestTimeoutMs);
    request.once('close', () => clearTimeout(deadline));
    request.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        done = true;
        sendError(response, 'message_too_large', `the body is larger than ${max} bytes`, {}, true);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', () => {
      if (done) return;
      done = true;
      resolve(undefined);
    });
  });
}

function sendJson(response: ServerResponse, status: number, body: object, close = false): void {
  if (response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(text);
  // The rest of an oversized body is not read: close the connection rather than drain it.
  if (close) response.once('finish', () => response.socket?.destroySoon());
}

function sendError(
  response: ServerResponse,
  code: LocalApiErrorCode,
  message: string,
  extra: Partial<LocalApiError> = {},
  close = false,
): void {
  const body: LocalApiError = { apiVersion: LOCAL_API_VERSION, error: code, message, ...extra };
  sendJson(response, LOCAL_API_ERROR_STATUS[code], body, close);
}

/** Runs at most `max` lookups at once; the others wait their turn. */
function limitConcurrency(resolve: ResolvePeer, max: number): ResolvePeer {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (socket) => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await resolve(socket);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
