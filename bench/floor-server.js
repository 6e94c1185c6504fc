// The HTTP floor for bench/service.js: a Fastify route that does nothing but one ES256 verification
// per request (of a real proof's signing input) and answers like an allow of the verifier, same
// headers and body size. What it reaches is the most any Node HTTP service with one verify per
// request can reach on this machine; the verifier is measured against it in the same run.
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import Fastify from 'fastify';

const [port, jwk, signingInput, signature] = JSON.parse(process.argv[2]);
const key = createPublicKey({ key: jwk, format: 'jwk' });
const data = Buffer.from(signingInput);
const sig = Buffer.from(signature, 'base64url');
const app = Fastify({ logger: false });
app.get('/v1/forward-auth', async (_req, reply) => {
  if (!verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('bad signature');
  const id = randomUUID();
  return reply
    .headers({
      'x-posture-device': 'dev_0123456789abcdefghij',
      'x-posture-verdict': 'pass',
      'x-posture-key-protection': 'keychain',
      'x-posture-policy-revision': 'builtin-default-2026-11',
      'x-posture-decision': id,
      'cache-control': 'no-store',
    })
    .send({
      allowed: true,
      decisionId: id,
      device: 'dev_0123456789abcdefghij',
      policyRevision: 'builtin-default-2026-11',
    });
});
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => process.exit(0));
