/** A decision as a forward-auth answer: what nginx, Caddy, Traefik and Envoy read. */
import type { FastifyReply } from 'fastify';
import type { Decision } from '../verifier/verify-request.js';
import type { Refusal } from './decider.js';
import { DENIAL_PAGE_HEADERS, renderDenial } from './denial-page.js';

export function sendDecision(reply: FastifyReply, d: Decision, html: boolean) {
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
  reply.code(d.status).headers({
    'x-posture-decision': d.decisionId,
    'x-posture-verdict': d.status === 403 ? 'fail' : 'unauthenticated',
    'cache-control': 'no-store',
  });
  // A browser navigation through Caddy or Traefik (which pass the denial on) gets the page itself.
  if (html)
    return reply
      .headers(DENIAL_PAGE_HEADERS)
      .send(renderDenial(d.decisionId, { status: d.status, reasons: d.reasons, at: Date.now() }));
  return reply.send({
    allowed: false,
    decisionId: d.decisionId,
    policyRevision: d.policyRevision,
    reasons: d.reasons,
  });
}

/** A refusal before verification: the same shape, with its code also as `error`. */
export function sendRefusal(reply: FastifyReply, r: Refusal, html: boolean) {
  reply.code(r.status).headers({
    'x-posture-decision': r.decisionId,
    'x-posture-verdict': 'unauthenticated',
    'cache-control': 'no-store',
  });
  const reasons = [{ code: r.code, message: r.message }];
  if (html)
    return reply
      .headers(DENIAL_PAGE_HEADERS)
      .send(renderDenial(r.decisionId, { status: r.status, reasons, at: Date.now() }));
  return reply.send({ allowed: false, error: r.code, message: r.message, decisionId: r.decisionId, reasons });
}
