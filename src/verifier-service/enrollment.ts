/**
 * Enrollment (`POST /v1/enroll`: a one-time token and a proof made by the device key over a nonce)
 * and key rotation (`POST /v1/devices/rotate`: the old key signs the new key's thumbprint).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KEY_PROTECTIONS } from '../shared/claims.js';
import { importVerifyKey, parseCompact, verifySignature } from '../verifier/tokens.js';
import type { ServiceContext } from './context.js';
import { parseEnrollFacts } from './enrollment-facts.js';
import { verifyKeyProof } from './key-proof.js';
import { issuePaths, problem } from './problem.js';
import type { EnrollRefusal } from './store.js';

const ENROLL_TYP = 'posture-enroll+jwt';
const ROTATE_TYP = 'posture-rotate+jwt';
const ROTATION_STATEMENT_TYP = 'posture-key-rotation+jwt';

const keyProtection = z.enum(KEY_PROTECTIONS);

export const tokenHash = (text: string) => createHash('sha256').update(text).digest('base64url');

const enrollBody = z
  .object({ token: z.string().min(16).max(256), proof: z.string().min(1).max(8192) })
  .strict();

export async function enroll(ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) {
  const { config, store, now } = ctx;
  const body = enrollBody.safeParse(req.body);
  if (!body.success) {
    const issues = issuePaths(body.error.issues);
    // A token of the wrong shape (mistyped, cut short) is an invalid token, not a malformed request:
    // the person needs the same advice as for an unknown one.
    if (
      issues.length === 1 &&
      issues[0] === 'token' &&
      typeof (req.body as { token?: unknown })?.token === 'string'
    )
      return problem(reply, 401, 'token_invalid', ENROLL_REFUSALS.token_invalid[1]);
    return problem(reply, 400, 'bad_request', 'Send {"token", "proof"}.', { issues });
  }
  const proof = await verifyKeyProof(body.data.proof, ENROLL_TYP, config.publicUrl, ctx.nonces, now());
  if (!proof.ok && proof.error === 'server_url_mismatch') return serverUrlMismatch(ctx, reply);
  if (!proof.ok) return problem(reply, 401, proof.error, 'The enrollment proof does not verify.');
  const c = proof.claims;
  if (c.token_hash !== tokenHash(body.data.token))
    return problem(reply, 401, 'proof_token_mismatch', 'The proof was made for another token.');
  const protection = keyProtection.safeParse(c.key_protection);
  if (!protection.success) return problem(reply, 400, 'bad_request', 'key_protection is missing or unknown.');
  const facts = parseEnrollFacts(c.facts);
  if (!facts.ok)
    return problem(reply, 400, 'facts_invalid', `Fix or leave out these facts: ${facts.fields.join(', ')}.`, {
      issues: facts.fields,
    });
  const result = await store.enroll(tokenHash(body.data.token), now(), {
    deviceId: `dev_${randomBytes(12).toString('base64url')}`,
    kid: proof.kid,
    jwk: proof.jwk,
    keyProtection: protection.data,
    facts: facts.facts,
    enrolledAt: now(),
  });
  if (!result.ok) {
    const [status, message] = ENROLL_REFUSALS[result.reason];
    return problem(reply, status, result.reason, message, {
      ...(result.device ? { deviceId: result.device.deviceId } : {}),
      ...(result.reason === 'key_protection_mismatch' && result.device
        ? { enrolledKeyProtection: result.device.keyProtection }
        : {}),
    });
  }
  return reply.code(result.reenrolled ? 200 : 201).send({
    deviceId: result.device.deviceId,
    kid: result.device.kid,
    status: result.device.status,
    policyRevision: ctx.policy().revision,
  });
}

/** How each refused enrollment is answered; the token is consumed by none of them. */
const ENROLL_REFUSALS: Record<EnrollRefusal, readonly [number, string]> = {
  token_invalid: [401, 'The enrollment token is not valid: ask IT for a new one.'],
  token_used: [401, 'The enrollment token was already used: ask IT for a new one.'],
  token_expired: [401, 'The enrollment token has expired: ask IT for a new one.'],
  device_revoked: [
    409,
    'This key belongs to a revoked device, which stays revoked. Enroll with a new device key (the token was not used).',
  ],
  device_locked: [
    409,
    'This key belongs to a locked device. Ask IT to unlock it; re-enrolling does not (the token was not used).',
  ],
  key_protection_mismatch: [
    409,
    'This key is enrolled with another key protection; a key keeps the protection it was first enrolled with (the token was not used).',
  ],
};

/** 401 server_url_mismatch: the proof names another server URL than this verifier's public one. */
function serverUrlMismatch(ctx: ServiceContext, reply: FastifyReply) {
  return problem(
    reply,
    401,
    'server_url_mismatch',
    `The device was given another server URL than this verifier's public URL (${ctx.config.publicUrl}); enroll with that URL.`,
    { publicUrl: ctx.config.publicUrl },
  );
}

const rotateBody = z
  .object({ statement: z.string().min(1).max(8192), proof: z.string().min(1).max(8192) })
  .strict();

export async function rotateKey(ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) {
  const { config, store, now } = ctx;
  const body = rotateBody.safeParse(req.body);
  if (!body.success) return problem(reply, 400, 'bad_request', 'Send {"statement", "proof"}.');
  const proof = await verifyKeyProof(body.data.proof, ROTATE_TYP, config.publicUrl, ctx.nonces, now());
  if (!proof.ok && proof.error === 'server_url_mismatch') return serverUrlMismatch(ctx, reply);
  if (!proof.ok) return problem(reply, 401, proof.error, 'The new key\u2019s proof does not verify.');
  const statement = parseCompact(body.data.statement);
  const oldKid = statement?.header.kid;
  if (
    !statement ||
    statement.header.alg !== 'ES256' ||
    statement.header.typ !== ROTATION_STATEMENT_TYP ||
    typeof oldKid !== 'string'
  ) {
    return problem(
      reply,
      400,
      'statement_malformed',
      'The rotation statement is not a posture-key-rotation+jwt.',
    );
  }
  const device = await store.deviceByKid(oldKid);
  if (!device)
    return (
      (await rotationAlreadyDone(ctx, statement.payload, proof.kid)) ??
      problem(reply, 401, 'device_unknown', 'No enrolled device has the old key.')
    );
  if (device.status !== 'active')
    return problem(reply, 403, `device_${device.status}`, 'This device is not active.');
  if (!(await verifySignature(await importVerifyKey(device.jwk), statement)))
    return problem(reply, 401, 'statement_signature_invalid', 'The old key did not sign this statement.');
  if (statement.payload.new_kid !== proof.kid || statement.payload.old_kid !== oldKid)
    return problem(reply, 401, 'statement_mismatch', 'The statement names another key.');
  const protection = keyProtection.safeParse(statement.payload.new_key_protection);
  if (!protection.success)
    return problem(reply, 400, 'bad_request', 'new_key_protection is missing or unknown.');
  // A key held by a device (another, or this one) is refused here; a race past this check meets the
  // store's unique key, which answers the same (StoreError ERR_STORE_KEY_IN_USE → 409 key_in_use).
  if (await store.deviceByKid(proof.kid))
    return problem(reply, 409, 'key_in_use', 'This key is already enrolled for a device; use a new key.');
  if (!(await store.rotateKey(device.deviceId, oldKid, proof.jwk, proof.kid, protection.data)))
    return problem(reply, 409, 'rotation_conflict', 'The key changed meanwhile.');
  return { deviceId: device.deviceId, kid: proof.kid };
}

/**
 * The same rotation sent again (the agent was killed, or lost the answer, after this verifier took
 * it): the old key is gone here, and the new key, whose holder just proved it with a fresh nonce,
 * is the active key of an active device. Answered as the first time, so the agent can record it.
 */
async function rotationAlreadyDone(
  ctx: ServiceContext,
  payload: Record<string, unknown>,
  newKid: string,
): Promise<{ deviceId: string; kid: string } | undefined> {
  if (payload.new_kid !== newKid) return undefined;
  const device = await ctx.store.deviceByKid(newKid);
  return device && device.status === 'active' ? { deviceId: device.deviceId, kid: newKid } : undefined;
}
