/**
 * Enrolling this device with a verifier: fetch a nonce, prove possession of the device key over it
 * and the one-time token, and remember the server and the device id it assigned. Also sends pending
 * key-rotation statements, so the verifier follows a rotated key.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ALG } from '../shared/claims.js';
import { signCompact } from '../keys/jws.js';
import { readKeyState } from '../keys/manager.js';
import type { DeviceKey } from '../keys/types.js';
import type { DeviceInventory } from '../shared/posture.js';
import { EnrollError } from './enroll-errors.js';
import { writeFileAtomic } from '../host/write-atomic.js';

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
    throw new EnrollError(
      'ERR_ENROLLMENT_CORRUPT',
      `${enrollmentPath(stateDir)} is damaged; enroll again with \`posture enroll\`.`,
    );
  }
}

async function writeEnrollment(stateDir: string, e: Enrollment): Promise<void> {
  const path = enrollmentPath(stateDir);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(e, null, 2)}\n`);
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
    throw new EnrollError(
      'ERR_SERVER_UNREACHABLE',
      `cannot reach ${url} (${(error as Error).message}). Check the server URL and the network.`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw refusal(res.status, body);
  return body;
}

/**
 * What a refusal means for the person enrolling. The verifier answers (docs/verifier-service.md):
 * 409 device_revoked / device_locked before it uses the token; 401 server_url_mismatch with its
 * publicUrl when the proof was made for another URL (an older verifier says proof_audience_invalid).
 */
function refusal(status: number, body: Record<string, unknown>): EnrollError {
  const code = typeof body.error === 'string' ? body.error : '';
  const said = `${status}${code ? ` ${code}` : ''}`;
  if (code === 'device_revoked') return revoked(said, { tokenUsed: false });
  if (code === 'device_locked') return locked(said, { tokenUsed: false });
  if (code === 'server_url_mismatch' || code === 'proof_audience_invalid') {
    const publicUrl = httpUrl(body.publicUrl);
    return new EnrollError(
      'ERR_SERVER_URL_MISMATCH',
      publicUrl
        ? `the verifier answered ${said}: its public URL is ${publicUrl}, not the --server given. Run the same command with --server ${publicUrl} (the token was not used).`
        : `the verifier answered ${said}: the --server URL is not the verifier's public URL. Use exactly the URL IT gave (scheme, host, port, path); the token was not used.`,
      publicUrl ? { publicUrl } : {},
    );
  }
  if (status >= 500)
    return new EnrollError(
      'ERR_SERVER_UNREACHABLE',
      `the verifier could not answer (${said}); try again later. The token was not used.`,
    );
  return new EnrollError(
    'ERR_ENROLLMENT_REFUSED',
    `the verifier refused (${said}): ${typeof body.message === 'string' ? body.message : ''}`.trimEnd(),
  );
}

function revoked(said: string, options: { tokenUsed: boolean }): EnrollError {
  return new EnrollError(
    'ERR_DEVICE_REVOKED',
    options.tokenUsed
      ? `the verifier answered ${said}: this device key is revoked, and a revoked key stays revoked; the token is now used. Make a new key with \`posture key rotate --force-new\`, ask IT for a new token, and enroll again.`
      : `the verifier answered ${said}: this device key is revoked, and a revoked key stays revoked. Make a new key and enroll it with the same token (it was not used): \`posture key rotate --force-new\`, then this command again, or this command with --new-key-if-revoked.`,
    { tokenUsed: options.tokenUsed },
  );
}

function locked(said: string, options: { tokenUsed: boolean }): EnrollError {
  return new EnrollError(
    'ERR_DEVICE_LOCKED',
    `the verifier answered ${said}: IT has locked this device. Ask IT to unlock it${options.tokenUsed ? '' : ' (the token was not used)'}; a new key would not help.`,
    { tokenUsed: options.tokenUsed },
  );
}

const isControlOrSpace = (c: string) => {
  const n = c.codePointAt(0) ?? 0;
  return (
    n <= 0x20 || (n >= 0x7f && n <= 0x9f) || (n >= 0x202a && n <= 0x202e) || (n >= 0x2066 && n <= 0x2069)
  );
};

/** The URL a verifier named, when it is a plain http(s) URL (it is shown to the person). */
function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048 || [...value].some(isControlOrSpace)) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? value : undefined;
  } catch {
    return undefined;
  }
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
  // A verifier that still answers 2xx for a revoked or locked key (it used the token) did not
  // enroll this device: only an active device is enrolled.
  const said = `status ${String(body.status)}`;
  if (body.status === 'revoked') throw revoked(said, { tokenUsed: true });
  if (body.status === 'locked') throw locked(said, { tokenUsed: true });
  if (body.status !== 'active' || typeof body.deviceId !== 'string' || !body.deviceId)
    throw new EnrollError(
      'ERR_ENROLLMENT_REFUSED',
      `the verifier answered without an active device (${said}); this device is not enrolled. Ask IT.`,
    );
  const enrollment: Enrollment = {
    server,
    deviceId: body.deviceId,
    kid: options.key.kid,
    enrolledAt: new Date().toISOString(),
  };
  await writeEnrollment(options.stateDir, enrollment);
  return { ...enrollment, status: 'active' };
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
