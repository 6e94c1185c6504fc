/** Unauthenticated endpoints: health, readiness, nonces, the active policy, metrics. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceContext } from './context.js';
import { problem } from './problem.js';

export async function health() {
  return { status: 'ok' };
}

export async function readiness(ctx: ServiceContext, _req: FastifyRequest, reply: FastifyReply) {
  try {
    await ctx.store.ping();
    await ctx.replay.ping?.();
    return { status: 'ready' };
  } catch {
    return problem(reply, 503, 'not_ready', 'The device store or replay store cannot be reached.');
  }
}

export async function issueNonce(ctx: ServiceContext, _req: FastifyRequest, reply: FastifyReply) {
  const n = ctx.nonces.issue(ctx.now());
  return reply
    .header('cache-control', 'no-store')
    .send({ nonce: n.nonce, expiresAt: new Date(n.expiresAt).toISOString() });
}

export async function activePolicy(ctx: ServiceContext) {
  const policy = ctx.policy();
  return { revision: policy.revision, policy };
}

export async function metricsPage(ctx: ServiceContext, _req: FastifyRequest, reply: FastifyReply) {
  return reply.type(ctx.metrics.contentType).send(await ctx.metrics.render());
}
