/**
 * The verifier as an HTTP service (Fastify): enrollment, nonces, policy, forward-auth for access
 * proxies, direct verification, the admin API, health, metrics, and a decision log. This file only
 * wires routes to the named handlers in their own modules. With `adminListen` configured, the admin
 * API and /metrics are served by a second instance (`buildAdminService`) on their own address.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAdminRoutes } from './admin.js';
import { PUSH_PATH, pushAttestation } from './attestation-push.js';
import { bearerCheck } from './bearer.js';
import { acceptJsonBodiesOnly } from './body-guard.js';
import { serviceContext, type ServiceContext, type ServiceDeps } from './context.js';
import { RequestDecider } from './decider.js';
import { denialPage } from './denial-page.js';
import { DenialPages } from './denial-pages.js';
import { directVerify } from './direct-verify.js';
import { enroll, rotateKey } from './enrollment.js';
import { registerForwardAuth } from './forward-auth.js';
import { problem } from './problem.js';
import { activePolicy, health, issueNonce, metricsPage, readiness } from './public-routes.js';
import { STORE_ERROR_ANSWERS, StoreError } from './store-errors.js';
import { trustedPeers } from './trusted-peers.js';

export type { ServiceDeps } from './context.js';

function fastify(): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
    routerOptions: { maxParamLength: 200 },
  });
  app.setErrorHandler(clientErrorHandler);
  app.setNotFoundHandler((_req, reply) => problem(reply, 404, 'not_found', 'No such endpoint.'));
  acceptJsonBodiesOnly(app);
  return app;
}

/** The device- and proxy-facing service; also the admin API and /metrics unless `adminListen` is set. */
export function buildService(deps: ServiceDeps): FastifyInstance {
  const ctx = serviceContext(deps);
  const app = fastify();
  const decider = new RequestDecider(ctx);
  const peerKind = trustedPeers(ctx.config.trustedProxies);
  const pages = new DenialPages(ctx.now);
  registerPublicRoutes(app, ctx);
  registerForwardAuth(app, { peerKind, decider, pages });
  app.get('/v1/denied/:id', (req, reply) => denialPage(pages, req, reply));
  const verifyDeps = { decider, peerKind, hasVerifyToken: bearerCheck(ctx.config.verifyTokenSha256) };
  app.post('/v1/verify', (req, reply) => directVerify(verifyDeps, req, reply));
  app.post(PUSH_PATH, (req, reply) => pushAttestation({ ctx, decider }, req, reply));
  if (!ctx.config.adminListen) registerAdminAndMetrics(app, ctx);
  return app;
}

/** The admin API, /metrics and /healthz on their own listener (`adminListen`). */
export function buildAdminService(deps: ServiceDeps): FastifyInstance {
  const ctx = serviceContext(deps);
  const app = fastify();
  app.get('/healthz', health);
  registerAdminAndMetrics(app, ctx);
  return app;
}

function registerAdminAndMetrics(app: FastifyInstance, ctx: ServiceContext) {
  registerAdminRoutes(app, ctx);
  app.get('/metrics', (req, reply) => metricsPage(ctx, req, reply));
}

function registerPublicRoutes(app: FastifyInstance, ctx: ServiceContext) {
  app.get('/healthz', health);
  app.get('/readyz', (req, reply) => readiness(ctx, req, reply));
  app.get('/v1/nonce', (req, reply) => issueNonce(ctx, req, reply));
  app.get('/v1/policy', () => activePolicy(ctx));
  app.post('/v1/enroll', (req, reply) => enroll(ctx, req, reply));
  app.post('/v1/devices/rotate', (req, reply) => rotateKey(ctx, req, reply));
}

/**
 * Every error a client can cause answers 4xx with a code; nothing the client sends yields a 5xx. A
 * store's error is answered with its own code (409 key_in_use, 503 store_unavailable).
 */
function clientErrorHandler(
  error: { statusCode?: number; code?: string; message: string },
  _req: unknown,
  reply: Parameters<typeof problem>[0],
) {
  if (error instanceof StoreError) {
    const [storeStatus, storeCode, storeMessage] = STORE_ERROR_ANSWERS[error.code];
    return problem(reply, storeStatus, storeCode, storeMessage);
  }
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
}
