/**
 * `posture enroll` against the verifier service as it runs (built CLI, explicit file key): a
 * revoked, a locked device and a wrong server URL each fail with their own exit and error code
 * and say what to do; a new key (`key rotate --force-new`) enrolls again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../fakes/proxies.js';
import { agentEnv, assertBuilt, posture, sharedCache } from '../helpers/cli.js';
import { admin, enrollmentToken, serviceConfig, testService } from '../helpers/service.js';
import type { TestService } from '../helpers/service.js';

/** One probe cache for the file: each command collects posture, the slow package-manager run once. */
const cache = sharedCache();
let svc: TestService;
let server: string;
beforeAll(async () => {
  assertBuilt();
  const port = await freePort();
  server = `http://127.0.0.1:${port}`;
  svc = await testService({ port, config: serviceConfig({ publicUrl: server }) });
});

const setStatus = (deviceId: string, action: 'revoke' | 'lock') =>
  svc.call({ method: 'POST', url: `/v1/admin/devices/${deviceId}/${action}`, headers: admin });

const jsonOf = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe('posture enroll, as a device whose status changed', () => {
  it('a revoked device fails with exit 8 ERR_DEVICE_REVOKED; a new key enrolls again', async () => {
    const { dir, env } = agentEnv(cache);
    const first = await posture(
      ['enroll', '--server', server, '--token', await enrollmentToken(svc.call), '--json'],
      env,
    );
    expect(first.code).toBe(0);
    const enrolled = jsonOf(first.stdout) as { deviceId: string; kid: string; status: string };
    expect(enrolled.status).toBe('active');
    expect((await setStatus(enrolled.deviceId, 'revoke')).statusCode).toBe(200);

    const again = await posture(
      ['enroll', '--server', server, '--token', await enrollmentToken(svc.call), '--json'],
      env,
    );
    expect(again.code).toBe(8);
    expect(again.stderr).toContain('[ERR_DEVICE_REVOKED]');
    expect(jsonOf(again.stdout)).toMatchObject({ error: { code: 'ERR_DEVICE_REVOKED', exitCode: 8 } });
    // Not enrolled: the local record still names the first enrollment, not a revoked "success".
    expect(JSON.parse(readFileSync(join(dir, 'state', 'enrollment.json'), 'utf8'))).toMatchObject({
      deviceId: enrolled.deviceId,
    });

    // What the message says to do: a new key, then enroll it.
    const rotated = await posture(['key', 'rotate', '--force-new', '--json'], env);
    expect(rotated.code).toBe(0);
    const newKid = (jsonOf(rotated.stdout) as { kid: string }).kid;
    const renewed = await posture(
      ['enroll', '--server', server, '--token', await enrollmentToken(svc.call), '--json'],
      env,
    );
    expect(renewed.code).toBe(0);
    expect(jsonOf(renewed.stdout)).toMatchObject({ status: 'active', kid: newKid });
    // The configured key file holds the enrolled key, and the revoked key is gone.
    expect((jsonOf((await posture(['key', 'show', '--json'], env)).stdout) as { ref: string }).ref).toBe(
      join(dir, 'device-key.json'),
    );
    expect(readdirSync(dir).filter((f) => f.startsWith('device-key'))).toEqual(['device-key.json']);
  }, 120_000);

  it('a locked device fails with exit 9 ERR_DEVICE_LOCKED', async () => {
    const { env } = agentEnv(cache);
    const first = await posture(
      ['enroll', '--server', server, '--token', await enrollmentToken(svc.call), '--json'],
      env,
    );
    const { deviceId } = jsonOf(first.stdout) as { deviceId: string };
    expect((await setStatus(deviceId, 'lock')).statusCode).toBe(200);
    const again = await posture(
      ['enroll', '--server', server, '--token', await enrollmentToken(svc.call)],
      env,
    );
    expect(again.code).toBe(9);
    expect(again.stderr).toContain('[ERR_DEVICE_LOCKED]');
  }, 120_000);

  it('a --server other than the verifier\u2019s public URL fails with exit 10 ERR_SERVER_URL_MISMATCH', async () => {
    const { env } = agentEnv(cache);
    const other = server.replace('127.0.0.1', 'localhost');
    const out = await posture(
      ['enroll', '--server', other, '--token', await enrollmentToken(svc.call), '--json'],
      env,
    );
    expect(out.code).toBe(10);
    expect(out.stderr).toContain('[ERR_SERVER_URL_MISMATCH]');
    expect(jsonOf(out.stdout)).toMatchObject({ error: { code: 'ERR_SERVER_URL_MISMATCH', exitCode: 10 } });
  }, 120_000);
});
