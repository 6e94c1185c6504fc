/**
 * The verifier as an HTTP service (Fastify): enrollment, nonces, policy, forward-auth for access
 * proxies, direct verification, the admin API, health, metrics, and a decision log. This file only
 * wires routes to the named handlers in their own modules.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAdminRoutes } from './admin.js';
import { serviceContext, type ServiceContext, type ServiceDeps } from './context.js';
import { RequestDecider } from './decider.js';
import { directVerify } from './direct-verify.js';
import { enroll, rotateKey } from './enrollment.js';
import { registerForwardAuth } from './forward-auth.js';
import { problem } from './problem.js';
import { activePolicy, health, issueNonce, metricsPage, readiness } from './public-routes.js';
import { STORE_ERROR_ANSWERS, StoreError } from './store-errors.js';
import { trustedPeers } from './trusted-peers.js';

export type { ServiceDeps } from './context.js';

export function buildService(deps: ServiceDeps): FastifyInstance {
  const ctx = serviceContext(deps);
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
    routerOptions: { maxParamLength: 200 },
  });
  app.setErrorHandler(clientErrorHandler);
  app.setNotFoundHandler((_req, reply) => problem(reply, 404, 'not_found', 'No such endpoint.'));

  const decider = new RequestDecider(ctx);
  registerPublicRoutes(app, ctx);
  registerForwardAuth(app, trustedPeers(ctx.config.trustedProxies), decider);
  app.post('/v1/verify', (req, reply) => directVerify(decider, req, reply));
  registerAdminRoutes(app, ctx);
  app.get('/metrics', (req, reply) => metricsPage(ctx, req, reply));
  return app;
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
