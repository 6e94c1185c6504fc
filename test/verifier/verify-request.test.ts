/**
 * verifyRequest on hostile input: every case asserts its exact reason code and status.
 */
import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { base64url } from 'jose';
import { athOf, createSessionKey } from '../../src/attest/session.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { Decision, VerifyOptions } from '../../src/verifier/index.js';
import { verifyRequest } from '../../src/verifier/index.js';
import {
  AUDIENCE,
  compliantChecks,
  forge,
  headersFor,
  NOW,
  testDevice,
  URL_,
  verifyOptions,
} from '../helpers/device.js';

const b64 = (v: unknown) => base64url.encode(JSON.stringify(v));

async function setup(overrides: Partial<VerifyOptions> = {}) {
  const device = await testDevice('laptop-1');
  const other = await testDevice('laptop-2');
  const options = verifyOptions([device.record, other.record], overrides);
  const attestation = await device.attest();
  const proof = (method = 'GET', url = URL_, at = NOW) =>
    attestation.session.proof(method, url, attestation.token, at);
  const check = (
    headers: Record<string, string | string[] | undefined>,
    method = 'GET',
    url = URL_,
    opts: VerifyOptions = options,
  ) => verifyRequest({ method, url, headers }, opts);
  return { device, other, options, attestation, proof, check };
}

function expectDeny(d: Decision, code: string, status = 401): void {
  expect(d.allowed).toBe(false);
  expect(d.reasons[0]?.code).toBe(code);
  expect(d.status).toBe(status);
}

/** Claims of the valid attestation with some replaced, re-signed by `key`. */
async function reattest(
  s: Awaited<ReturnType<typeof setup>>,
  change: Record<string, unknown>,
  header: Record<string, unknown> = {},
  key = s.device.key,
) {
  const claims = { ...s.attestation.claims, ...change };
  return forge({ alg: 'ES256', typ: 'posture-attestation+jwt', kid: key.kid, ...header }, claims, key);
}

describe('verifyRequest', () => {
  it('allows a compliant device with a fresh proof, and says which device and policy', async () => {
    const s = await setup();
    const d = await s.check(headersFor(s.attestation.token, s.proof()));
    expect(d).toMatchObject({
      allowed: true,
      status: 200,
      reasons: [],
      policyRevision: 'test-policy',
      device: { id: 'laptop-1', kid: s.device.key.kid, keyProtection: 'keychain' },
    });
    expect(d.attestationExpiresAt).toBe(s.attestation.expiresAt);
    expect(d.decisionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('headers', () => {
    it('no headers → headers_missing', async () => {
      const s = await setup();
      expectDeny(await s.check({}), 'headers_missing');
      expectDeny(await s.check({ 'posture-attestation': s.attestation.token }), 'headers_missing');
    });
    it('a duplicated header (two values, or joined with a comma by a proxy) → header_duplicated', async () => {
      const s = await setup();
      expectDeny(
        await s.check({
          'posture-attestation': [s.attestation.token, s.attestation.token],
          'posture-proof': s.proof(),
        }),
        'header_duplicated',
      );
      expectDeny(
        await s.check({
          'Posture-Attestation': s.attestation.token,
          'posture-attestation': s.attestation.token,
          'posture-proof': s.proof(),
        }),
        'header_duplicated',
      );
      expectDeny(
        await s.check(headersFor(`${s.attestation.token}, ${s.attestation.token}`, s.proof())),
        'header_duplicated',
      );
    });
    it('an oversized header → header_too_large', async () => {
      const s = await setup();
      expectDeny(
        await s.check(headersFor(`${s.attestation.token}${'A'.repeat(9000)}`, s.proof())),
        'header_too_large',
      );
    });
    it.each([
      ['characters outside base64url', (t: string) => t.replace(/\./, '.$')],
      ['two parts', (t: string) => t.split('.').slice(0, 2).join('.')],
      [
        'payload that is JSON but not an object',
        (t: string) => [t.split('.')[0], b64([1, 2]), t.split('.')[2]].join('.'),
      ],
      ['payload that is a number', (t: string) => [t.split('.')[0], b64(42), t.split('.')[2]].join('.')],
      [
        'header that is not JSON',
        (t: string) => [base64url.encode('{"alg":'), ...t.split('.').slice(1)].join('.'),
      ],
    ])('%s → malformed_token', async (_name, mangle) => {
      const s = await setup();
      expectDeny(await s.check(headersFor(mangle(s.attestation.token), s.proof())), 'malformed_token');
      expectDeny(await s.check(headersFor(s.attestation.token, mangle(s.proof()))), 'malformed_token');
    });
  });

  describe('the proof', () => {
    it('alg none, HS256 with the public key as secret, ES384, EdDSA, wrong typ → proof_header_invalid', async () => {
      const s = await setup();
      const [, payload] = s.proof().split('.');
      const header = (h: object) =>
        b64({ typ: 'posture-proof+jwt', jwk: s.attestation.session.publicJwk, ...h });
      expectDeny(
        await s.check(headersFor(s.attestation.token, `${header({ alg: 'none' })}.${payload}.AAAA`)),
        'proof_header_invalid',
      );
      const hsInput = `${header({ alg: 'HS256' })}.${payload}`;
      const hs = createHmac('sha256', JSON.stringify(s.attestation.session.publicJwk))
        .update(hsInput)
        .digest('base64url');
      expectDeny(await s.check(headersFor(s.attestation.token, `${hsInput}.${hs}`)), 'proof_header_invalid');
      for (const alg of ['ES384', 'EdDSA', 'RS256']) {
        expectDeny(
          await s.check(headersFor(s.attestation.token, `${header({ alg })}.${payload}.AAAA`)),
          'proof_header_invalid',
        );
      }
      expectDeny(
        await s.check(
          headersFor(s.attestation.token, `${header({ alg: 'ES256', typ: 'dpop+jwt' })}.${payload}.AAAA`),
        ),
        'proof_header_invalid',
      );
    });
    it('a proof whose embedded key carries a private part is refused', async () => {
      const s = await setup();
      const [, payload, sig] = s.proof().split('.');
      const jwk = { ...s.attestation.session.publicJwk, d: 'A'.repeat(43) };
      expectDeny(
        await s.check(
          headersFor(
            s.attestation.token,
            `${b64({ typ: 'posture-proof+jwt', alg: 'ES256', jwk })}.${payload}.${sig}`,
          ),
        ),
        'proof_header_invalid',
      );
    });
    it('an unknown crit → crit_unsupported', async () => {
      const s = await setup();
      const [, payload, sig] = s.proof().split('.');
      const header = b64({
        typ: 'posture-proof+jwt',
        alg: 'ES256',
        jwk: s.attestation.session.publicJwk,
        crit: ['exp'],
        exp: 1,
      });
      expectDeny(
        await s.check(headersFor(s.attestation.token, `${header}.${payload}.${sig}`)),
        'crit_unsupported',
      );
    });
    it('after an allowed request (attestation and proof header cached) every hostile header is still refused', async () => {
      const s = await setup();
      expect((await s.check(headersFor(s.attestation.token, s.proof()))).allowed).toBe(true);
      const [h, payload, sig] = s.proof('GET', URL_, NOW + 1000).split('.') as [string, string, string];
      const jwk = s.attestation.session.publicJwk;
      const cases: Array<[object, string]> = [
        [{ typ: 'posture-proof+jwt', alg: 'none', jwk }, 'proof_header_invalid'],
        [{ typ: 'dpop+jwt', alg: 'ES256', jwk }, 'proof_header_invalid'],
        [
          { typ: 'posture-proof+jwt', alg: 'ES256', jwk: { ...jwk, d: 'A'.repeat(43) } },
          'proof_header_invalid',
        ],
        [{ typ: 'posture-proof+jwt', alg: 'ES256', jwk, crit: ['exp'], exp: 1 }, 'crit_unsupported'],
      ];
      for (const [header, code] of cases)
        expectDeny(await s.check(headersFor(s.attestation.token, `${b64(header)}.${payload}.${sig}`)), code);
      // The cached header with another payload still needs the session key's signature.
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
      const forged = b64({ ...claims, htu: 'https://app.example.com/admin' });
      expectDeny(
        await s.check(headersFor(s.attestation.token, `${h}.${forged}.${sig}`)),
        'proof_signature_invalid',
      );
      // And the untouched proof passes.
      expect((await s.check(headersFor(s.attestation.token, `${h}.${payload}.${sig}`))).allowed).toBe(true);
    });
    it('a tampered payload or signature → proof_signature_invalid', async () => {
      const s = await setup();
      const [h, p, sig] = s.proof().split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
      expectDeny(
        await s.check(
          headersFor(s.attestation.token, `${h}.${b64({ ...claims, htm: 'POST' })}.${sig}`),
          'POST',
        ),
        'proof_signature_invalid',
      );
      const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
      expectDeny(
        await s.check(headersFor(s.attestation.token, `${h}.${p}.${flipped}`)),
        'proof_signature_invalid',
      );
    });
    it('a proof for another method, URL or host', async () => {
      const s = await setup();
      expectDeny(await s.check(headersFor(s.attestation.token, s.proof('POST'))), 'proof_method_mismatch');
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', 'https://app.example.com/api/other'))),
        'proof_url_mismatch',
      );
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', 'https://evil.example.net/api/items'))),
        'proof_url_mismatch',
      );
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', 'http://app.example.com/api/items'))),
        'proof_url_mismatch',
      );
    });
    it('query and fragment are not part of htu; host case and default port do not matter', async () => {
      const s = await setup();
      const d = await s.check(
        headersFor(s.attestation.token, s.proof('GET', 'https://APP.example.com:443/api/items?x=1#f')),
        'GET',
        'https://app.example.com/api/items?y=2',
      );
      expect(d.allowed).toBe(true);
    });
    it('a proof iat outside the window → proof_iat_out_of_window', async () => {
      const s = await setup();
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW - 120_000))),
        'proof_iat_out_of_window',
      );
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW + 60_000))),
        'proof_iat_out_of_window',
      );
    });
    it('a replayed proof → proof_replayed', async () => {
      const s = await setup();
      const proof = s.proof();
      expect((await s.check(headersFor(s.attestation.token, proof))).allowed).toBe(true);
      expectDeny(await s.check(headersFor(s.attestation.token, proof)), 'proof_replayed');
    });
    it('missing or mistyped proof claims → proof_claims_invalid', async () => {
      const s = await setup();
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const signWith = (claims: object) => {
        const input = `${b64({ typ: 'posture-proof+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } })}.${b64(claims)}`;
        return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      };
      const good = {
        htm: 'GET',
        htu: URL_,
        iat: NOW / 1000,
        jti: 'x'.repeat(22),
        ath: athOf(s.attestation.token),
      };
      for (const bad of [
        { ...good, iat: '1763812800' },
        { ...good, iat: 1e300 },
        { ...good, jti: 'short' },
        { ...good, htm: 7 },
        { htm: 'GET' },
      ]) {
        expectDeny(await s.check(headersFor(s.attestation.token, signWith(bad))), 'proof_claims_invalid');
      }
    });
  });

  describe('the attestation', () => {
    it('alg none, HS256 with the public key, ES384, EdDSA, wrong typ, no kid → attestation_header_invalid', async () => {
      const s = await setup();
      const [, payload, sig] = s.attestation.token.split('.');
      const header = (h: object) => b64({ typ: 'posture-attestation+jwt', kid: s.device.key.kid, ...h });
      for (const h of [
        { alg: 'none' },
        { alg: 'HS256' },
        { alg: 'ES384' },
        { alg: 'EdDSA' },
        { alg: 'ES256', typ: 'JWT' },
        { alg: 'ES256', kid: undefined },
      ]) {
        const token = `${header(h)}.${payload}.${sig}`;
        const proof = s.attestation.session.proof('GET', URL_, token, NOW);
        expectDeny(await s.check(headersFor(token, proof)), 'attestation_header_invalid');
      }
      const hsInput = `${header({ alg: 'HS256' })}.${payload}`;
      const hs = `${hsInput}.${createHmac('sha256', JSON.stringify(s.device.key.publicJwk)).update(hsInput).digest('base64url')}`;
      expectDeny(
        await s.check(headersFor(hs, s.attestation.session.proof('GET', URL_, hs, NOW))),
        'attestation_header_invalid',
      );
    });

    const denyWith = async (
      s: Awaited<ReturnType<typeof setup>>,
      token: string,
      code: string,
      status = 401,
    ) =>
      expectDeny(
        await s.check(headersFor(token, s.attestation.session.proof('GET', URL_, token, NOW))),
        code,
        status,
      );

    it('an attestation carrying its own key → attestation_embedded_key', async () => {
      const s = await setup();
      await denyWith(s, await reattest(s, {}, { jwk: s.device.key.publicJwk }), 'attestation_embedded_key');
      await denyWith(
        s,
        await reattest(s, {}, { jku: 'https://evil.example.net/keys' }),
        'attestation_embedded_key',
      );
    });
    it('an unknown crit → crit_unsupported', async () => {
      const s = await setup();
      await denyWith(s, await reattest(s, {}, { crit: ['x-posture'], 'x-posture': 1 }), 'crit_unsupported');
    });
    it('the kid of another device, signed by this one → attestation_signature_invalid', async () => {
      const s = await setup();
      await denyWith(
        s,
        await forge(
          { alg: 'ES256', typ: 'posture-attestation+jwt', kid: s.other.key.kid },
          { ...s.attestation.claims },
          s.device.key,
        ),
        'attestation_signature_invalid',
      );
    });
    it('another enrolled device claiming to be this one → attestation_subject_mismatch', async () => {
      const s = await setup();
      await denyWith(s, await reattest(s, {}, {}, s.other.key), 'attestation_subject_mismatch');
    });
    it('an unknown key → device_unknown', async () => {
      const s = await setup();
      const stranger = await softwareKey(generatePrivateJwk(), 'keychain', 'x', '');
      await denyWith(s, await reattest(s, {}, {}, stranger), 'device_unknown');
    });
    it('a tampered payload or signature → attestation_signature_invalid', async () => {
      const s = await setup();
      const [h, , sig] = s.attestation.token.split('.') as [string, string, string];
      await denyWith(
        s,
        `${h}.${b64({ ...s.attestation.claims, key_protection: 'tpm' })}.${sig}`,
        'attestation_signature_invalid',
      );
      const p = s.attestation.token.split('.')[1];
      await denyWith(s, `${h}.${p}.${sig.slice(0, -4)}AAAA`, 'attestation_signature_invalid');
    });
    it('expired, not yet valid, too old', async () => {
      const s = await setup();
      await denyWith(
        s,
        await reattest(s, { iat: NOW / 1000 - 700, exp: NOW / 1000 - 100 }),
        'attestation_expired',
      );
      await denyWith(
        s,
        await reattest(s, { iat: NOW / 1000 + 120, exp: NOW / 1000 + 600 }),
        'attestation_not_yet_valid',
      );
      await denyWith(
        s,
        await reattest(s, { iat: NOW / 1000 - 1000, exp: NOW / 1000 + 100 }),
        'attestation_too_old',
      );
      await denyWith(s, await reattest(s, { exp: NOW / 1000 + 86_400 }), 'attestation_too_old');
    });
    it('wrong audience → attestation_audience_invalid', async () => {
      const s = await setup();
      await denyWith(
        s,
        await reattest(s, { aud: 'https://other.example.com' }),
        'attestation_audience_invalid',
      );
    });
    it.each([
      ['absurd iat', { iat: 1e300 }],
      ['iat as text', { iat: String(NOW / 1000) }],
      ['no cnf', { cnf: undefined }],
      [
        'cnf with a private key',
        {
          cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43), d: 'A'.repeat(43) } },
        },
      ],
      ['posture that is not an object', { posture: 'fine' }],
      [
        'a check with an unknown status',
        { posture: { platform: 'linux', collectedAt: '', checks: { firewall: { status: 'trust-me' } } } },
      ],
      ['unknown key protection', { key_protection: 'quantum' }],
      ['another profile', { eat_profile: 'tag:other' }],
    ])('%s → attestation_claims_invalid', async (_name, change) => {
      const s = await setup();
      await denyWith(s, await reattest(s, change), 'attestation_claims_invalid');
    });
    it('nonce required and missing or stale → attestation_nonce_invalid', async () => {
      const nonce = { required: true, verify: async (n: string) => n === 'current-nonce' };
      const s = await setup({ nonce });
      expectDeny(await s.check(headersFor(s.attestation.token, s.proof())), 'attestation_nonce_invalid');
      const withNonce = await s.device.attest({ nonce: 'current-nonce' });
      expect(
        (
          await s.check(
            headersFor(withNonce.token, withNonce.session.proof('GET', URL_, withNonce.token, NOW)),
          )
        ).allowed,
      ).toBe(true);
      const stale = await s.device.attest({ nonce: 'old-nonce' });
      expectDeny(
        await s.check(headersFor(stale.token, stale.session.proof('GET', URL_, stale.token, NOW))),
        'attestation_nonce_invalid',
      );
    });
  });

  describe('device and binding', () => {
    it('revoked → device_revoked, locked → device_locked (403), even with a cached attestation', async () => {
      const s = await setup();
      expect((await s.check(headersFor(s.attestation.token, s.proof()))).allowed).toBe(true);
      s.device.record.status = 'revoked';
      const revoked = await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW + 1000)));
      expectDeny(revoked, 'device_revoked', 403);
      // the decision (and so the decision log) names the refused device
      expect(revoked.device?.id).toBe(s.device.record.deviceId);
      s.device.record.status = 'locked';
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW + 2000))),
        'device_locked',
        403,
      );
    });
    it('a key kept where the policy does not allow → key_protection_not_allowed (403)', async () => {
      const s = await setup({ allowedKeyProtection: ['tpm', 'secure_enclave'] });
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof())),
        'key_protection_not_allowed',
        403,
      );
      const ok = await setup({ allowedKeyProtection: ['tpm', 'keychain'] });
      expect((await ok.check(headersFor(ok.attestation.token, ok.proof()))).allowed).toBe(true);
    });
    it('a proof made for another attestation → binding_ath_mismatch', async () => {
      const s = await setup();
      const second = await s.device.attest();
      // Signed by the right session key, but its ath names the other attestation.
      const proof = s.attestation.session.proof('GET', URL_, second.token, NOW);
      expectDeny(await s.check(headersFor(s.attestation.token, proof)), 'binding_ath_mismatch');
    });
    it('a proof signed by a key other than cnf → binding_cnf_mismatch', async () => {
      const s = await setup();
      const intruder = createSessionKey();
      expectDeny(
        await s.check(headersFor(s.attestation.token, intruder.proof('GET', URL_, s.attestation.token, NOW))),
        'binding_cnf_mismatch',
      );
    });
  });

  describe('failing closed', () => {
    it('a device store that cannot be reached → store_unavailable (503)', async () => {
      const s = await setup({
        lookupDevice: async () => {
          throw new Error('connection refused');
        },
      });
      expectDeny(await s.check(headersFor(s.attestation.token, s.proof())), 'store_unavailable', 503);
    });
    it('a replay store that cannot be reached → replay_store_unavailable (503)', async () => {
      const s = await setup({
        replayStore: {
          remember: async () => {
            throw new Error('redis down');
          },
        },
      });
      expectDeny(await s.check(headersFor(s.attestation.token, s.proof())), 'replay_store_unavailable', 503);
    });
    it('a full in-memory replay store refuses rather than forgets', async () => {
      const { MemoryReplayStore } = await import('../../src/verifier/replay.js');
      const s = await setup({ replayStore: new MemoryReplayStore(1, 120_000, 1) });
      expect((await s.check(headersFor(s.attestation.token, s.proof()))).allowed).toBe(true);
      const other = await s.other.attest();
      expectDeny(
        await s.check(headersFor(other.token, other.session.proof('GET', URL_, other.token, NOW + 1000))),
        'replay_store_unavailable',
        503,
      );
    });
    it('a device past its share of the replay store → replay_quota_exceeded (429), other devices go on', async () => {
      const { MemoryReplayStore } = await import('../../src/verifier/replay.js');
      const s = await setup({ replayStore: new MemoryReplayStore(100, 120_000, 3) });
      for (let i = 0; i < 3; i++)
        expect((await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW + i)))).allowed).toBe(
          true,
        );
      expectDeny(
        await s.check(headersFor(s.attestation.token, s.proof('GET', URL_, NOW + 1000))),
        'replay_quota_exceeded',
        429,
      );
      const other = await s.other.attest();
      const d = await s.check(
        headersFor(other.token, other.session.proof('GET', URL_, other.token, NOW + 1000)),
      );
      expect(d.allowed).toBe(true);
    });
  });

  describe('policy', () => {
    it('a failing check → posture_failed (403) naming the check and the fix', async () => {
      const s = await setup();
      const checks = compliantChecks();
      const fw = checks.firewall as { observation: { enabled: boolean } };
      fw.observation = { ...fw.observation, enabled: false };
      const bad = await s.device.attest({ checks });
      const d = await s.check(headersFor(bad.token, bad.session.proof('GET', URL_, bad.token, NOW)));
      expectDeny(d, 'posture_failed', 403);
      expect(d.reasons).toHaveLength(1);
      expect(d.reasons[0]).toMatchObject({ check: 'firewall' });
      expect(d.reasons[0]?.remediation).toBeTruthy();
    });
    /** A compliant device whose firewall could not be read (nft needs root). */
    function withUnknownFirewall() {
      const checks = compliantChecks();
      checks.firewall = {
        check: 'firewall',
        status: 'unknown',
        reason: 'insufficient_privilege',
        detail: 'nft needs root',
        observedAt: '',
        evidence: [],
      };
      return checks;
    }
    it('an unknown check → posture_unknown (403)', async () => {
      const s = await setup();
      const checks = withUnknownFirewall();
      const unk = await s.device.attest({ checks });
      const d = await s.check(headersFor(unk.token, unk.session.proof('GET', URL_, unk.token, NOW)));
      expectDeny(d, 'posture_unknown', 403);
      expect(d.reasons[0]?.check).toBe('firewall');
    });
    it('a failing and an unknown check → both named, the failing one first', async () => {
      const s = await setup();
      const checks = withUnknownFirewall();
      const disk = checks.disk_encryption as { observation: { volumes: { state: string }[] } };
      disk.observation = {
        ...disk.observation,
        volumes: disk.observation.volumes.map((v) => ({ ...v, state: 'unencrypted' })),
      };
      const both = await s.device.attest({ checks });
      const d = await s.check(headersFor(both.token, both.session.proof('GET', URL_, both.token, NOW)));
      expectDeny(d, 'posture_failed', 403);
      expect(d.reasons.map((r) => [r.code, r.check])).toEqual([
        ['posture_failed', 'disk_encryption'],
        ['posture_unknown', 'firewall'],
      ]);
    });
  });

  it('the audience may be a list', async () => {
    const s = await setup({ audience: ['https://x.example', AUDIENCE] });
    expect((await s.check(headersFor(s.attestation.token, s.proof()))).allowed).toBe(true);
  });
});

describe('verifyRequest with node:crypto signatures (what the Node service uses)', () => {
  it('decides exactly as with WebCrypto on valid, tampered and foreign signatures', async () => {
    const { nodeSignatures } = await import('../../src/verifier-service/node-signatures.js');
    const device = await testDevice('node-sig');
    const other = await testDevice('node-sig-2');
    const options = verifyOptions([device.record, other.record], { signatures: nodeSignatures });
    const a = await device.attest();
    const ok = await verifyRequest(
      { method: 'GET', url: URL_, headers: headersFor(a.token, a.session.proof('GET', URL_, a.token, NOW)) },
      options,
    );
    expect(ok.allowed).toBe(true);
    const [h, p, sig] = a.token.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${sig.slice(0, -4)}AAAA`;
    const bad = await verifyRequest(
      {
        method: 'GET',
        url: URL_,
        headers: headersFor(tampered, a.session.proof('GET', URL_, tampered, NOW)),
      },
      options,
    );
    expect(bad.reasons[0]?.code).toBe('attestation_signature_invalid');
    const proof = a.session.proof('GET', URL_, a.token, NOW);
    const [ph, pp, ps] = proof.split('.') as [string, string, string];
    const badProof = await verifyRequest(
      { method: 'GET', url: URL_, headers: headersFor(a.token, `${ph}.${pp}.${ps.slice(0, -4)}AAAA`) },
      options,
    );
    expect(badProof.reasons[0]?.code).toBe('proof_signature_invalid');
    const foreign = await forge(
      { alg: 'ES256', typ: 'posture-attestation+jwt', kid: other.key.kid },
      { ...a.claims },
      device.key,
    );
    const f = await verifyRequest(
      { method: 'GET', url: URL_, headers: headersFor(foreign, a.session.proof('GET', URL_, foreign, NOW)) },
      options,
    );
    expect(f.reasons[0]?.code).toBe('attestation_signature_invalid');
  });
});
