/**
 * The verifier as an HTTP service (Fastify): enrollment, nonces, policy, forward-auth for access
 * proxies, direct verification, the admin API, health, metrics, and a decision log.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv6 } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Policy } from '../shared/policy.js';
import { AttestationCache } from '../verifier/cache.js';
import type { ReplayStore } from '../verifier/replay.js';
import type {
  Decision,
  DeviceRecord,
  VerifiedAttestation,
  VerifyOptions,
} from '../verifier/verify-request.js';
import { verifyRequest } from '../verifier/verify-request.js';
import type { ServiceConfig } from './config.js';
import { verifyKeyProof } from './key-proof.js';
import { nodeSignatures } from './node-signatures.js';
import type { DecisionEntry } from './decision-log.js';
import type { Metrics } from './metrics.js';
import type { NonceIssuer } from './nonce.js';
import type { DeviceStore, StoredDevice } from './store.js';

export interface ServiceDeps {
  config: ServiceConfig;
  store: DeviceStore;
  replay: ReplayStore & { ping?(): Promise<void> };
  nonces: NonceIssuer;
  /** The active policy; `reloadPolicy` replaces it. */
  policy(): Policy;
  reloadPolicy(): Promise<Policy>;
  metrics: Metrics;
  logDecision(entry: DecisionEntry): void;
  now?: () => number;
}

const ENROLL_TYP = 'posture-enroll+jwt';
const ROTATE_TYP = 'posture-rotate+jwt';
const SEEN_WRITE_INTERVAL_MS = 60_000;

const b64hash = (text: string) => createHash('sha256').update(text).digest('base64url');

function problem(reply: FastifyReply, status: number, error: string, message: string, extra: object = {}) {
  return reply
    .code(status)
    .type('application/json')
    .send({ error, message, ...extra });
}

export function buildService(deps: ServiceDeps): FastifyInstance {
  const { config, store } = deps;
  const now = deps.now ?? Date.now;
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
    routerOptions: { maxParamLength: 200 },
  });
  const trusted = new BlockList();
  for (const entry of config.trustedProxies) {
    const [ip, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(ip, type);
    else trusted.addSubnet(ip, Number(bits), type);
  }
  // Keyed by the peer address: the BlockList check (which builds a SocketAddress) runs once per peer.
  const trustedByAddress = new Map<string, boolean>();
  const isTrusted = (address: string | undefined) => {
    if (!address) return false;
    let known = trustedByAddress.get(address);
    if (known === undefined) {
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
      known = trusted.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
      if (trustedByAddress.size < 10_000) trustedByAddress.set(address, known);
    }
    return known;
  };
  const cache = new AttestationCache<VerifiedAttestation>();
  const lastSeenWrite = new Map<string, number>();
  const adminHashes = config.adminTokenSha256.map((h) => Buffer.from(h, 'hex'));

  // Every error a client can cause answers 4xx with a code; nothing the client sends yields a 5xx.
  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500)
      return problem(reply, 500, 'internal_error', 'The verifier failed; the request is denied.');
    const code =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'body_too_large'
        : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported_media_type'
          : 'bad_request';
    return problem(reply, status, code, error.message);
  });
  app.setNotFoundHandler((_req, reply) => problem(reply, 404, 'not_found', 'No such endpoint.'));

  const requireAdmin = async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
    const given = createHash('sha256').update(token).digest();
    if (!token || !adminHashes.some((h) => h.length === given.length && timingSafeEqual(h, given))) {
      return problem(reply, 401, 'admin_unauthorized', 'A valid admin bearer token is required.');
    }
    return undefined;
  };

  // A stored device is a DeviceRecord with more fields; verifyRequest reads only the record's.
  const lookupDevice = (kid: string): Promise<DeviceRecord | undefined> => store.deviceByKid(kid);

  // The options object is made once per policy, not once per request.
  let verifyOptions: VerifyOptions | undefined;
  const optionsFor = (policy: Policy): VerifyOptions => {
    if (verifyOptions?.policy === policy) return verifyOptions;
    verifyOptions = {
      audience: config.audience,
      lookupDevice,
      policy,
      replayStore: deps.replay,
      cache,
      now,
      ...(config.nonce.required
        ? { nonce: { required: true, verify: async (n: string, at: number) => deps.nonces.verify(n, at) } }
        : {}),
      ...(config.allowedKeyProtection ? { allowedKeyProtection: config.allowedKeyProtection } : {}),
      signatures: nodeSignatures,
    };
    return verifyOptions;
  };

  async function decide(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<Decision> {
    const started = performance.now();
    const policy = deps.policy();
    const decision = await verifyRequest({ method, url, headers }, optionsFor(policy));

    const seconds = (performance.now() - started) / 1000;
    deps.metrics.observe(decision, seconds);
    deps.logDecision({
      ts: new Date(now()).toISOString(),
      decisionId: decision.decisionId,
      device: decision.device?.id ?? null,
      allowed: decision.allowed,
      status: decision.status,
      reasons: decision.reasons.map((r) => (r.check ? `${r.code}:${r.check}` : r.code)),
      policyRevision: decision.policyRevision,
      method,
      url,
      latencyMs: Math.round(seconds * 100_000) / 100,
    });
    if (decision.device && decision.evaluation) {
      const last = lastSeenWrite.get(decision.device.id) ?? 0;
      if (now() - last >= SEEN_WRITE_INTERVAL_MS) {
        lastSeenWrite.set(decision.device.id, now());
        const failing = decision.evaluation.checks
          .filter((c) => c.verdict === 'fail' || c.verdict === 'unknown')
          .map((c) => c.check);
        await store
          .recordSeen(decision.device.id, now(), {
            overall: decision.evaluation.overall,
            failing,
            policyRevision: decision.policyRevision,
            at: now(),
          })
          .catch(() => undefined);
      }
    }
    return decision;
  }

  function sendDecision(reply: FastifyReply, d: Decision) {
    if (d.allowed && d.device) {
      // No body: proxies read only the status and headers, and nginx's auth_request does not read
      // a subrequest's body at all, so any body costs it the upstream keep-alive connection (a new
      // TCP connection to the verifier per request). Denials keep theirs: Caddy and Traefik pass
      // it to the client, so the user sees which check failed and how to fix it.
      return reply
        .code(200)
        .headers({
          'x-posture-device': d.device.id,
          'x-posture-verdict': 'pass',
          'x-posture-key-protection': d.device.keyProtection,
          'x-posture-policy-revision': d.policyRevision,
          'x-posture-decision': d.decisionId,
          'cache-control': 'no-store',
        })
        .send();
    }
    if (d.status === 401) reply.header('www-authenticate', 'PostureAttestation');
    return reply
      .code(d.status)
      .headers({
        'x-posture-decision': d.decisionId,
        'x-posture-verdict': d.status === 403 ? 'fail' : 'unauthenticated',
        'cache-control': 'no-store',
      })
      .send({
        allowed: false,
        decisionId: d.decisionId,
        policyRevision: d.policyRevision,
        reasons: d.reasons,
      });
  }

  // ---- public endpoints ----------------------------------------------------------------------

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await store.ping();
      await deps.replay.ping?.();
      return { status: 'ready' };
    } catch {
      return problem(reply, 503, 'not_ready', 'The device store or replay store cannot be reached.');
    }
  });

  app.get('/v1/nonce', async (_req, reply) => {
    const n = deps.nonces.issue(now());
    return reply
      .header('cache-control', 'no-store')
      .send({ nonce: n.nonce, expiresAt: new Date(n.expiresAt).toISOString() });
  });

  app.get('/v1/policy', async () => {
    const policy = deps.policy();
    return { revision: policy.revision, policy };
  });

  const enrollBody = z
    .object({ token: z.string().min(16).max(256), proof: z.string().min(1).max(8192) })
    .strict();
  app.post('/v1/enroll', async (req, reply) => {
    const body = enrollBody.safeParse(req.body);
    if (!body.success)
      return problem(reply, 400, 'bad_request', 'Send {"token", "proof"}.', {
        issues: body.error.issues.map((i) => i.path.join('.') || '(root)'),
      });
    const proof = await verifyKeyProof(body.data.proof, ENROLL_TYP, config.publicUrl, deps.nonces, now());
    if (!proof.ok) return problem(reply, 401, proof.error, 'The enrollment proof does not verify.');
    const c = proof.claims;
    if (c.token_hash !== b64hash(body.data.token))
      return problem(reply, 401, 'proof_token_mismatch', 'The proof was made for another token.');
    const protection = z.enum(['tpm', 'secure_enclave', 'keychain', 'file']).safeParse(c.key_protection);
    if (!protection.success)
      return problem(reply, 400, 'bad_request', 'key_protection is missing or unknown.');
    const facts = z
      .object({
        hostname: z.string().max(255).optional(),
        model: z.string().max(255).optional(),
        serial: z.string().max(255).optional(),
        os: z.string().max(255).optional(),
      })
      .safeParse(c.facts ?? {});
    const result = await store.enroll(b64hash(body.data.token), now(), {
      deviceId: `dev_${randomBytes(12).toString('base64url')}`,
      kid: proof.kid,
      jwk: proof.jwk,
      keyProtection: protection.data,
      facts: facts.success ? facts.data : {},
      enrolledAt: now(),
    });
    if (!result.ok)
      return problem(reply, 401, result.reason, 'The enrollment token is not valid: ask IT for a new one.');
    return reply.code(result.reenrolled ? 200 : 201).send({
      deviceId: result.device.deviceId,
      kid: result.device.kid,
      status: result.device.status,
      policyRevision: deps.policy().revision,
    });
  });

  const rotateBody = z
    .object({ statement: z.string().min(1).max(8192), proof: z.string().min(1).max(8192) })
    .strict();
  app.post('/v1/devices/rotate', async (req, reply) => {
    const body = rotateBody.safeParse(req.body);
    if (!body.success) return problem(reply, 400, 'bad_request', 'Send {"statement", "proof"}.');
    const proof = await verifyKeyProof(body.data.proof, ROTATE_TYP, config.publicUrl, deps.nonces, now());
    if (!proof.ok) return problem(reply, 401, proof.error, 'The new key\u2019s proof does not verify.');
    const { parseCompact, importVerifyKey, verifySignature } = await import('../verifier/tokens.js');
    const statement = parseCompact(body.data.statement);
    const oldKid = statement?.header.kid;
    if (
      !statement ||
      statement.header.alg !== 'ES256' ||
      statement.header.typ !== 'posture-key-rotation+jwt' ||
      typeof oldKid !== 'string'
    ) {
      return problem(
        reply,
        400,
        'statement_malformed',
        'The rotation statement is not a posture-key-rotation+jwt.',
      );
    }
    const device = await store.deviceByKid(oldKid);
    if (!device) return problem(reply, 401, 'device_unknown', 'No enrolled device has the old key.');
    if (device.status !== 'active')
      return problem(reply, 403, `device_${device.status}`, 'This device is not active.');
    if (!(await verifySignature(await importVerifyKey(device.jwk), statement)))
      return problem(reply, 401, 'statement_signature_invalid', 'The old key did not sign this statement.');
    if (statement.payload.new_kid !== proof.kid || statement.payload.old_kid !== oldKid)
      return problem(reply, 401, 'statement_mismatch', 'The statement names another key.');
    const protection = z
      .enum(['tpm', 'secure_enclave', 'keychain', 'file'])
      .safeParse(statement.payload.new_key_protection);
    if (!protection.success)
      return problem(reply, 400, 'bad_request', 'new_key_protection is missing or unknown.');
    if (!(await store.rotateKey(device.deviceId, oldKid, proof.jwk, proof.kid, protection.data)))
      return problem(reply, 409, 'rotation_conflict', 'The key changed meanwhile.');
    return { deviceId: device.deviceId, kid: proof.kid };
  });

  // ---- verification ----------------------------------------------------------------------------

  /** The original request, from forwarded headers set by a trusted proxy (nginx, Caddy, Traefik, Envoy). */
  const original = (req: FastifyRequest): { method: string; url: string } | undefined => {
    const h = req.headers;
    const one = (name: string) => {
      const v = h[name];
      return typeof v === 'string' && !v.includes(',') ? v : undefined;
    };
    const method = one('x-original-method') ?? one('x-forwarded-method');
    const originalUrl = one('x-original-url');
    if (method && originalUrl) return { method, url: originalUrl };
    const proto = one('x-forwarded-proto');
    const host = one('x-forwarded-host') ?? one('host');
    const uri = one('x-forwarded-uri');
    if (method && proto && host && uri) return { method, url: `${proto}://${host}${uri}` };
    // Envoy ext_authz (HTTP): the original method, and the original path after /v1/forward-auth.
    const envoyPath = req.url.startsWith('/v1/forward-auth/')
      ? req.url.slice('/v1/forward-auth'.length)
      : undefined;
    if (envoyPath && proto && host) return { method: req.method, url: `${proto}://${host}${envoyPath}` };
    return undefined;
  };

  const forwardAuth = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isTrusted(req.socket.remoteAddress))
      return problem(
        reply,
        403,
        'untrusted_forwarder',
        'Forward-auth is answered only for configured trusted proxies.',
      );
    const o = original(req);
    if (!o)
      return problem(
        reply,
        400,
        'original_request_unknown',
        'The proxy sent no original method and URL (X-Original-Method/X-Original-URL or X-Forwarded-Method/-Proto/-Host/-Uri).',
      );
    return sendDecision(
      reply,
      await decide(o.method, o.url, req.headers as Record<string, string | string[] | undefined>),
    );
  };
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/v1/forward-auth',
    handler: forwardAuth,
  });
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/v1/forward-auth/*',
    handler: forwardAuth,
  });

  const verifyBody = z
    .object({
      method: z.string().min(1).max(16),
      url: z.string().url().max(8192),
      headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
    })
    .strict();
  app.post('/v1/verify', async (req, reply) => {
    const body = verifyBody.safeParse(req.body);
    if (!body.success)
      return problem(reply, 400, 'bad_request', 'Send {"method", "url", "headers"}.', {
        issues: body.error.issues.map((i) => i.path.join('.') || '(root)'),
      });
    const d = await decide(body.data.method, body.data.url, body.data.headers);
    return reply.code(200).send(d);
  });

  // ---- admin -----------------------------------------------------------------------------------

  app.register(async (admin) => {
    admin.addHook('preHandler', requireAdmin);
    const tokenBody = z
      .object({
        label: z.string().max(200).optional(),
        ttlMinutes: z
          .number()
          .int()
          .min(1)
          .max(config.enrollment.tokenTtlMinutes * 24)
          .optional(),
      })
      .strict();
    admin.post('/v1/admin/enrollment-tokens', async (req, reply) => {
      const body = tokenBody.safeParse(req.body ?? {});
      if (!body.success)
        return problem(reply, 400, 'bad_request', 'Send {"label"?, "ttlMinutes"?}.', {
          issues: body.error.issues.map((i) => i.path.join('.') || '(root)'),
        });
      const token = randomBytes(32).toString('base64url');
      const ttl = (body.data.ttlMinutes ?? config.enrollment.tokenTtlMinutes) * 60_000;
      await store.createToken({
        hash: b64hash(token),
        ...(body.data.label ? { label: body.data.label } : {}),
        createdAt: now(),
        expiresAt: now() + ttl,
      });
      return reply.code(201).send({ token, expiresAt: new Date(now() + ttl).toISOString() });
    });
    admin.get('/v1/admin/devices', async (req, reply) => {
      const q = z
        .object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          offset: z.coerce.number().int().min(0).default(0),
        })
        .strict()
        .safeParse(req.query);
      if (!q.success)
        return problem(reply, 400, 'bad_request', 'limit must be 1–1000 and offset ≥ 0.', {
          issues: q.error.issues.map((i) => i.path.join('.')),
        });
      return { devices: (await store.listDevices(q.data)).map(publicDevice) };
    });
    admin.get('/v1/admin/devices/:id', async (req, reply) => {
      const d = await store.device((req.params as { id: string }).id);
      return d ? publicDevice(d) : problem(reply, 404, 'device_unknown', 'No such device.');
    });
    for (const [action, status] of [
      ['revoke', 'revoked'],
      ['lock', 'locked'],
      ['unlock', 'active'],
    ] as const) {
      admin.post(`/v1/admin/devices/:id/${action}`, async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const d = await store.device(id);
        if (!d) return problem(reply, 404, 'device_unknown', 'No such device.');
        if (d.status === 'revoked' && status !== 'revoked')
          return problem(
            reply,
            409,
            'device_revoked',
            'A revoked device stays revoked; enroll it again with a new token.',
          );
        await store.setStatus(id, status);
        return { deviceId: id, status };
      });
    }
    admin.post('/v1/admin/policy/reload', async (_req, reply) => {
      try {
        const p = await deps.reloadPolicy();
        return { revision: p.revision };
      } catch (error) {
        return problem(
          reply,
          422,
          (error as { code?: string }).code ?? 'policy_invalid',
          (error as Error).message,
        );
      }
    });
  });

  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.contentType).send(await deps.metrics.render()),
  );

  return app;
}

function publicDevice(d: StoredDevice) {
  return {
    deviceId: d.deviceId,
    kid: d.kid,
    keyProtection: d.keyProtection,
    status: d.status,
    label: d.label ?? null,
    facts: d.facts,
    enrolledAt: new Date(d.enrolledAt).toISOString(),
    lastSeenAt: d.lastSeenAt ? new Date(d.lastSeenAt).toISOString() : null,
    lastPosture: d.lastPosture ?? null,
  };
}
