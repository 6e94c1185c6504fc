/** `/v1/forward-auth` (and `/v1/forward-auth/*` for Envoy): the access proxies' question. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestDecider, RequestHeaders } from './decider.js';
import { sendDecision, sendRefusal } from './decision-reply.js';
import { wantsHtml } from './denial-page.js';
import type { DenialPages } from './denial-pages.js';
import { FORWARD_AUTH_PATH, originalRequest, type ForwardedFailure } from './forwarded-request.js';
import { problem } from './problem.js';
import type { PeerKinds } from './trusted-peers.js';

const FORWARD_AUTH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface ForwardAuthDeps {
  peerKind: PeerKinds;
  decider: RequestDecider;
  pages: DenialPages;
}

const REFUSALS: Record<ForwardedFailure['code'], [number, string]> = {
  original_request_unknown: [
    400,
    'The proxy sent no original method and URL: check the proxy configuration against docs/verifier-service.md for its kind.',
  ],
  forwarded_header_repeated: [400, 'A forwarded header came more than once.'],
  forwarded_request_invalid: [
    400,
    'The original request could not be read: its method, scheme, host or path is malformed.',
  ],
  path_not_canonical: [
    403,
    'The address is not in canonical form (dot segments, encoded dots, slashes or backslashes, or an empty segment). Open the address without them.',
  ],
};

export async function forwardAuth(deps: ForwardAuthDeps, req: FastifyRequest, reply: FastifyReply) {
  const kind = deps.peerKind(req.socket.remoteAddress);
  if (!kind)
    return problem(
      reply,
      403,
      'untrusted_forwarder',
      'Forward-auth is answered only for configured trusted proxies.',
    );
  const html = wantsHtml(req.headers.accept);
  const o = originalRequest(kind, {
    method: req.method,
    url: req.raw.url ?? req.url,
    rawHeaders: req.raw.rawHeaders,
  });
  if (!o.ok) {
    const [status, message] = REFUSALS[o.code];
    const text = o.part ? `${message} (${o.part})` : message;
    const refusal = deps.decider.refuse(o.code, status, text, req.method, req.raw.url ?? req.url);
    if (status === 401 || status === 403)
      deps.pages.remember(refusal.decisionId, status, [{ code: o.code, message: text }]);
    return sendRefusal(reply, refusal, html);
  }
  const d = await deps.decider.decide(o.method, o.url, req.headers as RequestHeaders);
  if (!d.allowed) deps.pages.remember(d.decisionId, d.status, d.reasons);
  return sendDecision(reply, d, html);
}

export function registerForwardAuth(app: FastifyInstance, deps: ForwardAuthDeps) {
  const handler = (req: FastifyRequest, reply: FastifyReply) => forwardAuth(deps, req, reply);
  app.route({ method: FORWARD_AUTH_METHODS, url: FORWARD_AUTH_PATH, handler });
  app.route({ method: FORWARD_AUTH_METHODS, url: `${FORWARD_AUTH_PATH}/*`, handler });
}
