/** `/v1/forward-auth` (and `/v1/forward-auth/*` for Envoy): the access proxies' question. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestDecider, RequestHeaders } from './decider.js';
import { sendDecision } from './decision-reply.js';
import { originalRequest } from './forwarded-request.js';
import { problem } from './problem.js';
import type { PeerCheck } from './trusted-peers.js';

const FORWARD_AUTH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export async function forwardAuth(
  isTrustedPeer: PeerCheck,
  decider: RequestDecider,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  if (!isTrustedPeer(req.socket.remoteAddress))
    return problem(
      reply,
      403,
      'untrusted_forwarder',
      'Forward-auth is answered only for configured trusted proxies.',
    );
  const o = originalRequest(req);
  if (!o)
    return problem(
      reply,
      400,
      'original_request_unknown',
      'The proxy sent no original method and URL (X-Original-Method/X-Original-URL or X-Forwarded-Method/-Proto/-Host/-Uri).',
    );
  return sendDecision(reply, await decider.decide(o.method, o.url, req.headers as RequestHeaders));
}

export function registerForwardAuth(app: FastifyInstance, isTrustedPeer: PeerCheck, decider: RequestDecider) {
  const handler = (req: FastifyRequest, reply: FastifyReply) =>
    forwardAuth(isTrustedPeer, decider, req, reply);
  app.route({ method: FORWARD_AUTH_METHODS, url: '/v1/forward-auth', handler });
  app.route({ method: FORWARD_AUTH_METHODS, url: '/v1/forward-auth/*', handler });
}
