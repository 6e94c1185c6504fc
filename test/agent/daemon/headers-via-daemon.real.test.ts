/**
 * `posture headers|run|attest` served by the built `posture daemon`, on real parts: the daemon on a
 * real Unix socket (peer uid from the kernel), enrolled through its local API with the real
 * verifier service (SQLite, real HTTP), and the built CLI run as root and as a second Unix user
 * (uid 65534 through setpriv, who cannot read the device key). Each header set is checked by the
 * verifier (`POST /v1/verify`, called as the trusted proxy). Before enrollment (no audience) the
 * daemon answers `no_attestation` and the CLI exits 12 without signing in process; hostile requests
 * get their error codes; once the daemon is stopped the CLI signs in process and says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatePolicy } from '../../../src/shared/policy.js';
import {
  localApiErrorSchema,
  statusResponseSchema,
  type StatusResponse,
} from '../../../src/shared/local-api.js';
import { NO_DAEMON_NOTICE } from '../../../src/agent/signer.js';
import { freePort } from '../../fakes/ports.js';
import { assertBuilt, CLI, posture } from '../../helpers/cli.js';
import {
  APP_AUDIENCE,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';
import { followJsonLines, waitFor } from './daemon-process.js';
import { callApi, callApiAs } from './local-api-client.js';
import { describeWithPart, executable, isRoot } from './real-parts.js';

const SETPRIV = '/usr/bin/setpriv';
const NOBODY = 65534;

/** Nothing required: the verdict does not depend on this machine's state. */
const OPEN_POLICY = validatePolicy({
  version: 1,
  revision: 'headers-via-daemon',
  checks: {
    firewall: { required: false },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
});

interface LogLine {
  event: string;
  outcome?: string;
  jti?: string;
}

interface HeadersJson {
  headers: Record<string, string>;
  signedBy: string;
  audience: string;
}

describeWithPart(
  isRoot() && executable('/usr/bin/ss') && executable(SETPRIV),
  'root, /usr/bin/ss (iproute2) and /usr/bin/setpriv',
)('posture headers served by the daemon', () => {
  beforeAll(assertBuilt);

  it('signs for root and for another user with the daemon’s key, accepted by the verifier; falls back only when no daemon runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), `pa-sign-${process.pid}-`));
    chmodSync(dir, 0o755); // the second user reaches the socket and reads the configuration
    mkdirSync(join(dir, 'run'), { mode: 0o755 });
    const socket = join(dir, 'run', 'api.sock');
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['firewall'] }] } }),
    );
    chmodSync(configFile, 0o644);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      NODE_OPTIONS: '',
      POSTURE_CONFIG: configFile,
      POSTURE_CACHE_DIR: join(dir, 'cache'),
      POSTURE_STATE_DIR: join(dir, 'state'),
      POSTURE_KEY_STORE: 'file',
      POSTURE_KEY_FILE: join(dir, 'device-key.json'),
      POSTURE_SOCKET: socket,
    };
    const logs: LogLine[] = [];
    let daemon: ChildProcess | undefined;
    let svc: TestService | undefined;
    try {
      const port = await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      svc = await testService({
        config: serviceConfig({ publicUrl, audience: [APP_AUDIENCE, publicUrl] }),
        port,
      });
      svc.setPolicy(OPEN_POLICY);
      const verifier = svc;
      const verify = async (method: string, url: string, headers: Record<string, string>) =>
        (
          await verifier.call({ method: 'POST', url: '/v1/verify', payload: { method, url, headers } })
        ).json() as {
          allowed: boolean;
          reasons?: string[];
          device?: { id: string };
        };

      daemon = spawn(process.execPath, [CLI, 'daemon'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      followJsonLines(daemon, logs);
      const exited = new Promise<number | null>((resolve) => daemon?.once('exit', (code) => resolve(code)));
      const status = async (): Promise<StatusResponse | undefined> => {
        const r = await posture(['status', '--json'], env);
        return r.code === 0 ? statusResponseSchema.parse(JSON.parse(r.stdout)) : undefined;
      };

      // Not enrolled, no audience: the daemon holds no attestation and says so; the CLI does not sign in process.
      await waitFor('the first re-check', async () => ((await status())?.status.posture ? true : undefined));
      const none = await posture(['headers', '--url', `${publicUrl}/payroll`, '--json'], env);
      expect(none.code).toBe(12);
      expect(JSON.parse(none.stdout)).toMatchObject({
        error: { code: 'ERR_DAEMON_NO_ATTESTATION', exitCode: 12 },
      });
      expect(none.stderr).not.toContain(NO_DAEMON_NOTICE);
      const noneAttest = await posture(['attest', '--json'], env);
      expect(noneAttest.code).toBe(12);

      // `posture enroll` while the daemon runs: the daemon enrolls (its key, its state), for root
      // only. Another user is refused (exit 12) without the token being used or a key being made.
      const token = await enrollmentToken(svc.call);
      const asUser = (args: string[]) =>
        posture(
          [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, ...args],
          env,
          SETPRIV,
        );
      const refused = await asUser(['enroll', '--server', publicUrl, '--token', token, '--json']);
      expect(refused.code).toBe(12);
      expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'ERR_DAEMON_REFUSED' } });
      const enrolledCli = await posture(['enroll', '--server', publicUrl, '--token', token, '--json'], env);
      expect(enrolledCli.code).toBe(0);
      const enrolled = JSON.parse(enrolledCli.stdout) as {
        deviceId: string;
        via: string;
        keyProtection: string;
      };
      expect(enrolled).toMatchObject({ via: 'daemon', keyProtection: 'file', server: publicUrl });
      const deviceId = enrolled.deviceId;
      // The token is spent now: the daemon's refusal carries the agent's own code (same exit as in process).
      const again = await posture(['enroll', '--server', publicUrl, '--token', token, '--json'], env);
      expect(again.code).not.toBe(0);
      expect(JSON.parse(again.stdout).error.code).toMatch(/^ERR_/);
      expect(JSON.parse(again.stdout).error.code).not.toBe('ERR_DAEMON_REFUSED');
      await waitFor('an accepted push', () =>
        logs.find((l) => l.event === 'push' && l.outcome === 'accepted'),
      );

      // Root: the daemon's own audience (the verifier it is enrolled with).
      const url = `${publicUrl}/payroll/2026?month=11`;
      const asRoot = await posture(['headers', '--url', url, '--json'], env);
      expect(asRoot.code).toBe(0);
      expect(asRoot.stderr).toBe('');
      const rootHeaders = JSON.parse(asRoot.stdout) as HeadersJson;
      expect(rootHeaders).toMatchObject({ signedBy: 'daemon', audience: publicUrl });
      expect(await verify('GET', url, rootHeaders.headers)).toMatchObject({
        allowed: true,
        device: { id: deviceId },
      });
      // A proof is bound to its method: the same headers for a POST are refused.
      expect((await verify('POST', url, rootHeaders.headers)).allowed).toBe(false);

      // Another user (uid 65534, who cannot read the device key): another audience, signed by the daemon.
      const appUrl = `${APP_AUDIENCE}/api/items`;
      const asNobody = await posture(
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          '--clear-groups',
          process.execPath,
          CLI,
          'headers',
          '--url',
          appUrl,
          '--method',
          'POST',
          '--aud',
          APP_AUDIENCE,
          '--json',
        ],
        env,
        SETPRIV,
      );
      expect(asNobody.code).toBe(0);
      const nobodyHeaders = JSON.parse(asNobody.stdout) as HeadersJson;
      expect(nobodyHeaders).toMatchObject({ signedBy: 'daemon', audience: APP_AUDIENCE });
      expect(await verify('POST', appUrl, nobodyHeaders.headers)).toMatchObject({
        allowed: true,
        device: { id: deviceId },
      });

      // run and attest through the daemon too.
      const ran = await posture(
        ['run', '--url', url, '--', '/bin/sh', '-c', 'test -n "$POSTURE_PROOF" && echo "$POSTURE_SIGNED_BY"'],
        env,
      );
      expect(ran).toMatchObject({ code: 0, stdout: 'daemon\n' });
      const attested = JSON.parse((await posture(['attest', '--json'], env)).stdout) as {
        signedBy: string;
        claims: { aud: string; sub: string };
      };
      expect(attested).toMatchObject({ signedBy: 'daemon', claims: { aud: publicUrl, sub: deviceId } });

      // `posture key rotate` while the daemon runs: the daemon rotates (root only); its next
      // attestation is signed with the new key and accepted for the same device.
      const rotateRefused = await asUser(['key', 'rotate', '--json']);
      expect(rotateRefused.code).toBe(12);
      const rotatedCli = await posture(['key', 'rotate', '--json'], env);
      expect(rotatedCli.code).toBe(0);
      const rotated = JSON.parse(rotatedCli.stdout) as { keyId: string; via: string };
      expect(rotated.via).toBe('daemon');
      await waitFor('headers signed with the rotated key', async () => {
        const r = await posture(['headers', '--url', url, '--json'], env);
        if (r.code !== 0) return undefined;
        const h = JSON.parse(r.stdout) as HeadersJson;
        const decision = await verify('GET', url, h.headers);
        return decision.allowed && decision.device?.id === deviceId ? true : undefined;
      });
      const keyShown = JSON.parse((await posture(['key', 'show', '--json'], env)).stdout) as { kid: string };
      expect(keyShown.kid).toBe(rotated.keyId);

      // Hostile requests to the new endpoints, from the second user: coded errors, nothing signed.
      const code = (answer: { body: Record<string, unknown> }) =>
        localApiErrorSchema.parse(answer.body).error;
      const hostile: [string, string, string | undefined, number, string][] = [
        [
          'POST',
          '/v1/headers',
          '{"apiVersion":1,"method":"GET","url":"/relative"}',
          400,
          'malformed_request',
        ],
        [
          'POST',
          '/v1/headers',
          '{"apiVersion":1,"method":"GET","url":"https://a.example/\\r\\nX: 1"}',
          400,
          'malformed_request',
        ],
        [
          'POST',
          '/v1/headers',
          '{"apiVersion":1,"method":"GET","url":"file:///etc/shadow"}',
          400,
          'malformed_request',
        ],
        [
          'POST',
          '/v1/headers',
          '{"apiVersion":1,"method":"G T","url":"https://a.example/"}',
          400,
          'malformed_request',
        ],
        [
          'POST',
          '/v1/headers',
          '{"apiVersion":2,"method":"GET","url":"https://a.example/"}',
          400,
          'unsupported_version',
        ],
        ['POST', '/v1/attestation', '{"apiVersion":1,"nonce":"a\\u0000b"}', 400, 'malformed_request'],
        ['POST', '/v1/attestation', 'not json', 400, 'malformed_request'],
        ['GET', '/v1/headers', undefined, 405, 'method_not_allowed'],
        [
          'POST',
          '/v1/headers',
          JSON.stringify({ apiVersion: 1, method: 'GET', url: `https://a.example/${'a'.repeat(40_000)}` }),
          413,
          'message_too_large',
        ],
      ];
      for (const [method, path, body, httpStatus, errorCode] of hostile) {
        const answer = await callApiAs(NOBODY, socket, method, path, body);
        expect([path, answer.status, code(answer)]).toEqual([path, httpStatus, errorCode]);
      }
      // A flood of fresh signatures (new audiences) from one user: 5 signed, then rate_limited.
      const audiences = await Promise.all(
        [1, 2, 3, 4, 5, 6, 7].map((i) =>
          callApi(
            socket,
            'POST',
            '/v1/attestation',
            JSON.stringify({ apiVersion: 1, audience: `https://a${i}.example` }),
          ),
        ),
      );
      expect(audiences.filter((a) => a.status === 200)).toHaveLength(5);
      const limited = audiences.filter((a) => a.status === 429);
      expect(limited.map(code)).toEqual(['rate_limited', 'rate_limited']);
      expect(limited.every((a) => Number(a.body.retryAfterMs) > 0)).toBe(true);
      // The daemon's own attestation is still handed out.
      expect((await callApi(socket, 'POST', '/v1/attestation', '{"apiVersion":1}')).status).toBe(200);

      // No daemon: --require-daemon refuses; otherwise this process signs, and says so.
      daemon.kill('SIGTERM');
      expect(await exited).toBe(0);
      const required = await posture(['headers', '--url', url, '--require-daemon', '--json'], env);
      expect(required.code).toBe(11);
      expect(JSON.parse(required.stdout)).toMatchObject({ error: { code: 'ERR_DAEMON_NOT_RUNNING' } });
      const fallback = await posture(['headers', '--url', url, '--json'], env);
      expect(fallback.code).toBe(0);
      expect(fallback.stderr.trim()).toBe(NO_DAEMON_NOTICE);
      const processHeaders = JSON.parse(fallback.stdout) as HeadersJson;
      expect(processHeaders.signedBy).toBe('process');
      // Root's own file key is the enrolled one here, so the verifier accepts this too.
      expect(await verify('GET', url, processHeaders.headers)).toMatchObject({ allowed: true });
    } finally {
      if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
      await svc?.app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
