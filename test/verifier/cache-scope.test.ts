/**
 * A verified attestation must never carry one verifier's options into another: audience, nonce,
 * age and not-before are checked on every request, cached or not; a verifier without a cache of its
 * own gets one scoped to its options; and the cache is bounded by memory, not only by count.
 */
import type { Decision, VerifiedAttestation, VerifyOptions } from '../../src/verifier/index.js';
import { AttestationCache, MemoryReplayStore, verifyRequest } from '../../src/verifier/index.js';
import { AUDIENCE, forge, headersFor, NOW, testDevice, URL_, verifyOptions } from '../helpers/device.js';

const OTHER_AUDIENCE = 'https://other.example.com';

function expectDeny(d: Decision, code: string, status = 401): void {
  expect(d.reasons[0]?.code).toBe(code);
  expect(d.allowed).toBe(false);
  expect(d.status).toBe(status);
}

async function setup() {
  const device = await testDevice('cache-1');
  const attestation = await device.attest();
  const ask = (options: VerifyOptions, at = NOW) =>
    verifyRequest(
      {
        method: 'GET',
        url: URL_,
        headers: headersFor(attestation.token, attestation.session.proof('GET', URL_, attestation.token, at)),
      },
      options,
    );
  return { device, attestation, ask };
}

describe('attestation cache scope', () => {
  it('without a cache option: a verifier for audience B denies what A’s verifier cached', async () => {
    const s = await setup();
    const { cache: _a, ...forA } = verifyOptions([s.device.record]);
    const { cache: _b, ...forB } = verifyOptions([s.device.record], { audience: OTHER_AUDIENCE });
    expect((await s.ask(forA)).allowed).toBe(true);
    expectDeny(await s.ask(forB, NOW + 1000), 'attestation_audience_invalid');
  });

  it('one cache shared by two verifiers: audience is still checked on a hit', async () => {
    const s = await setup();
    const cache = new AttestationCache<VerifiedAttestation>();
    const a = verifyOptions([s.device.record], { cache });
    const b = verifyOptions([s.device.record], { cache, audience: OTHER_AUDIENCE });
    expect((await s.ask(a)).allowed).toBe(true);
    expectDeny(await s.ask(b, NOW + 1000), 'attestation_audience_invalid');
  });

  it('nonce: a verifier that requires one denies a cached attestation without it, and one whose nonce has gone stale', async () => {
    const s = await setup();
    const cache = new AttestationCache<VerifiedAttestation>();
    expect((await s.ask(verifyOptions([s.device.record], { cache }))).allowed).toBe(true);
    const strict = verifyOptions([s.device.record], {
      cache,
      nonce: { required: true, verify: async () => true },
    });
    expectDeny(await s.ask(strict, NOW + 1000), 'attestation_nonce_invalid');

    let current = 'nonce-1';
    const rotating = verifyOptions([s.device.record], {
      nonce: { required: true, verify: async (n) => n === current },
    });
    const withNonce = await s.device.attest({ nonce: 'nonce-1' });
    const ask = (at: number) =>
      verifyRequest(
        {
          method: 'GET',
          url: URL_,
          headers: headersFor(withNonce.token, withNonce.session.proof('GET', URL_, withNonce.token, at)),
        },
        { ...rotating, now: () => at },
      );
    expect((await ask(NOW)).allowed).toBe(true);
    current = 'nonce-2';
    expectDeny(await ask(NOW + 1000), 'attestation_nonce_invalid');
  });

  it('max age: a verifier with a shorter limit, or the clock moving past it, denies a cached attestation', async () => {
    const s = await setup();
    const cache = new AttestationCache<VerifiedAttestation>();
    const lax = verifyOptions([s.device.record], { cache, maxAttestationAgeSeconds: 900 });
    expect((await s.ask(lax)).allowed).toBe(true);
    const strict = verifyOptions([s.device.record], { cache, maxAttestationAgeSeconds: 300 });
    // Lifetime 600 s > 300 s: too old for this verifier, cached or not.
    expectDeny(await s.ask(strict, NOW + 1000), 'attestation_too_old');

    const short = await s.device.attest({ lifetimeSeconds: 300 });
    const ageLimited = verifyOptions([s.device.record], { maxAttestationAgeSeconds: 300 });
    const ask = (at: number) =>
      verifyRequest(
        {
          method: 'GET',
          url: URL_,
          headers: headersFor(short.token, short.session.proof('GET', URL_, short.token, at)),
        },
        { ...ageLimited, now: () => at },
      );
    expect((await ask(NOW)).allowed).toBe(true);
    expect((await ask(NOW + 200_000)).allowed).toBe(true);
    expectDeny(await ask(NOW + 300_000), 'attestation_expired');
  });

  it('a cached attestation whose device key changed in the store is not trusted', async () => {
    const s = await setup();
    const options = verifyOptions([s.device.record]);
    expect((await s.ask(options)).allowed).toBe(true);
    const other = await testDevice('cache-1');
    s.device.record.jwk = other.key.publicJwk;
    expectDeny(await s.ask(options, NOW + 1000), 'attestation_signature_invalid');
  });
});

describe('attestation cache memory bound', () => {
  it('thousands of large attestations from one device stay within the byte bound', async () => {
    const device = await testDevice('big-1');
    const maxBytes = 4 * 1024 * 1024;
    const cache = new AttestationCache<VerifiedAttestation>(20_000, maxBytes);
    const options = verifyOptions([device.record], {
      cache,
      replayStore: new MemoryReplayStore(10_000, 120_000, 10_000),
    });
    const base = await device.attest();
    // About 7.3 KB each: a padded posture, re-signed with a new jti every time.
    const padding = 'x'.repeat(4000);
    let allowed = 0;
    for (let i = 0; i < 2000; i++) {
      const claims = {
        ...base.claims,
        jti: `jti-${i}-${'y'.repeat(16)}`,
        posture: { ...base.claims.posture, collectedAt: `${base.claims.posture.collectedAt}${padding}` },
      };
      const token = await forge(
        { alg: 'ES256', typ: 'posture-attestation+jwt', kid: device.key.kid },
        claims,
        device.key,
      );
      expect(token.length).toBeGreaterThan(7000);
      const d = await verifyRequest(
        {
          method: 'GET',
          url: URL_,
          headers: headersFor(token, base.session.proof('GET', URL_, token, NOW)),
        },
        options,
      );
      if (d.allowed) allowed++;
      expect(cache.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(allowed).toBe(2000);
    expect(cache.size).toBeLessThan(2000);
    expect(cache.size).toBeGreaterThan(0);
  });

  it('counts an entry by its size: replacing and expiring give the bytes back', () => {
    const cache = new AttestationCache<number>(100, 1_000_000);
    cache.set('h.p.s1', 1, 5000);
    const one = cache.bytes;
    expect(one).toBeGreaterThan(0);
    cache.set(`h.${'p'.repeat(10_000)}.s2`, 2, 5000);
    expect(cache.bytes).toBeGreaterThan(one + 10_000);
    expect(cache.get('h.p.s1', 6000)).toBeUndefined();
    cache.set('h.p.s2', 3, 9000);
    expect(cache.bytes).toBe(one);
    expect(cache.size).toBe(1);
  });

  it('an entry larger than the whole bound is not kept', () => {
    const cache = new AttestationCache<number>(100, 4096);
    cache.set(`h.${'p'.repeat(8000)}.s1`, 1, 5000);
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});

it('audience is a constant of the test helper', () => {
  expect(AUDIENCE).not.toBe(OTHER_AUDIENCE);
});
