/** `POST /v1/verify`: a decision for a request described in the body (for callers that are not proxies). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RequestDecider } from './decider.js';
import { issuePaths, problem } from './problem.js';

const verifyBody = z
  .object({
    method: z.string().min(1).max(16),
    url: z.string().url().max(8192),
    headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  })
  .strict();

export async function directVerify(decider: RequestDecider, req: FastifyRequest, reply: FastifyReply) {
  const body = verifyBody.safeParse(req.body);
  if (!body.success)
    return problem(reply, 400, 'bad_request', 'Send {"method", "url", "headers"}.', {
      issues: issuePaths(body.error.issues),
    });
  const d = await decider.decide(body.data.method, body.data.url, body.data.headers);
  return reply.code(200).send(d);
}
