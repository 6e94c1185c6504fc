/**
 * The verifier service over HTTP (Fastify inject) on the embedded SQLite store: enrollment,
 * forward-auth as each proxy calls it, the admin API, rotation, bad input.
 */
import { createAttestation } from '../../src/attest/attestation.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { signCompact } from '../../src/keys/jws.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import type { DeviceKey } from '../../src/keys/types.js';
import { compliantChecks, report } from '../helpers/device.js';
import {
  PROXY_ADDRESS,
  admin,
  APP_AUDIENCE,
  enrollKey,
  enrollmentToken,
  PUBLIC_URL,
  serviceConfig,
  testService,
} from '../helpers/service.js';

const URL_ = 'https://app.example.com/payroll/2026?month=11';
const newKey = async (): Promise<DeviceKey> =>
  softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());

async function enrolledDevice(svc: Awaited<ReturnType<typeof testService>>) {
  const key = await newKey();
  const res = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
  expect(res.statusCode).toBe(201);
  const deviceId = (res.json() as { deviceId: string }).deviceId;
  const attest = (checks = compliantChecks(Date.now())) =>
    createAttestation({
      report: report(checks, Date.now()),
      key,
      audience: APP_AUDIENCE,
      deviceId,
      now: () => Date.now(),
    });
  return { key, deviceId, attest };
}

const nginxHeaders = (h: Record<string, string>, method = 'GET', url = URL_) => ({
  ...h,
  'x-original-method': method,
  'x-original-url': url,
});

describe('verifier service', () => {
  describe('enrollment', () => {
    it('a one-time token enrolls a key once; the device is listed, never deleted', async () => {
      const svc = await testService();
      const key = await newKey();
      const token = await enrollmentToken(svc.call, 'Ana laptop');
      const first = await enrollKey(svc.call, key, token);
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ kid: key.kid, status: 'active', policyRevision: 'service-test' });
      const again = await enrollKey(svc.call, await newKey(), token);
      expect(again.statusCode).toBe(401);
      expect(again.json().error).toBe('token_used');
      const list = (await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).json() as {
        devices: { deviceId: string; label: string; facts: object }[];
      };
      expect(list.devices).toHaveLength(1);
      expect(list.devices[0]).toMatchObject({ label: 'Ana laptop', facts: { hostname: 'laptop-7' } });
    });

    it('re-enrolling the same key keeps its device id', async () => {
      const svc = await testService();
      const key = await newKey();
      const id = (await enrollKey(svc.call, key, await enrollmentToken(svc.call))).json().deviceId;
      const again = await enrollKey(svc.call, key, await enrollmentToken(svc.call));
      expect(again.statusCode).toBe(200);
      expect(again.json().deviceId).toBe(id);
    });

    it.each([
      [
        'an unknown token',
        async (svc: Awaited<ReturnType<typeof testService>>, key: DeviceKey) =>
          enrollKey(svc.call, key, 'x'.repeat(43)),
        'token_invalid',
      ],
      [
        'a token cut short (mistyped)',
        async (svc: Awaited<ReturnType<typeof testService>>, key: DeviceKey) =>
          enrollKey(svc.call, key, 'wrongtoken'),
        'token_invalid',
      ],
      [
        'a proof for another token',
        async (svc: Awaited<ReturnType<typeof testService>>, key: DeviceKey) =>
          enrollKey(svc.call, key, await enrollmentToken(svc.call), { token_hash: 'AAAA' }),
        'proof_token_mismatch',
      ],
      [
        'a stale nonce',
        async (svc: Awaited<ReturnType<typeof testService>>, key: DeviceKey) =>
          enrollKey(svc.call, key, await enrollmentToken(svc.call), { nonce: 'A'.repeat(43) }),
        'nonce_invalid',
      ],
      [
        'another audience',
        async (svc: Awaited<ReturnType<typeof testService>>, key: DeviceKey) =>
          enrollKey(svc.call, key, await enrollmentToken(svc.call), { aud: 'https://evil.example' }),
        'server_url_mismatch',
      ],
    ])('refuses %s', async (_name, attempt, code) => {
      const svc = await testService();
      const res = await attempt(svc, await newKey());
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe(code);
    });

    it('an expired token is refused', async () => {
      let clock = Date.now();
      const svc = await testService({ now: () => clock });
      const res0 = await svc.call({
        method: 'POST',
        url: '/v1/admin/enrollment-tokens',
        headers: admin,
        payload: { ttlMinutes: 1 },
      });
      const token = res0.json().token as string;
      clock += 120_000;
      const res = await enrollKey(svc.call, await newKey(), token, { iat: Math.floor(clock / 1000) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('token_expired');
    });
  });

  describe('forward-auth', () => {
    it('nginx auth_request style: allow with device headers for the upstream', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const a = await d.attest();
      const res = await svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: nginxHeaders(postureHeaders(a, 'GET', URL_)),
      });
      expect(res.statusCode).toBe(200);
      // No body on allow: nginx auth_request would drop its keep-alive connection to read past one.
      expect(res.body).toBe('');
      expect(res.headers['content-length']).toBe('0');
      expect(res.headers['x-posture-device']).toBe(d.deviceId);
      expect(res.headers['x-posture-verdict']).toBe('pass');
      expect(res.headers['x-posture-policy-revision']).toBe('service-test');
      expect(svc.decisions.at(-1)).toMatchObject({
        allowed: true,
        device: d.deviceId,
        policyRevision: 'service-test',
      });
    });

    it('Caddy/Traefik style X-Forwarded-* and Envoy ext_authz path style, each from its own trusted address', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const a = await d.attest();
      const caddy = await svc.callFrom(PROXY_ADDRESS.caddy)({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: {
          ...postureHeaders(a, 'POST', URL_),
          'x-forwarded-method': 'POST',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'app.example.com',
          'x-forwarded-uri': '/payroll/2026?month=11',
        },
      });
      expect(caddy.statusCode).toBe(200);
      const envoy = await svc.callFrom(PROXY_ADDRESS.envoy)({
        method: 'DELETE',
        url: '/v1/forward-auth/payroll/2026',
        headers: {
          ...postureHeaders(a, 'DELETE', 'https://app.example.com/payroll/2026'),
          host: 'app.example.com',
          'x-forwarded-proto': 'https',
        },
      });
      expect(envoy.statusCode).toBe(200);
    });

    it('no headers → 401 with WWW-Authenticate; posture fails → 403 naming the check and the fix', async () => {
      const svc = await testService();
      const none = await svc.call({ method: 'GET', url: '/v1/forward-auth', headers: nginxHeaders({}) });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('PostureAttestation');
      expect(none.json().reasons[0].code).toBe('headers_missing');
      const d = await enrolledDevice(svc);
      const checks = compliantChecks(Date.now());
      (checks.firewall as { observation: { enabled: boolean } }).observation.enabled = false;
      const a = await d.attest(checks);
      const res = await svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: nginxHeaders(postureHeaders(a, 'GET', URL_)),
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().reasons[0]).toMatchObject({ code: 'posture_failed', check: 'firewall' });
      expect(res.json().reasons[0].remediation).toBeTruthy();
    });

    it('a revoked device is denied at once, and stays revoked', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const a = await d.attest();
      expect(
        (
          await svc.call({
            method: 'GET',
            url: '/v1/forward-auth',
            headers: nginxHeaders(postureHeaders(a, 'GET', URL_)),
          })
        ).statusCode,
      ).toBe(200);
      expect(
        (
          await svc.call({ method: 'POST', url: `/v1/admin/devices/${d.deviceId}/revoke`, headers: admin })
        ).json(),
      ).toEqual({ deviceId: d.deviceId, status: 'revoked' });
      const res = await svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: nginxHeaders(postureHeaders(a, 'GET', URL_)),
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().reasons[0].code).toBe('device_revoked');
      expect(
        (await svc.call({ method: 'POST', url: `/v1/admin/devices/${d.deviceId}/unlock`, headers: admin }))
          .statusCode,
      ).toBe(409);
    });

    it('a replayed proof is denied', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const headers = nginxHeaders(postureHeaders(await d.attest(), 'GET', URL_));
      expect((await svc.call({ method: 'GET', url: '/v1/forward-auth', headers })).statusCode).toBe(200);
      const replay = await svc.call({ method: 'GET', url: '/v1/forward-auth', headers });
      expect(replay.statusCode).toBe(401);
      expect(replay.json().reasons[0].code).toBe('proof_replayed');
    });

    it('forwarded headers from a caller that is not a trusted proxy are not believed', async () => {
      const svc = await testService({
        config: serviceConfig({ trustedProxies: [{ address: '10.0.0.0/8', proxy: 'nginx' }] }),
      });
      const res = await svc.call({ method: 'GET', url: '/v1/forward-auth', headers: nginxHeaders({}) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('untrusted_forwarder');
    });

    it('/v1/verify answers the same decision as JSON', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const a = await d.attest();
      const res = await svc.call({
        method: 'POST',
        url: '/v1/verify',
        payload: { method: 'GET', url: URL_, headers: postureHeaders(a, 'GET', URL_) },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        allowed: true,
        device: { id: d.deviceId },
        policyRevision: 'service-test',
      });
    });

    it('records the last posture and last seen time of each device', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      await svc.call({
        method: 'GET',
        url: '/v1/forward-auth',
        headers: nginxHeaders(postureHeaders(await d.attest(), 'GET', URL_)),
      });
      const dev = (
        await svc.call({ method: 'GET', url: `/v1/admin/devices/${d.deviceId}`, headers: admin })
      ).json();
      expect(dev.lastSeenAt).toBeTruthy();
      expect(dev.lastPosture).toMatchObject({ overall: 'pass', failing: [], policyRevision: 'service-test' });
    });
  });

  describe('key rotation', () => {
    it('the old key signs the new one; the verifier follows, the old kid stops working', async () => {
      const svc = await testService();
      const d = await enrolledDevice(svc);
      const fresh = await newKey();
      const statement = await signCompact(
        { alg: 'ES256', typ: 'posture-key-rotation+jwt', kid: d.key.kid },
        {
          old_kid: d.key.kid,
          new_kid: fresh.kid,
          new_jwk: fresh.publicJwk,
          new_key_protection: 'keychain',
          iat: Math.floor(Date.now() / 1000),
        },
        d.key,
      );
      const nonce = (await svc.call({ method: 'GET', url: '/v1/nonce' })).json().nonce;
      const proof = await signCompact(
        { alg: 'ES256', typ: 'posture-rotate+jwt', jwk: fresh.publicJwk },
        { aud: PUBLIC_URL, nonce, iat: Math.floor(Date.now() / 1000) },
        fresh,
      );
      const res = await svc.call({
        method: 'POST',
        url: '/v1/devices/rotate',
        payload: { statement, proof },
      });
      expect(res.json()).toEqual({ deviceId: d.deviceId, kid: fresh.kid });
      const oldA = await d.attest();
      expect(
        (
          await svc.call({
            method: 'GET',
            url: '/v1/forward-auth',
            headers: nginxHeaders(postureHeaders(oldA, 'GET', URL_)),
          })
        ).json().reasons[0].code,
      ).toBe('device_unknown');
      const newA = await createAttestation({
        report: report(undefined, Date.now()),
        key: fresh,
        audience: APP_AUDIENCE,
        deviceId: d.deviceId,
      });
      expect(
        (
          await svc.call({
            method: 'GET',
            url: '/v1/forward-auth',
            headers: nginxHeaders(postureHeaders(newA, 'GET', URL_)),
          })
        ).statusCode,
      ).toBe(200);
    });
  });

  describe('admin API and operations', () => {
    it('needs the admin token', async () => {
      const svc = await testService();
      expect((await svc.call({ method: 'GET', url: '/v1/admin/devices' })).statusCode).toBe(401);
      expect(
        (
          await svc.call({
            method: 'GET',
            url: '/v1/admin/devices',
            headers: { authorization: 'Bearer wrong' },
          })
        ).json().error,
      ).toBe('admin_unauthorized');
      expect(
        (await svc.call({ method: 'POST', url: '/v1/admin/enrollment-tokens', payload: {} })).statusCode,
      ).toBe(401);
    });

    it('serves health, readiness, the policy, nonces and Prometheus metrics', async () => {
      const svc = await testService();
      expect((await svc.call({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      expect((await svc.call({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
      expect((await svc.call({ method: 'GET', url: '/v1/policy' })).json()).toMatchObject({
        revision: 'service-test',
        policy: { version: 1 },
      });
      expect((await svc.call({ method: 'GET', url: '/v1/nonce' })).json().nonce).toMatch(
        /^[A-Za-z0-9_-]{43}$/,
      );
      await svc.call({ method: 'GET', url: '/v1/forward-auth', headers: nginxHeaders({}) });
      const metrics = (await svc.call({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/posture_decisions_total\{result="deny",reason="headers_missing"\} 1/);
      expect(metrics).toMatch(/posture_decision_duration_seconds_bucket/);
    });
  });

  describe('bad input never yields a 5xx', () => {
    const cases: [string, string, string, Record<string, string>?][] = [
      ['POST', '/v1/enroll', '{not json'],
      ['POST', '/v1/enroll', '[]'],
      ['POST', '/v1/enroll', '{"token": 5, "proof": []}'],
      ['POST', '/v1/enroll', '{"token": "aaaaaaaaaaaaaaaaaaaaa", "proof": "x.y.z", "extra": 1}'],
      ['POST', '/v1/enroll', `{"token": "${'a'.repeat(70_000)}"}`],
      ['POST', '/v1/enroll', 'token=x', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['POST', '/v1/verify', '{"method": "GET", "url": "not a url", "headers": {}}'],
      ['POST', '/v1/verify', '{"method": "GET", "url": "https://a.example/", "headers": {"x": 5}}'],
      ['POST', '/v1/devices/rotate', '{"statement": "a.b.c", "proof": "d.e.f"}'],
      [
        'POST',
        '/v1/admin/enrollment-tokens',
        '{"ttlMinutes": "soon"}',
        { authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` },
      ],
      [
        'POST',
        '/v1/admin/enrollment-tokens',
        '{"label": 1, "unknown": true}',
        { authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` },
      ],
      [
        'GET',
        '/v1/admin/devices?limit=abc',
        '',
        { authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` },
      ],
      [
        'POST',
        '/v1/admin/devices/nope/revoke',
        '',
        { authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` },
      ],
      [
        'GET',
        '/v1/forward-auth',
        '',
        {
          'x-original-method': 'GET',
          'x-original-url': 'https://a/',
          'posture-attestation': 'a'.repeat(9000),
          'posture-proof': '...',
        },
      ],
      ['GET', '/nowhere', ''],
    ];
    it.each(cases)('%s %s %#', async (method, url, payload, headers = {}) => {
      const svc = await testService();
      const res = await svc.call({
        method,
        url,
        payload,
        headers: { 'content-type': 'application/json', ...headers },
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(typeof res.json().error === 'string' || res.json().allowed === false).toBe(true);
    });
  });
});
