import { request } from 'node:http';
/**
 * A verifier service for tests, on a real store, with a real device enrolled through the API.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { signCompact } from '../../src/keys/jws.js';
import type { DeviceKey } from '../../src/keys/types.js';
import { validatePolicy, type Policy } from '../../src/shared/policy.js';
import { MemoryReplayStore } from '../../src/verifier/replay.js';
import type { ReplayStore } from '../../src/verifier/replay.js';
import { buildService } from '../../src/verifier-service/app.js';
import { parseServiceConfig, type ServiceConfig } from '../../src/verifier-service/config.js';
import { createMetrics } from '../../src/verifier-service/metrics.js';
import { createNonces } from '../../src/verifier-service/nonce.js';
import type { PushRateLimiter } from '../../src/verifier-service/push-rate.js';
import { openSqliteStore } from '../../src/verifier-service/sqlite-store.js';
import type { DeviceStore } from '../../src/verifier-service/store.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const PUBLIC_URL = 'https://posture.example.com';
export const APP_AUDIENCE = 'https://app.example.com';

export const TEST_POLICY: Policy = validatePolicy({
  version: 1,
  revision: 'service-test',
  checks: { os_version: { linux: { distros: { debian: '12' } } } },
});

/**
 * Loopback addresses the test service trusts, one per kind of proxy: a test calls forward-auth as
 * that proxy by connecting from its address (`callFrom`). Linux routes all of 127.0.0.0/8 to lo.
 */
export const PROXY_ADDRESS = {
  nginx: '127.0.0.1',
  caddy: '127.0.0.2',
  traefik: '127.0.0.3',
  envoy: '127.0.0.4',
} as const;

export function serviceConfig(extra: object = {}): ServiceConfig {
  const text = JSON.stringify({
    publicUrl: PUBLIC_URL,
    trustedProxies: Object.entries(PROXY_ADDRESS).map(([proxy, address]) => ({ address, proxy })),
    audience: [APP_AUDIENCE],
    nonce: { secrets: ['a-very-long-shared-nonce-secret-0123456789'] },
    adminTokenSha256: [createHash('sha256').update(ADMIN_TOKEN).digest('hex')],
    ...extra,
  });
  return parseServiceConfig(text, 'test config');
}

export interface Reply {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: unknown;
}

export type Caller = (o: CallOptions) => Promise<Reply>;

/** Real HTTP over loopback to a listening service (what a proxy or agent does); any header, Host included. */
export function caller(base: string, localAddress?: string): Caller {
  const { hostname, port } = new URL(base);
  return ({ method, url, headers = {}, payload }) =>
    new Promise((resolve, reject) => {
      const body =
        payload === undefined || payload === ''
          ? undefined
          : typeof payload === 'string'
            ? payload
            : JSON.stringify(payload);
      const req = request(
        {
          host: hostname,
          port,
          ...(localAddress ? { localAddress } : {}),
          method,
          path: url,
          headers: {
            ...(body !== undefined && !headers['content-type'] ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const flat = Object.fromEntries(
              Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
            );
            resolve({
              statusCode: res.statusCode ?? 0,
              headers: flat,
              body: text,
              json: () => JSON.parse(text),
            });
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
}

export interface TestService {
  app: FastifyInstance;
  call: Caller;
  /** Calls from another loopback address, e.g. PROXY_ADDRESS.caddy to be the Caddy proxy. */
  callFrom(localAddress: string): Caller;
  url: string;
  store: DeviceStore;
  decisions: object[];
  config: ServiceConfig;
  setPolicy(p: Policy): void;
}

const open: FastifyInstance[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

export async function testService(
  options: {
    store?: DeviceStore;
    replay?: ReplayStore;
    config?: ServiceConfig;
    now?: () => number;
    port?: number;
    /** The per-device push counter; default in memory from the configuration. */
    pushRate?: PushRateLimiter;
  } = {},
): Promise<TestService> {
  const store =
    options.store ?? openSqliteStore(join(mkdtempSync(join(tmpdir(), 'posture-svc-')), 'devices.db'));
  const config = options.config ?? serviceConfig();
  let policy = TEST_POLICY;
  const decisions: object[] = [];
  const app = buildService({
    config,
    store,
    replay: options.replay ?? new MemoryReplayStore(100_000),
    nonces: createNonces(config.nonce.secrets, config.nonce.ttlSeconds),
    policy: () => policy,
    reloadPolicy: async () => policy,
    metrics: createMetrics(),
    logDecision: (e) => decisions.push(e),
    ...(options.now ? { now: options.now } : {}),
    ...(options.pushRate ? { pushRate: options.pushRate } : {}),
  });
  const url = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  open.push(app);
  return {
    app,
    call: caller(url),
    callFrom: (address) => caller(url, address),
    url,
    store,
    decisions,
    config,
    setPolicy: (p) => (policy = p),
  };
}

export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export async function enrollmentToken(call: Caller, label = 'test laptop'): Promise<string> {
  const res = await call({
    method: 'POST',
    url: '/v1/admin/enrollment-tokens',
    headers: admin,
    payload: { label },
  });
  expect(res.statusCode).toBe(201);
  return (res.json() as { token: string }).token;
}

/** Enrolls a key through the HTTP API as the agent does; returns the response. */
export async function enrollKey(
  call: Caller,
  key: DeviceKey,
  token: string,
  overrides: Record<string, unknown> = {},
) {
  const nonce = (await call({ method: 'GET', url: '/v1/nonce' })).json().nonce as string;
  const proof = await signCompact(
    { alg: 'ES256', typ: 'posture-enroll+jwt', jwk: key.publicJwk },
    {
      aud: PUBLIC_URL,
      nonce,
      iat: Math.floor(Date.now() / 1000),
      token_hash: createHash('sha256').update(token).digest('base64url'),
      key_protection: key.protection,
      facts: { hostname: 'laptop-7' },
      ...overrides,
    },
    key,
  );
  return call({ method: 'POST', url: '/v1/enroll', payload: { token, proof } });
}

/** Rotates `oldKey` to `newKey` through the HTTP API as the agent does; returns the response. */
export async function rotateKeyVia(
  call: Caller,
  oldKey: DeviceKey,
  newKey: DeviceKey,
  overrides: Record<string, unknown> = {},
) {
  const statement = await signCompact(
    { alg: 'ES256', typ: 'posture-key-rotation+jwt', kid: oldKey.kid },
    {
      old_kid: oldKey.kid,
      new_kid: newKey.kid,
      new_jwk: newKey.publicJwk,
      new_key_protection: newKey.protection,
      iat: Math.floor(Date.now() / 1000),
    },
    oldKey,
  );
  const nonce = (await call({ method: 'GET', url: '/v1/nonce' })).json().nonce as string;
  const proof = await signCompact(
    { alg: 'ES256', typ: 'posture-rotate+jwt', jwk: newKey.publicJwk },
    { aud: PUBLIC_URL, nonce, iat: Math.floor(Date.now() / 1000), ...overrides },
    newKey,
  );
  return call({ method: 'POST', url: '/v1/devices/rotate', payload: { statement, proof } });
}
