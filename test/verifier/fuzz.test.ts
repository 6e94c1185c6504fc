/**
 * Property-based fuzzing of verifyRequest over mutated valid requests: it never throws and never
 * allows. Each run first spends the original proof (allowed once), then tries the mutation.
 */
import fc from 'fast-check';
import { verifyRequest } from '../../src/verifier/index.js';
import { headersFor, NOW, testDevice, URL_, verifyOptions } from '../helpers/device.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const charMutation = fc.record({
  at: fc.nat(),
  to: fc.constantFrom(...B64URL.split(''), '.', '=', ' ', '\u0000', 'é'),
});
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('char' as const),
    target: fc.constantFrom('attestation' as const, 'proof' as const),
    change: charMutation,
  }),
  fc.record({
    kind: fc.constant('truncate' as const),
    target: fc.constantFrom('attestation' as const, 'proof' as const),
    keep: fc.nat(),
  }),
  fc.record({ kind: fc.constant('swap-parts' as const), part: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    target: fc.constantFrom('attestation' as const, 'proof' as const),
    value: fc.string({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant('method' as const),
    method: fc.constantFrom('POST', 'PUT', 'DELETE', 'get ', 'HEAD'),
  }),
  fc.record({ kind: fc.constant('url' as const), url: fc.webUrl() }),
  fc.record({ kind: fc.constant('replay' as const) }),
);

describe('verifyRequest under fuzzing', () => {
  it('never throws and never allows a mutated request', async () => {
    const device = await testDevice('fuzzed');
    const other = await testDevice('other');
    const attestation = await device.attest();
    const otherAttestation = await other.attest();
    const options = verifyOptions([device.record, other.record]);
    let t = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        t += 1;
        const at = NOW + (t % 50) * 1000;
        const proof = attestation.session.proof('GET', URL_, attestation.token, at);
        const now = () => at;
        const original = await verifyRequest(
          { method: 'GET', url: URL_, headers: headersFor(attestation.token, proof) },
          { ...options, now },
        );
        expect(original.allowed).toBe(true);
        let headers = headersFor(attestation.token, proof);
        let method = 'GET';
        let url = URL_;
        const mutate = (text: string, change: { at: number; to: string }) => {
          const i = change.at % text.length;
          return text.slice(0, i) + change.to + text.slice(i + 1);
        };
        switch (m.kind) {
          case 'char':
            headers = {
              ...headers,
              [`posture-${m.target}`]: mutate(headers[`posture-${m.target}`] ?? '', m.change),
            };
            break;
          case 'truncate':
            headers = {
              ...headers,
              [`posture-${m.target}`]: (headers[`posture-${m.target}`] ?? '').slice(
                0,
                m.keep % (headers[`posture-${m.target}`] ?? '').length,
              ),
            };
            break;
          case 'swap-parts': {
            const a = attestation.token.split('.');
            const b = otherAttestation.token.split('.');
            a[m.part] = b[m.part] ?? '';
            headers = { ...headers, 'posture-attestation': a.join('.') };
            break;
          }
          case 'replace':
            headers = { ...headers, [`posture-${m.target}`]: m.value };
            break;
          case 'method':
            method = m.method;
            break;
          case 'url':
            url = m.url;
            break;
          case 'replay':
            break;
        }
        const decision = await verifyRequest({ method, url, headers }, { ...options, now });
        expect(decision.allowed).toBe(false);
        expect(decision.reasons.length).toBeGreaterThan(0);
        expect(decision.status).toBeGreaterThanOrEqual(401);
      }),
      { numRuns: 400 },
    );
  });
});
