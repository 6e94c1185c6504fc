// The verifier service as a process for the benchmarks (`dist/verifier-service/main.js`), configured
// through a file, with the admin calls the benchmarks need.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort, waitPort } from './lib.js';

export const ADMIN = 'bench-admin-token';
export const NONCE_SECRET = 'bench-nonce-secret-0123456789abcdef0123';

/** One HTTP request to 127.0.0.1:`port`; resolves with status and body text. */
export function call(port, method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const adminHeaders = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

/**
 * Starts a verifier in `dir` named `name`: `stores` ({store, replay}), `audiences` besides its own
 * URL, `publicUrl` (default its own URL), `policyFile`, `trusted` (trustedProxies, default nginx on
 * 127.0.0.1), `argv(cmd, args)` to wrap the command (CPU pinning), `nodeArgs` before the script.
 */
export async function startVerifier({
  dir,
  name,
  stores,
  audiences = [],
  publicUrl,
  policyFile,
  trusted = [{ address: '127.0.0.1', proxy: 'nginx' }],
  argv = (cmd, args) => [cmd, args],
  nodeArgs = [],
}) {
  const port = await freePort();
  const own = `http://127.0.0.1:${port}`;
  const config = join(dir, `${name}.json`);
  const log = join(dir, `${name}-decisions.log`);
  writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      publicUrl: publicUrl ?? own,
      audience: [...new Set([own, publicUrl ?? own, ...audiences])],
      ...stores,
      ...(policyFile ? { policyFile } : {}),
      nonce: { secrets: [NONCE_SECRET] },
      adminTokenSha256: [createHash('sha256').update(ADMIN).digest('hex')],
      trustedProxies: trusted,
      decisionLog: log,
    }),
  );
  const child = spawn(
    ...argv(process.execPath, [...nodeArgs, 'dist/verifier-service/main.js', '--config', config]),
    {
      stdio: 'inherit',
    },
  );
  await waitPort(port);
  return {
    port,
    pid: child.pid,
    log,
    /** A one-time enrollment token from the admin API. */
    async enrollmentToken() {
      const res = await call(port, 'POST', '/v1/admin/enrollment-tokens', adminHeaders, '{}');
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`enrollment token: ${res.status} ${res.body}`);
      return JSON.parse(res.body).token;
    },
    /** The admin API's view of a device. */
    async device(deviceId) {
      const res = await call(port, 'GET', `/v1/admin/devices/${deviceId}`, adminHeaders);
      return JSON.parse(res.body);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
