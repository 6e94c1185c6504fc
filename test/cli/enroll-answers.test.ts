/**
 * `posture enroll` on each answer the verifier documents for a re-enrollment (docs/verifier-service.md):
 * 409 device_revoked / device_locked (token not used), 401 server_url_mismatch with publicUrl, 5xx.
 * A small loopback HTTP server answers as the verifier would, so the built CLI is tested on each
 * answer whatever version of the verifier the tests run against.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import type { JWK } from 'jose';
import { agentEnv, assertBuilt, posture, sharedCache } from '../helpers/cli.js';

type Answer = (kid: string) => { status: number; body: object };

/** A verifier stand-in: a nonce, and for POST /v1/enroll whatever `answer` says for the proof's key. */
async function verifierAnswering(
  answer: Answer,
): Promise<{ url: string; kids: string[]; close(): Promise<void> }> {
  const kids: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        const send = (status: number, value: object) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        if (req.method === 'GET' && req.url === '/v1/nonce') return send(200, { nonce: 'n-0123456789' });
        if (req.method === 'POST' && req.url === '/v1/enroll') {
          const { proof } = JSON.parse(body) as { proof: string };
          const kid = await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, 'sha256');
          kids.push(kid);
          const { status, body: answerBody } = answer(kid);
          return send(status, answerBody);
        }
        send(404, { error: 'not_found' });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    kids,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const TOKEN = 'tok-0123456789abcdefghij';
const active = (kid: string) => ({
  status: 201,
  body: { deviceId: `dev_${kid.slice(0, 8)}`, kid, status: 'active' },
});

beforeAll(assertBuilt);
/** One probe cache for the file: each command collects posture, the slow package-manager run once. */
const cache = sharedCache();

describe('posture enroll on the verifier\u2019s refusals', () => {
  it.each([
    [409, { error: 'device_revoked', message: 'revoked' }, 8, 'ERR_DEVICE_REVOKED'],
    [409, { error: 'device_locked', message: 'locked' }, 9, 'ERR_DEVICE_LOCKED'],
    [401, { error: 'invalid_token', message: 'used' }, 6, 'ERR_ENROLLMENT_REFUSED'],
    [503, { error: 'store_unavailable', message: 'down' }, 7, 'ERR_SERVER_UNREACHABLE'],
    [200, { deviceId: 'dev_x', kid: 'k', status: 'pending' }, 6, 'ERR_ENROLLMENT_REFUSED'],
  ])(
    'HTTP %s %j → exit %s %s',
    async (status, body, exit, code) => {
      const verifier = await verifierAnswering(() => ({ status, body }));
      try {
        const { env } = agentEnv(cache);
        const out = await posture(['enroll', '--server', verifier.url, '--token', TOKEN, '--json'], env);
        expect(out.code).toBe(exit);
        expect(out.stderr).toContain(`[${code}]`);
        expect(JSON.parse(out.stdout)).toMatchObject({ error: { code, exitCode: exit } });
      } finally {
        await verifier.close();
      }
    },
    60_000,
  );

  it('401 server_url_mismatch → exit 10 naming the verifier\u2019s public URL to use', async () => {
    const verifier = await verifierAnswering(() => ({
      status: 401,
      body: { error: 'server_url_mismatch', message: 'wrong URL', publicUrl: 'https://posture.example.com' },
    }));
    try {
      const { env } = agentEnv(cache);
      const out = await posture(['enroll', '--server', verifier.url, '--token', TOKEN, '--json'], env);
      expect(out.code).toBe(10);
      expect(JSON.parse(out.stdout)).toMatchObject({
        error: { code: 'ERR_SERVER_URL_MISMATCH', publicUrl: 'https://posture.example.com' },
      });
      expect(out.stderr).toContain('--server https://posture.example.com');
    } finally {
      await verifier.close();
    }
  }, 60_000);

  it('--new-key-if-revoked: a revoked key is replaced by a new one, enrolled with the same token', async () => {
    let revokedKid: string | undefined;
    const verifier = await verifierAnswering((kid) => {
      revokedKid ??= kid;
      return kid === revokedKid
        ? { status: 409, body: { error: 'device_revoked', message: 'revoked' } }
        : active(kid);
    });
    try {
      const { env } = agentEnv(cache);
      const out = await posture(
        ['enroll', '--server', verifier.url, '--token', TOKEN, '--new-key-if-revoked', '--json'],
        env,
      );
      expect(out.code).toBe(0);
      expect(verifier.kids).toHaveLength(2);
      const enrolled = JSON.parse(out.stdout) as { kid: string; status: string; newKey: boolean };
      expect(enrolled).toMatchObject({ kid: verifier.kids[1], status: 'active', newKey: true });
      const shown = JSON.parse((await posture(['key', 'show', '--json'], env)).stdout) as { kid: string };
      expect(shown.kid).toBe(verifier.kids[1]);
    } finally {
      await verifier.close();
    }
  }, 60_000);

  it('without --new-key-if-revoked the key is kept, and a locked device never gets a new key', async () => {
    const verifier = await verifierAnswering(() => ({
      status: 409,
      body: { error: 'device_locked', message: 'locked' },
    }));
    try {
      const { env } = agentEnv(cache);
      const out = await posture(
        ['enroll', '--server', verifier.url, '--token', TOKEN, '--new-key-if-revoked'],
        env,
      );
      expect(out.code).toBe(9);
      expect(verifier.kids).toHaveLength(1);
    } finally {
      await verifier.close();
    }
  }, 60_000);
});
