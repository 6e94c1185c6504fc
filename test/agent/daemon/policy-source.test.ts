/**
 * The daemon's policy: the verifier's `/v1/policy` (a real HTTP server on a kernel-chosen port),
 * asked conditionally; the last one kept when the verifier fails; none (never the built-in one)
 * before the first answer; the local policy only when no verifier is configured.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPolicySource } from '../../../src/agent/daemon/policy-source.js';
import { DEFAULT_POLICY, validatePolicy } from '../../../src/shared/policy.js';

const VERIFIER_POLICY = validatePolicy({ ...DEFAULT_POLICY, revision: 'verifier-r7' });

function verifier(
  handler: (ifNoneMatch: string | undefined) => { status: number; body?: string; etag?: string },
) {
  const seen: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    const inm = req.headers['if-none-match'];
    seen.push(typeof inm === 'string' ? inm : undefined);
    const answer = handler(typeof inm === 'string' ? inm : undefined);
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      ...(answer.etag ? { etag: answer.etag } : {}),
    });
    res.end(answer.body ?? '');
  });
  return {
    seen,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        ),
      ),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('daemon policy source', () => {
  it('no verifier configured: the local policy', async () => {
    const source = createPolicySource({ local: async () => DEFAULT_POLICY });
    expect((await source.current()).state).toEqual({ policy: DEFAULT_POLICY, origin: 'local' });
  });

  it('asks the verifier, then conditionally with its ETag; a 304 keeps the policy', async () => {
    const body = JSON.stringify({ revision: 'verifier-r7', policy: VERIFIER_POLICY });
    const v = verifier((inm) => (inm === '"r7"' ? { status: 304 } : { status: 200, body, etag: '"r7"' }));
    const server = await v.start();
    try {
      const source = createPolicySource({ server, local: async () => DEFAULT_POLICY });
      const first = await source.current();
      expect(first.state?.origin).toBe('verifier');
      expect(first.state?.policy.revision).toBe('verifier-r7');
      const second = await source.current();
      expect(second.state?.policy.revision).toBe('verifier-r7');
      expect(second.problem).toBeUndefined();
      expect(v.seen).toEqual([undefined, '"r7"']);
    } finally {
      await v.stop();
    }
  });

  it('a verifier that fails or answers garbage: the last policy kept, with a problem; none before the first', async () => {
    let mode: 'ok' | 'garbage' | 'error' = 'garbage';
    const body = JSON.stringify({ revision: 'verifier-r7', policy: VERIFIER_POLICY });
    const v = verifier(() =>
      mode === 'ok'
        ? { status: 200, body }
        : mode === 'garbage'
          ? { status: 200, body: '{"x":' }
          : { status: 500 },
    );
    const server = await v.start();
    try {
      const source = createPolicySource({ server, local: async () => DEFAULT_POLICY });
      const none = await source.current();
      expect(none.state).toBeUndefined(); // never the built-in policy in the verifier's place
      expect(none.problem).toBeDefined();
      mode = 'ok';
      expect((await source.current()).state?.policy.revision).toBe('verifier-r7');
      mode = 'error';
      const kept = await source.current();
      expect(kept.state?.policy.revision).toBe('verifier-r7');
      expect(kept.problem).toBeDefined();
    } finally {
      await v.stop();
    }
  });
});
