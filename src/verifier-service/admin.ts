/**
 * The admin API (bearer token, stored as its SHA-256): enrollment tokens, devices (list, show,
 * revoke, lock, unlock) and policy reload.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bearerCheck } from './bearer.js';
import type { ServiceContext } from './context.js';
import { tokenHash } from './enrollment.js';
import { issuePaths, problem } from './problem.js';
import type { StoredDevice } from './store.js';
import { displayText } from './text-safety.js';

type DeviceParams = { id: string };

/** A preHandler: 401 `admin_unauthorized` unless the bearer token hashes to a configured one. */
export function adminGuard(adminTokenSha256: readonly string[]) {
  const isAdmin = bearerCheck(adminTokenSha256);
  return async function requireAdmin(req: FastifyRequest, reply: FastifyReply) {
    if (!isAdmin(req))
      return problem(reply, 401, 'admin_unauthorized', 'A valid admin bearer token is required.');
    return undefined;
  };
}

function tokenBody(ctx: ServiceContext) {
  return z
    .object({
      label: displayText(200).optional(),
      ttlMinutes: z
        .number()
        .int()
        .min(1)
        .max(ctx.config.enrollment.tokenTtlMinutes * 24)
        .optional(),
    })
    .strict();
}

export async function createEnrollmentToken(ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) {
  const { config, store, now } = ctx;
  const body = tokenBody(ctx).safeParse(req.body ?? {});
  if (!body.success)
    return problem(reply, 400, 'bad_request', 'Send {"label"?, "ttlMinutes"?}.', {
      issues: issuePaths(body.error.issues),
    });
  const token = randomBytes(32).toString('base64url');
  const ttl = (body.data.ttlMinutes ?? config.enrollment.tokenTtlMinutes) * 60_000;
  await store.createToken({
    hash: tokenHash(token),
    ...(body.data.label ? { label: body.data.label } : {}),
    createdAt: now(),
    expiresAt: now() + ttl,
  });
  return reply.code(201).send({ token, expiresAt: new Date(now() + ttl).toISOString() });
}

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

export async function listDevices(ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) {
  const q = listQuery.safeParse(req.query);
  if (!q.success)
    return problem(reply, 400, 'bad_request', 'limit must be 1–1000 and offset ≥ 0.', {
      issues: issuePaths(q.error.issues),
    });
  return { devices: (await ctx.store.listDevices(q.data)).map(publicDevice) };
}

export async function showDevice(ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) {
  const d = await ctx.store.device((req.params as DeviceParams).id);
  return d ? publicDevice(d) : problem(reply, 404, 'device_unknown', 'No such device.');
}

const STATUS_ACTIONS = [
  ['revoke', 'revoked'],
  ['lock', 'locked'],
  ['unlock', 'active'],
] as const;

type TargetStatus = (typeof STATUS_ACTIONS)[number][1];

export async function setDeviceStatus(
  ctx: ServiceContext,
  status: TargetStatus,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const id = (req.params as DeviceParams).id;
  const d = await ctx.store.device(id);
  if (!d) return problem(reply, 404, 'device_unknown', 'No such device.');
  if (d.status === 'revoked' && status !== 'revoked')
    return problem(
      reply,
      409,
      'device_revoked',
      'A revoked device stays revoked; enroll the machine again with a new device key and a new token.',
    );
  await ctx.store.setStatus(id, status);
  return { deviceId: id, status };
}

export async function reloadPolicy(ctx: ServiceContext, _req: FastifyRequest, reply: FastifyReply) {
  try {
    const p = await ctx.reloadPolicy();
    return { revision: p.revision };
  } catch (error) {
    return problem(
      reply,
      422,
      (error as { code?: string }).code ?? 'policy_invalid',
      (error as Error).message,
    );
  }
}

export function registerAdminRoutes(app: FastifyInstance, ctx: ServiceContext) {
  app.register(async (admin) => {
    admin.addHook('preHandler', adminGuard(ctx.config.adminTokenSha256));
    admin.post('/v1/admin/enrollment-tokens', (req, reply) => createEnrollmentToken(ctx, req, reply));
    admin.get('/v1/admin/devices', (req, reply) => listDevices(ctx, req, reply));
    admin.get('/v1/admin/devices/:id', (req, reply) => showDevice(ctx, req, reply));
    for (const [action, status] of STATUS_ACTIONS)
      admin.post(`/v1/admin/devices/:id/${action}`, (req, reply) => setDeviceStatus(ctx, status, req, reply));
    admin.post('/v1/admin/policy/reload', (req, reply) => reloadPolicy(ctx, req, reply));
  });
}

export function publicDevice(d: StoredDevice) {
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
    lastPushAt: d.lastPushAt ? new Date(d.lastPushAt).toISOString() : null,
    newestAttestation: d.newestAttestation
      ? { issuedAt: new Date(d.newestAttestation.iat * 1000).toISOString(), jti: d.newestAttestation.jti }
      : null,
  };
}
