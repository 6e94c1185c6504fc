/** A decision as a forward-auth answer: what nginx, Caddy, Traefik and Envoy read. */
import type { FastifyReply } from 'fastify';
import type { Decision } from '../verifier/verify-request.js';

export function sendDecision(reply: FastifyReply, d: Decision) {
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
