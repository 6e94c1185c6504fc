/**
 * What the service refuses at its door, and who may ask it: /v1/verify only for trusted proxies or a
 * verify token; enrollment facts and labels validated (and display-safe), never dropped; JSON bodies
 * only, uncompressed; tokens that are not compact JWS; the admin API and /metrics on their own
 * listener when configured; the denial page.
 */
import { createHash } from 'node:crypto';
import { postureHeaders } from '../../src/attest/headers.js';
import { buildAdminService } from '../../src/verifier-service/app.js';
import { createMetrics } from '../../src/verifier-service/metrics.js';
import { createNonces } from '../../src/verifier-service/nonce.js';
import { MemoryReplayStore } from '../../src/verifier/replay.js';
import { enrolledDevice, failingFirewall } from '../helpers/enrolled-device.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import {
  admin,
  caller,
  enrollKey,
  enrollmentToken,
  serviceConfig,
  TEST_POLICY,
  testService,
} from '../helpers/service.js';

const APP = 'https://app.example.com';
const nginx = (method: string, url: string) => ({ 'x-original-method': method, 'x-original-url': url });
const VERIFY_TOKEN = 'verify-token-for-the-opa-sidecar-0123';

describe('POST /v1/verify callers', () => {
  it('answers a trusted proxy and a caller with a verify token; anyone else gets 401 verify_unauthorized', async () => {
    const config = serviceConfig({
      trustedProxies: [{ address: '10.9.9.9', proxy: 'nginx' }],
      verifyTokenSha256: [createHash('sha256').update(VERIFY_TOKEN).digest('hex')],
    });
    const svc = await testService({ config });
    const d = await enrolledDevice(svc);
    const a = await d.attest();
    const payload = { method: 'GET', url: `${APP}/x`, headers: postureHeaders(a, 'GET', `${APP}/x`) };
    const anon = await svc.call({ method: 'POST', url: '/v1/verify', payload });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().error).toBe('verify_unauthorized');
    const wrong = await svc.call({
      method: 'POST',
      url: '/v1/verify',
      payload,
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await svc.call({
      method: 'POST',
      url: '/v1/verify',
      payload,
      headers: { authorization: `Bearer ${VERIFY_TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().allowed).toBe(true);
    // The URL is checked like a forwarded one: a proof for /x does not pass for /admin/../x.
    for (const [url, code] of [
      [`${APP}/admin/../x`, 'path_not_canonical'],
      [`${APP}/admin/%2e%2e/x`, 'path_not_canonical'],
      ['https://user@app.example.com/x', 'forwarded_request_invalid'],
    ]) {
      const bad = await svc.call({
        method: 'POST',
        url: '/v1/verify',
        payload: { ...payload, url },
        headers: { authorization: `Bearer ${VERIFY_TOKEN}` },
      });
      expect(bad.json()).toMatchObject({ allowed: false, reasons: [{ code }] });
    }
    // The default test service trusts 127.0.0.1 as nginx: a trusted proxy may ask too.
    const proxy = await testService();
    expect((await proxy.call({ method: 'POST', url: '/v1/verify', payload })).statusCode).toBe(200);
  });
});

describe('enrollment facts and labels', () => {
  const newKey = () => softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());

  it.each([
    [{ hostname: 'x'.repeat(300) }, ['facts.hostname']],
    [{ hostname: 42, model: ['a'] }, ['facts.hostname', 'facts.model']],
    [{ hostname: 'laptop\u202Egnp.exe' }, ['facts.hostname']],
    [{ serial: 'SN1\u0007' }, ['facts.serial']],
    [{ os: 'Debian\u2066' }, ['facts.os']],
    [{ hostname: 'ok', owner: 'someone' }, ['facts.owner']],
    ['a string', ['facts']],
  ])('%j → 400 facts_invalid naming %j; the token still works', async (facts, fields) => {
    const svc = await testService();
    const token = await enrollmentToken(svc.call);
    const res = await enrollKey(svc.call, await newKey(), token, { facts });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('facts_invalid');
    expect(res.json().issues).toEqual(fields);
    expect((await enrollKey(svc.call, await newKey(), token)).statusCode).toBe(201);
  });

  it('an enrollment-token label with control or bidirectional characters is refused', async () => {
    const svc = await testService();
    for (const label of ['laptop\u202Eevil', 'two\nlines', 'tab\there', 'iso\u2067late']) {
      const res = await svc.call({
        method: 'POST',
        url: '/v1/admin/enrollment-tokens',
        headers: admin,
        payload: { label },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().issues).toEqual(['label']);
    }
    const ok = await svc.call({
      method: 'POST',
      url: '/v1/admin/enrollment-tokens',
      headers: admin,
      payload: { label: 'Zoë’s laptop' },
    });
    expect(ok.statusCode).toBe(201);
  });
});

describe('bodies and tokens', () => {
  it('a body that is not JSON gets 415, and so does a compressed one', async () => {
    const svc = await testService();
    const text = await svc.call({
      method: 'POST',
      url: '/v1/enroll',
      headers: { 'content-type': 'text/plain' },
      payload: '{"token":"0123456789abcdef0123","proof":"a.b.c"}',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toBe('unsupported_media_type');
    for (const encoding of ['gzip', 'deflate', 'br', 'x-custom']) {
      const res = await svc.call({
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        payload: '{"token":"0123456789abcdef0123","proof":"a.b.c"}',
      });
      expect(res.statusCode).toBe(415);
      expect(res.json().error).toBe('unsupported_content_encoding');
    }
    const form = await svc.call({
      method: 'POST',
      url: '/v1/admin/enrollment-tokens',
      headers: { ...admin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'label=x',
    });
    expect(form.statusCode).toBe(415);
  });

  async function attestationAnswer(variant: (parts: string[]) => string) {
    const svc = await testService();
    const d = await enrolledDevice(svc);
    const real = postureHeaders(await d.attest(), 'GET', `${APP}/x`);
    const attestation = variant(real['Posture-Attestation']!.split('.'));
    return svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: { ...real, 'Posture-Attestation': attestation, ...nginx('GET', `${APP}/x`) },
    });
  }

  it.each([
    ['two parts', ([h, p]: string[]) => `${h}.${p}`],
    ['four parts', ([h, p, s]: string[]) => `${h}.${p}.${s}.x`],
    ['an empty payload', ([h, , s]: string[]) => `${h}..${s}`],
  ])('a non-compact token (%s) is malformed_token', async (_name, variant) => {
    const res = await attestationAnswer(variant);
    expect(res.statusCode).toBe(401);
    expect(res.json().reasons[0].code).toBe('malformed_token');
  });

  // The JSON serialisation (RFC 7515 §7.2) has commas; only pieces that are each a compact JWS make
  // a repeated header (header_duplicated), anything else is malformed.
  it('a JSON-serialised token is malformed_token', async () => {
    const res = await attestationAnswer(([h, p, s]) =>
      JSON.stringify({ protected: h, payload: p, signature: s }),
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().reasons[0].code).toBe('malformed_token');
  });
});

describe('the admin API and /metrics on their own listener', () => {
  it('with adminListen, the main listener answers neither; the admin instance answers both', async () => {
    const config = serviceConfig({ adminListen: { host: '127.0.0.1', port: 0 } });
    const svc = await testService({ config });
    expect((await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).statusCode).toBe(
      404,
    );
    expect((await svc.call({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    const adminApp = buildAdminService({
      config,
      store: svc.store,
      replay: new MemoryReplayStore(1000),
      nonces: createNonces(config.nonce.secrets, config.nonce.ttlSeconds),
      policy: () => TEST_POLICY,
      reloadPolicy: async () => TEST_POLICY,
      metrics: createMetrics(),
      logDecision: () => undefined,
    });
    const url = await adminApp.listen({ host: '127.0.0.1', port: 0 });
    try {
      const call = caller(url);
      expect((await call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).statusCode).toBe(200);
      expect((await call({ method: 'GET', url: '/v1/admin/devices' })).statusCode).toBe(401);
      expect((await call({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      expect(
        (await call({ method: 'GET', url: '/v1/forward-auth', headers: nginx('GET', `${APP}/`) })).statusCode,
      ).toBe(404);
      expect((await call({ method: 'POST', url: '/v1/enroll', payload: {} })).statusCode).toBe(404);
    } finally {
      await adminApp.close();
    }
  });
});

describe('posture-verifier with adminListen on a Unix socket', () => {
  it('serves the admin API and /metrics on the socket (mode 0600) and not on the device-facing port', async () => {
    const { mkdtempSync, statSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { request } = await import('node:http');
    const { startVerifier } = await import('../../src/verifier-service/main.js');
    const dir = mkdtempSync(join(tmpdir(), `posture-admin-sock-${process.pid}-`));
    const file = join(dir, 'verifier.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...JSON.parse(JSON.stringify(serviceConfig())),
        listen: { host: '127.0.0.1', port: 0 },
        store: { type: 'sqlite', path: 'devices.db' },
        decisionLog: 'decisions.log',
        adminListen: { socket: 'admin.sock' },
      }),
    );
    const service = await startVerifier(file);
    try {
      const socket = join(dir, 'admin.sock');
      expect(service.adminUrl).toBe(`unix:${socket}`);
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      const viaSocket = (path: string, headers: Record<string, string> = {}) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ socketPath: socket, path, headers }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await viaSocket('/v1/admin/devices', admin)).toBe(200);
      expect(await viaSocket('/metrics')).toBe(200);
      const call = caller(service.url);
      expect((await call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).statusCode).toBe(404);
      expect((await call({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      expect((await call({ method: 'GET', url: '/v1/nonce' })).statusCode).toBe(200);
    } finally {
      await service.close();
    }
  });
});

describe('the denial page', () => {
  it('a denial is kept for its decision id: an escaped HTML page with the failing check and its fix, nothing else', async () => {
    const svc = await testService();
    const d = await enrolledDevice(svc);
    const a = await d.attest({ checks: failingFirewall() });
    const denied = await svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: { ...postureHeaders(a, 'GET', `${APP}/payroll`), ...nginx('GET', `${APP}/payroll`) },
    });
    expect(denied.statusCode).toBe(403);
    const id = denied.headers['x-posture-decision']!;
    const page = await svc.call({ method: 'GET', url: `/v1/denied/${id}` });
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('data-check="firewall"');
    expect(page.body).toContain('How to fix');
    expect(page.body).not.toContain(d.deviceId);
    expect(page.body).not.toContain('/payroll');
    expect(page.body).not.toContain('<script');
    // Unknown, malformed and guessed ids: the same "expired" page, 404.
    for (const other of ['00000000-0000-4000-8000-000000000000', 'x', `${id}x`, '..%2f..%2fmetrics']) {
      const res = await svc.call({ method: 'GET', url: `/v1/denied/${other}` });
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('data-check');
    }
  });

  it('a browser (Accept: text/html) gets the page as the denial body itself, as Caddy and Traefik pass it on', async () => {
    const svc = await testService();
    const res = await svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: { ...nginx('GET', `${APP}/payroll`), accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('data-code="headers_missing"');
    const api = await svc.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: nginx('GET', `${APP}/payroll`),
    });
    expect(api.json().reasons[0].code).toBe('headers_missing');
  });

  it('policy text is escaped in the page', async () => {
    const { escapeHtml, renderDenial } = await import('../../src/verifier-service/denial-page.js');
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe(
      '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;',
    );
    const html = renderDenial('id', {
      status: 403,
      at: 0,
      reasons: [
        { code: 'posture_failed', check: 'firewall', message: '<script>x</script>', remediation: '"><b>' },
      ],
    });
    expect(html).not.toContain('<script>x');
    expect(html).not.toContain('"><b>');
  });

  it('commands in backticks show as code, still escaped, and no raw backtick reaches the page', async () => {
    const { renderDenial } = await import('../../src/verifier-service/denial-page.js');
    const html = renderDenial('id', {
      status: 403,
      at: 0,
      reasons: [
        {
          code: 'posture_failed',
          check: 'firewall',
          message: 'Off.',
          remediation: 'Run `sudo ufw enable`, then `<img src=x>`.',
        },
      ],
    });
    expect(html).toContain('<code>sudo ufw enable</code>');
    expect(html).toContain('<code>&lt;img src=x&gt;</code>');
    expect(html).not.toContain('`');
  });
});
