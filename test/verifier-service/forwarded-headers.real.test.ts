/**
 * The real nginx (auth_request) and Caddy (forward_auth) in front of the verifier, each trusted as
 * its own kind: a client that sends every forwarded-header variant itself cannot move the request
 * the proof is checked against; a non-canonical path is denied; and a person who is denied sees the
 * denial page, through the proxy, in Chromium.
 */
import { request } from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { postureHeaders } from '../../src/attest/headers.js';
import type { Running } from '../fakes/proxies.js';
import {
  caddyAvailable,
  freePort,
  nginxAvailable,
  startCaddy,
  startNginx,
  startUpstream,
} from '../fakes/proxies.js';
import { enrolledDevice, failingFirewall } from '../helpers/enrolled-device.js';
import { serviceConfig, testService, type TestService } from '../helpers/service.js';
import { describeWith } from '../helpers/real-part.js';

const CHROMIUM = '/usr/bin/chromium';
const ready = nginxAvailable() && caddyAvailable() && existsSync(CHROMIUM);

/** A raw HTTP/1.1 request to the proxy: any method, any path bytes (no client-side normalisation), any headers. */
function raw(port: number, method: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

/** Every forwarded-header variant, all claiming the request is `GET /api/items` on the right host. */
const variants = (base: string) => ({
  'X-Original-URL': `${base}/api/items`,
  'X-Original-URI': '/api/items',
  'X-Original-Method': 'GET',
  'X-Rewrite-URL': '/api/items',
  'X-Forwarded-Method': 'GET',
  'X-Forwarded-Uri': '/api/items',
  'X-Forwarded-Proto': 'http',
  'X-Forwarded-Host': new URL(base).host,
  'X-Forwarded-Path': '/api/items',
  'X-Forwarded-Prefix': '/api/items',
  Forwarded: `proto=http;host="${new URL(base).host}"`,
  'X-HTTP-Method-Override': 'GET',
  'X-HTTP-Method': 'GET',
  'X-Method-Override': 'GET',
  'X-Envoy-Original-Path': '/api/items',
});

describeWith('nginx, Caddy and Chromium', ready).each([
  ['nginx auth_request', 'nginx', startNginx],
  ['Caddy forward_auth', 'caddy', startCaddy],
] as const)('%s: forwarded headers and the denial page', (_name, kind, startProxy) => {
  let proxy: Running;
  let upstream: Running;
  let svc: TestService;
  let base: string;
  let device: Awaited<ReturnType<typeof enrolledDevice>>;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const port = await freePort();
    upstream = await startUpstream();
    svc = await testService({
      port,
      config: serviceConfig({
        audience: ['http://placeholder.invalid'],
        trustedProxies: [{ address: '127.0.0.1', proxy: kind }],
      }),
    });
    proxy = await startProxy(port, upstream.port);
    base = `http://127.0.0.1:${proxy.port}`;
    svc.config.audience.push(base);
    device = await enrolledDevice(svc);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
    await upstream?.stop();
  });

  it('a proof for GET /api/items, with every client variant saying so, is denied for POST /admin and never reaches the upstream', async () => {
    const a = await device.attest({ audience: base });
    const res = await raw(proxy.port, 'POST', '/admin', {
      ...variants(base),
      ...postureHeaders(a, 'GET', `${base}/api/items`),
    });
    expect(res.status).toBe(401);
    expect(res.body).not.toContain('"upstream":true');
    expect(svc.decisions.at(-1)).toMatchObject({
      allowed: false,
      method: 'POST',
      url: `${base}/admin`,
      reasons: ['proof_method_mismatch'],
    });
  });

  it('a proof for GET /api/items does not open GET /admin either', async () => {
    const a = await device.attest({ audience: base });
    const res = await raw(proxy.port, 'GET', '/admin', {
      ...variants(base),
      ...postureHeaders(a, 'GET', `${base}/api/items`),
    });
    expect(res.status).toBe(401);
    expect(svc.decisions.at(-1)).toMatchObject({ url: `${base}/admin`, reasons: ['proof_url_mismatch'] });
  });

  it('the proof for the request the proxy routes passes, whatever the client variants claim', async () => {
    const a = await device.attest({ audience: base });
    const hostile = Object.fromEntries(
      Object.entries(variants(base)).map(([k, v]) => [
        k,
        v.replace('/api/items', '/admin').replace('GET', 'DELETE'),
      ]),
    );
    const res = await raw(proxy.port, 'GET', '/api/items', {
      ...hostile,
      ...postureHeaders(a, 'GET', `${base}/api/items`),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ upstream: true, method: 'GET', path: '/api/items' });
  });

  it('a client naming another host or scheme in its own headers does not change the URL checked', async () => {
    const a = await device.attest({ audience: base });
    const res = await raw(proxy.port, 'GET', '/api/items', {
      'X-Forwarded-Host': 'evil.example',
      'X-Forwarded-Proto': 'https',
      'X-Original-URL': 'https://evil.example/api/items',
      Forwarded: 'host=evil.example;proto=https',
      ...postureHeaders(a, 'GET', `${base}/api/items`),
    });
    expect(res.status).toBe(200);
    expect(svc.decisions.at(-1)).toMatchObject({ allowed: true, url: `${base}/api/items` });
  });

  it.each([
    '/admin/../api/items',
    '/admin/%2e%2e/api/items',
    '/admin/..%2fapi/items',
    '/api%2fitems',
    '/admin/%5c..%5capi/items',
  ])('%s, with a proof for /api/items, is denied as not canonical', async (path) => {
    const a = await device.attest({ audience: base });
    const res = await raw(proxy.port, 'GET', path, postureHeaders(a, 'GET', `${base}/api/items`));
    expect(res.body).not.toContain('"upstream":true');
    expect({ status: res.status, last: svc.decisions.at(-1) }).toMatchObject({
      status: 403,
      last: { reasons: ['path_not_canonical'] },
    });
  });

  it('a denied person sees why and how to fix it, in Chromium, through the proxy', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const a = await device.attest({ audience: base, checks: failingFirewall() });
    await page.setExtraHTTPHeaders(postureHeaders(a, 'GET', `${base}/payroll`));
    const res = await page.goto(`${base}/payroll`);
    expect(res?.status()).toBe(403);
    expect(await page.title()).toContain('does not meet the access policy');
    const item = page.locator('li[data-check="firewall"]');
    await expect(item.textContent()).resolves.toContain('Firewall');
    await expect(item.locator('.fix').textContent()).resolves.toContain('How to fix');
    // Kept for a person to look at: the folder is printed when POSTURE_KEEP_SCREENSHOTS is set.
    const shot = join(mkdtempSync(join(tmpdir(), `posture-denial-${kind}-`)), 'page.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.POSTURE_KEEP_SCREENSHOTS) process.stderr.write(`denial page screenshot: ${shot}\n`);

    // Without the agent at all: the page says what is missing.
    const bare = await browser.newPage();
    const none = await bare.goto(`${base}/payroll`);
    expect(none?.status()).toBe(401);
    await expect(bare.locator('li[data-code="headers_missing"]').textContent()).resolves.toContain(
      'Posture Agent',
    );
  }, 60_000);
});
