/**
 * `POST /v1/verify`: a decision for a request described in the body, for policy engines (OPA) that
 * are not proxies. Answered only for the trusted proxies' addresses or a caller with a verify token
 * (`verifyTokenSha256`), like forward-auth: anyone else could use it as an oracle for which devices
 * and proofs pass.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BearerCheck } from './bearer.js';
import type { RequestDecider } from './decider.js';
import { issuePaths, problem } from './problem.js';
import type { PeerKinds } from './trusted-peers.js';

const verifyBody = z
  .object({
    method: z.string().min(1).max(16),
    url: z.string().url().max(8192),
    headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  })
  .strict();

export interface DirectVerifyDeps {
  decider: RequestDecider;
  peerKind: PeerKinds;
  hasVerifyToken: BearerCheck;
}

export async function directVerify(deps: DirectVerifyDeps, req: FastifyRequest, reply: FastifyReply) {
  if (!deps.peerKind(req.socket.remoteAddress) && !deps.hasVerifyToken(req)) {
    reply.header('www-authenticate', 'Bearer');
    return problem(
      reply,
      401,
      'verify_unauthorized',
      'POST /v1/verify answers trusted proxies and callers with a verify token (verifyTokenSha256) only.',
    );
  }
  const body = verifyBody.safeParse(req.body);
  if (!body.success)
    return problem(reply, 400, 'bad_request', 'Send {"method", "url", "headers"}.', {
      issues: issuePaths(body.error.issues),
    });
  const d = await deps.decider.decide(body.data.method, body.data.url, body.data.headers);
  return reply.code(200).send(d);
}
