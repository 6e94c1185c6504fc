/**
 * The attestation cache (found by signature segment, confirmed by the whole text) and the compact
 * JWS reader's decoding: the Node fast path must refuse what jose's portable decoder refuses.
 */
import fc from 'fast-check';
import { base64url, decodeJwt, decodeProtectedHeader } from 'jose';
import { AttestationCache } from '../../src/verifier/cache.js';
import { parseCompact } from '../../src/verifier/tokens.js';
import { testDevice } from '../helpers/device.js';

const b64 = (v: unknown) => base64url.encode(JSON.stringify(v));

describe('AttestationCache', () => {
  it('hits only on the exact text: another header or payload with the same signature misses', () => {
    const cache = new AttestationCache<string>();
    cache.set('aaa.bbb.SIG', 'first', 2000);
    expect(cache.get('aaa.bbb.SIG', 1000)).toBe('first');
    expect(cache.get('aaa.bbX.SIG', 1000)).toBeUndefined();
    expect(cache.get('Xaa.bbb.SIG', 1000)).toBeUndefined();
    // The entry with the same signature is replaced, not duplicated.
    cache.set('aaa.bbX.SIG', 'second', 2000);
    expect(cache.get('aaa.bbb.SIG', 1000)).toBeUndefined();
    expect(cache.get('aaa.bbX.SIG', 1000)).toBe('second');
  });

  it('drops an entry at its expiry, and the oldest first when full', () => {
    const cache = new AttestationCache<number>(2);
    cache.set('h.p.s1', 1, 5000);
    cache.set('h.p.s2', 2, 5000);
    expect(cache.get('h.p.s1', 5000)).toBeUndefined();
    cache.set('h.p.s3', 3, 9000);
    cache.set('h.p.s4', 4, 9000);
    expect(cache.get('h.p.s2', 1000)).toBeUndefined();
    expect(cache.get('h.p.s3', 1000)).toBe(3);
    expect(cache.get('h.p.s4', 1000)).toBe(4);
  });
});

describe('parseCompact', () => {
  it('reads a real attestation as jose does', async () => {
    const a = await (await testDevice()).attest();
    const parts = parseCompact(a.token);
    expect(parts?.header).toEqual(decodeProtectedHeader(a.token));
    expect(parts?.payload).toEqual(decodeJwt(a.token));
    expect(parts?.signature).toHaveLength(64);
    expect(new TextDecoder().decode(parts?.signingInput)).toBe(a.token.slice(0, a.token.lastIndexOf('.')));
  });

  it('refuses a segment whose length leaves 1 over 4, in header, payload or signature', () => {
    const h = b64({ alg: 'ES256' });
    const p = b64({ a: 1 });
    const s = base64url.encode(new Uint8Array(64));
    expect(parseCompact(`${h}.${p}.${s}`)).toBeDefined();
    const bad = (x: string) => (x.length % 4 === 0 ? `${x}A` : `${x}${'A'.repeat(5 - (x.length % 4))}`);
    for (const [hh, pp, ss] of [
      [bad(h), p, s],
      [h, bad(p), s],
      [h, p, bad(s)],
    ]) {
      expect(
        (hh as string).length % 4 === 1 || (pp as string).length % 4 === 1 || (ss as string).length % 4 === 1,
      ).toBe(true);
      expect(parseCompact(`${hh}.${pp}.${ss}`)).toBeUndefined();
    }
  });

  it('decodes exactly what jose decodes, and refuses what jose refuses', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), (segment) => {
        const token = `${b64({ alg: 'ES256' })}.${b64({ a: 1 })}.${segment}`;
        let expected: Uint8Array | undefined;
        try {
          expected = base64url.decode(segment);
        } catch {
          expected = undefined;
        }
        const parts = parseCompact(token);
        if (expected === undefined) expect(parts).toBeUndefined();
        else expect(Buffer.from(parts?.signature ?? []).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
