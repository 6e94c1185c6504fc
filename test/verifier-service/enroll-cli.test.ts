/**
 * The built `posture` command enrolling with a running verifier, attesting under the assigned device
 * id, and rotating its key so the verifier follows (explicit file key, as on a headless machine).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { freePort } from '../fakes/proxies.js';
import { admin, enrollmentToken, serviceConfig, testService } from '../helpers/service.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

describe('posture enroll / attest / key rotate against a running verifier', () => {
  it('enrolls, attests as the assigned device, and the verifier follows a key rotation', async () => {
    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    const svc = await testService({ port, config: serviceConfig({ publicUrl: server }) });
    const dir = mkdtempSync(join(tmpdir(), 'posture-enroll-cli-'));
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      NODE_OPTIONS: '',
      POSTURE_CONFIG: join(dir, 'none.json'),
      POSTURE_CACHE_DIR: join(dir, 'cache'),
      POSTURE_STATE_DIR: join(dir, 'state'),
      POSTURE_KEY_STORE: 'file',
      POSTURE_KEY_FILE: join(dir, 'device-key.json'),
    };
    const posture = async (args: string[]) =>
      JSON.parse((await run(process.execPath, [CLI, ...args], { env, timeout: 120_000 })).stdout);
    const token = await enrollmentToken(svc.call, 'cli laptop');
    const enrolled = await posture(['enroll', '--server', server, '--token', token, '--json']);
    expect(enrolled).toMatchObject({ server, status: 'active' });
    const attest = await posture(['attest', '--aud', 'https://app.example.com', '--json']);
    expect(decodeJwt(attest.token).sub).toBe(enrolled.deviceId);
    const rotated = await posture(['key', 'rotate', '--json']);
    expect(rotated.verifierUpdated).toBe(true);
    const device = (
      await svc.call({ method: 'GET', url: `/v1/admin/devices/${enrolled.deviceId}`, headers: admin })
    ).json();
    expect(device.kid).toBe(rotated.kid);
    const again = await posture(['attest', '--aud', 'https://app.example.com', '--json']);
    expect(decodeJwt(again.token).sub).toBe(enrolled.deviceId);
    // A used token: the verifier refuses, exit 6 (a new token is needed, retrying will not help).
    await expect(
      run(process.execPath, [CLI, 'enroll', '--server', server, '--token', token], { env }),
    ).rejects.toMatchObject({ code: 6, stderr: expect.stringContaining('[ERR_ENROLLMENT_REFUSED]') });
    // Nothing listens there: exit 7 (worth a retry).
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(
      run(process.execPath, [CLI, 'enroll', '--server', closed, '--token', token], { env }),
    ).rejects.toMatchObject({ code: 7, stderr: expect.stringContaining('[ERR_SERVER_UNREACHABLE]') });
  }, 120_000);
});
