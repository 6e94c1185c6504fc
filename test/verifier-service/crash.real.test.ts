/**
 * kill -9 the verifier service (the built `posture-verifier`, SQLite store) while enrollments are in
 * flight, restart it: every enrollment that was answered is still there, and no token enrolled two
 * devices. Bounded: 40 tokens, 80 concurrent attempts, one kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import { freePort } from '../fakes/proxies.js';
import { ADMIN_TOKEN, caller, enrollKey } from '../helpers/service.js';

const MAIN = join(process.cwd(), 'dist', 'verifier-service', 'main.js');

async function startService(configPath: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, '--config', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const call = caller(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await call({ method: 'GET', url: '/readyz' })).statusCode === 200) return child;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('posture-verifier did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('verifier killed with enrollments in flight', () => {
  it('loses no answered enrollment and uses no token twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-crash-'));
    const port = await freePort();
    const configPath = join(dir, 'verifier.yaml');
    const dbPath = join(dir, 'devices.db');
    writeFileSync(
      configPath,
      JSON.stringify({
        listen: { host: '127.0.0.1', port },
        publicUrl: `http://127.0.0.1:${port}`,
        audience: ['https://app.example.com'],
        store: { type: 'sqlite', path: dbPath },
        nonce: { secrets: ['crash-test-nonce-secret-0123456789abcdef'] },
        adminTokenSha256: [createHash('sha256').update(ADMIN_TOKEN).digest('hex')],
        decisionLog: join(dir, 'decisions.log'),
      }),
    );
    const aud = `http://127.0.0.1:${port}`;
    let child = await startService(configPath, port);
    const call = caller(`http://127.0.0.1:${port}`);
    const tokens: string[] = [];
    for (let i = 0; i < 40; i++) {
      tokens.push(
        (
          await call({
            method: 'POST',
            url: '/v1/admin/enrollment-tokens',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            payload: {},
          })
        ).json().token,
      );
    }
    const keys = await Promise.all(
      Array.from({ length: 80 }, () => softwareKey(generatePrivateJwk(), 'keychain', 'k', '')),
    );
    // Two devices race for every token; requests start a few ms apart, and the service is killed once
    // some have been answered and others are still in flight.
    let settled = 0;
    const attempts = keys.map(async (key, i) => {
      await new Promise((r) => setTimeout(r, i * 4));
      const result = await enrollKey(call, key, tokens[i % 40] as string, { aud })
        .then((res) => ({ kid: key.kid, status: res.statusCode, body: res.body }))
        .catch(() => ({ kid: key.kid, status: 0, body: '' }));
      settled++;
      return result;
    });
    while (settled < 15) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    const results = await Promise.all(attempts);
    // The restarted service reopens the file (the dead one's lock went with it).
    child = await startService(configPath, port);
    const answered = results.filter((r) => r.status === 201);
    try {
      // The kill must have cut the stream: some answered before it, some not.
      expect(answered.length).toBeGreaterThan(0);
      expect(results.some((r) => r.status === 0)).toBe(true);
      const listed = (
        await call({
          method: 'GET',
          url: '/v1/admin/devices?limit=1000',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json().devices as { kid: string }[];
      for (const a of answered) expect(listed.map((d) => d.kid)).toContain(a.kid);
      // After the restart, a used token stays used.
      const loser = keys.find((k) => !listed.some((d) => d.kid === k.kid)) ?? keys[0];
      const usedToken = tokens.find((_t, i) => results[i]?.status === 201 || results[i + 40]?.status === 201);
      if (usedToken && loser) {
        const retry = await enrollKey(call, loser, usedToken, { aud });
        expect(retry.json().error).toBe('token_used');
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
    // The service owns its file while it runs; once it has stopped, the file itself is read.
    const db = new Database(dbPath, { readonly: true });
    const devices = db.prepare('SELECT kid FROM devices').all() as { kid: string }[];
    const used = db.prepare('SELECT used_by FROM enrollment_tokens WHERE used_at IS NOT NULL').all() as {
      used_by: string;
    }[];
    db.close();
    // Every answered enrollment survived the kill.
    for (const a of answered) expect(devices.map((d) => d.kid)).toContain(a.kid);
    // No token enrolled two devices, and every device came through exactly one token.
    expect(devices.length).toBe(used.length);
    expect(new Set(used.map((u) => u.used_by)).size).toBe(used.length);
    expect(devices.length).toBeLessThanOrEqual(40);
  }, 90_000);
});
