/**
 * Claims have exact types and every time claim is honoured: attestation nbf, proof exp and nbf;
 * no array or object where a string is expected; htm is an ASCII method token. Tokens that are
 * not compact JWS (JSON serialisation, extra dots, whitespace) are malformed, not duplicated.
 */
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { base64url } from 'jose';
import { athOf } from '../../src/attest/session.js';
import type { Decision, VerifyOptions } from '../../src/verifier/index.js';
import { verifyRequest } from '../../src/verifier/index.js';
import { forge, headersFor, NOW, testDevice, URL_, verifyOptions } from '../helpers/device.js';

const b64 = (v: unknown) => base64url.encode(JSON.stringify(v));
const NOW_S = NOW / 1000;

function expectDeny(d: Decision, code: string, status = 401): void {
  expect(d.reasons[0]?.code).toBe(code);
  expect(d.allowed).toBe(false);
  expect(d.status).toBe(status);
}

async function setup(overrides: Partial<VerifyOptions> = {}) {
  const device = await testDevice('claims-1');
  const options = verifyOptions([device.record], overrides);
  const attestation = await device.attest();
  const check = (attestationText: string, proofText: string, method = 'GET') =>
    verifyRequest({ method, url: URL_, headers: headersFor(attestationText, proofText) }, options);
  const reattest = (change: Record<string, unknown>) =>
    forge(
      { alg: 'ES256', typ: 'posture-attestation+jwt', kid: device.key.kid },
      { ...attestation.claims, ...change },
      device.key,
    );
  const withProof = (token: string, at = NOW) =>
    check(token, attestation.session.proof('GET', URL_, token, at));
  return { device, options, attestation, check, reattest, withProof };
}

/** A P-256 key that signs proofs with arbitrary claims. */
function proofSigner() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const exported = publicKey.export({ format: 'jwk' });
  const jwk = { kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y };
  const sign = (claims: Record<string, unknown>) => {
    const input = `${b64({ typ: 'posture-proof+jwt', alg: 'ES256', jwk })}.${b64(claims)}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  };
  return { jwk, sign };
}

/** A proof with arbitrary claims, signed by a fresh key (so signature and header pass). */
const signedProof = (claims: Record<string, unknown>) => proofSigner().sign(claims);

describe('attestation time and type claims', () => {
  it('nbf in the future (beyond the clock skew) → attestation_not_yet_valid; within the skew or past → allowed', async () => {
    const s = await setup();
    await expect(s.withProof(await s.reattest({ nbf: NOW_S + 60 }))).resolves.toMatchObject({
      reasons: [{ code: 'attestation_not_yet_valid' }],
    });
    expect((await s.withProof(await s.reattest({ nbf: NOW_S + 3 }), NOW + 1)).allowed).toBe(true);
    expect((await s.withProof(await s.reattest({ nbf: NOW_S - 30 }), NOW + 2)).allowed).toBe(true);
  });

  it.each([
    ['key_protection as an array', { key_protection: ['keychain'] }],
    ['key_protection as an object', { key_protection: { value: 'keychain' } }],
    ['sub as an array', { sub: ['claims-1'], iss: ['claims-1'] }],
    ['aud as an array', { aud: ['https://app.example.com'] }],
    ['jti as a number', { jti: 1234567890123456 }],
    ['nbf as text', { nbf: String(NOW_S) }],
    ['eat_nonce as an array', { eat_nonce: ['n'] }],
    ['swname as an object', { swname: { name: 'posture-agent' } }],
    ['swversion as a number', { swversion: 1 }],
    ['posture as an array', { posture: [] }],
    ['checks as an array', { posture: { platform: 'linux', collectedAt: '', checks: [] } }],
    ['platform as an array', { posture: { platform: ['linux'], collectedAt: '', checks: {} } }],
    ['collectedAt as a number', { posture: { platform: 'linux', collectedAt: 1, checks: {} } }],
    ['cnf as an array', { cnf: [] }],
  ])('%s → attestation_claims_invalid', async (_name, change) => {
    const s = await setup();
    expectDeny(await s.withProof(await s.reattest(change)), 'attestation_claims_invalid');
  });
});

describe('proof time and type claims', () => {
  const good = (token: string) => ({
    htm: 'GET',
    htu: URL_,
    iat: NOW_S,
    jti: 'x'.repeat(22),
    ath: athOf(token),
  });

  it('an expired proof → proof_expired; a proof not yet valid → proof_not_yet_valid', async () => {
    const s = await setup();
    // An attestation naming a session key this test holds, so its proofs pass every other check.
    const session = proofSigner();
    const t = await s.reattest({ cnf: { jwk: session.jwk } });
    let n = 0;
    const proof = (extra: Record<string, unknown>) =>
      session.sign({ ...good(t), jti: `jti-${(n += 1)}-${'q'.repeat(20)}`, ...extra });
    expectDeny(await s.check(t, proof({ exp: NOW_S - 1 })), 'proof_expired');
    expectDeny(await s.check(t, proof({ exp: NOW_S })), 'proof_expired');
    expectDeny(await s.check(t, proof({ nbf: NOW_S + 30 })), 'proof_not_yet_valid');
    expect((await s.check(t, proof({ exp: NOW_S + 30, nbf: NOW_S + 2 }))).allowed).toBe(true);
  });

  it.each([
    ['htm as an array', { htm: ['GET'] }],
    ['htm with non-ASCII letters', { htm: 'GEſT' }],
    ['htm with a space', { htm: 'GET ' }],
    ['htm empty', { htm: '' }],
    ['htu as an array', { htu: [URL_] }],
    ['jti as an object', { jti: { id: 'x'.repeat(22) } }],
    ['ath as an array', { ath: ['a'] }],
    ['exp as text', { exp: String(NOW_S + 30) }],
    ['nbf as a fraction', { nbf: NOW_S + 0.5 }],
  ])('%s → proof_claims_invalid', async (_name, change) => {
    const s = await setup();
    const t = s.attestation.token;
    expectDeny(await s.check(t, signedProof({ ...good(t), ...change })), 'proof_claims_invalid');
  });

  it('a request method that is not an ASCII token never matches (poſt upper-cases to POST)', async () => {
    const s = await setup();
    const t = s.attestation.token;
    const d = await s.check(t, s.attestation.session.proof('POST', URL_, t, NOW), 'poſt');
    expectDeny(d, 'proof_method_mismatch');
  });
});

describe('tokens that are not compact JWS', () => {
  const jsonSerialised = (token: string) => {
    const [protectedHeader, payload, signature] = token.split('.');
    return JSON.stringify({ payload, signatures: [{ protected: protectedHeader, signature }] });
  };
  const flattened = (token: string) => {
    const [protectedHeader, payload, signature] = token.split('.');
    return JSON.stringify({ protected: protectedHeader, payload, signature });
  };
  it.each([
    ['JWS JSON serialisation', jsonSerialised],
    ['flattened JWS JSON serialisation', flattened],
    ['an extra dot', (t: string) => `${t}.`],
    ['four parts', (t: string) => `${t}.${t.split('.')[2]}`],
    ['whitespace inside', (t: string) => t.replace('.', '. ')],
    ['a comma-joined token and garbage', (t: string) => `${t}, {"x":1}`],
    ['a trailing comma', (t: string) => `${t},`],
  ])('%s → malformed_token', async (_name, mangle) => {
    const s = await setup();
    const t = s.attestation.token;
    const proof = s.attestation.session.proof('GET', URL_, t, NOW);
    expectDeny(await s.check(mangle(t), proof), 'malformed_token');
    expectDeny(await s.check(t, mangle(proof)), 'malformed_token');
  });
});
