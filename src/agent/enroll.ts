/**
 * Enrolling this device with a verifier: fetch a nonce, prove possession of the device key over it
 * and the one-time token, and remember the server and the device id it assigned. Also sends pending
 * key-rotation statements, so the verifier follows a rotated key.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ALG } from '../shared/claims.js';
import { PostureError } from '../shared/errors.js';
import { signCompact } from '../keys/jws.js';
import { readKeyState } from '../keys/manager.js';
import type { DeviceKey } from '../keys/types.js';
import type { DeviceInventory } from '../shared/posture.js';

const enrollmentSchema = z.object({
  server: z.string().url(),
  deviceId: z.string().min(1),
  kid: z.string().min(1),
  enrolledAt: z.string(),
});
export type Enrollment = z.output<typeof enrollmentSchema>;

export const enrollmentPath = (stateDir: string) => join(stateDir, 'enrollment.json');

export async function readEnrollment(stateDir: string): Promise<Enrollment | undefined> {
  try {
    return enrollmentSchema.parse(JSON.parse(await readFile(enrollmentPath(stateDir), 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PostureError(
      'ERR_ENROLLMENT_CORRUPT',
      `${enrollmentPath(stateDir)} is damaged; enroll again with \`posture enroll\`.`,
    );
  }
}

async function writeEnrollment(stateDir: string, e: Enrollment): Promise<void> {
  const path = enrollmentPath(stateDir);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(`${path}.tmp`, `${JSON.stringify(e, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

async function call(
  fetchImpl: typeof fetch,
  url: string,
  init?: RequestInit,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new PostureError(
      'ERR_SERVER_UNREACHABLE',
      `cannot reach ${url} (${(error as Error).message}). Check the server URL and the network.`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    throw new PostureError(
      'ERR_ENROLLMENT_REFUSED',
      `the verifier refused (${res.status} ${String(body.error ?? '')}): ${String(body.message ?? '')}`,
    );
  }
  return body;
}

async function keyProof(
  key: DeviceKey,
  typ: string,
  server: string,
  nonce: string,
  claims: Record<string, unknown>,
): Promise<string> {
  return signCompact(
    { alg: ALG, typ, jwk: key.publicJwk },
    { aud: server, nonce, iat: Math.floor(Date.now() / 1000), ...claims },
    key,
  );
}

const serverBase = (server: string) => server.replace(/\/+$/, '');

export async function enrollDevice(options: {
  server: string;
  token: string;
  key: DeviceKey;
  stateDir: string;
  inventory: DeviceInventory;
  osName?: string;
  fetch?: typeof fetch;
}): Promise<Enrollment & { status: string }> {
  const f = options.fetch ?? fetch;
  const server = serverBase(options.server);
  const { nonce } = (await call(f, `${server}/v1/nonce`)) as { nonce: string };
  const facts = {
    ...(options.inventory.hostname ? { hostname: options.inventory.hostname } : {}),
    ...(options.inventory.model ? { model: options.inventory.model } : {}),
    ...(options.inventory.serial ? { serial: options.inventory.serial } : {}),
    ...(options.osName ? { os: options.osName } : {}),
  };
  const proof = await keyProof(options.key, 'posture-enroll+jwt', server, nonce, {
    token_hash: createHash('sha256').update(options.token).digest('base64url'),
    key_protection: options.key.protection,
    facts,
  });
  const body = await call(f, `${server}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: options.token, proof }),
  });
  const enrollment: Enrollment = {
    server,
    deviceId: String(body.deviceId),
    kid: options.key.kid,
    enrolledAt: new Date().toISOString(),
  };
  await writeEnrollment(options.stateDir, enrollment);
  return { ...enrollment, status: String(body.status) };
}

/** Sends the newest rotation statement to the verifier the device is enrolled with. */
export async function sendRotation(options: {
  key: DeviceKey;
  stateDir: string;
  keyStatePath: string;
  fetch?: typeof fetch;
}): Promise<boolean> {
  const enrollment = await readEnrollment(options.stateDir);
  const state = await readKeyState(options.keyStatePath);
  const statement = state?.rotations.at(-1);
  if (!enrollment || !statement) return false;
  const f = options.fetch ?? fetch;
  const { nonce } = (await call(f, `${enrollment.server}/v1/nonce`)) as { nonce: string };
  const proof = await keyProof(options.key, 'posture-rotate+jwt', enrollment.server, nonce, {});
  await call(f, `${enrollment.server}/v1/devices/rotate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ statement, proof }),
  });
  await writeEnrollment(options.stateDir, { ...enrollment, kid: options.key.kid });
  return true;
}
