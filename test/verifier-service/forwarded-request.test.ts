/**
 * Forward-auth takes the original request only from the headers its trusted proxy's kind sets:
 * a client's own X-Original-*, X-Forwarded-*, Forwarded, X-Rewrite-URL or method-override headers
 * never move the request the proof is checked against; each forwarded part is validated, and a
 * path that is not canonical is denied with its own code.
 */
import { postureHeaders } from '../../src/attest/headers.js';
import { checkPath, validHost } from '../../src/verifier-service/forwarded-request.js';
import { enrolledDevice } from '../helpers/enrolled-device.js';
import { PROXY_ADDRESS, testService, type TestService } from '../helpers/service.js';

const APP = 'https://app.example.com';

/** Every forwarded-header variant a client could add itself, all naming the request the proof is for. */
const clientVariants = (method: string, path: string) => ({
  'x-original-url': `${APP}${path}`,
  'x-original-uri': path,
  'x-original-method': method,
  'x-rewrite-url': path,
  'x-forwarded-method': method,
  'x-forwarded-uri': path,
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'app.example.com',
  'x-forwarded-path': path,
  'x-forwarded-prefix': path,
  forwarded: `proto=https;host=app.example.com;for=1.2.3.4`,
  'x-http-method-override': method,
  'x-http-method': method,
  'x-method-override': method,
  'x-envoy-original-path': path,
});

type Kind = keyof typeof PROXY_ADDRESS;

/** What each proxy itself sends for a request it routes as `method path` (values it sets, replacing the client's). */
function proxySets(
  kind: Kind,
  method: string,
  path: string,
): { url: string; method: string; headers: Record<string, string> } {
  switch (kind) {
    case 'nginx':
      return {
        url: '/v1/forward-auth',
        method: 'GET',
        headers: { 'x-original-method': method, 'x-original-url': `${APP}${path}` },
      };
    case 'caddy':
    case 'traefik':
      return {
        url: '/v1/forward-auth',
        method: 'GET',
        headers: {
          'x-forwarded-method': method,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'app.example.com',
          'x-forwarded-uri': path,
        },
      };
    case 'envoy':
      return {
        url: `/v1/forward-auth${path}`,
        method,
        headers: { host: 'app.example.com', 'x-forwarded-proto': 'https' },
      };
  }
}

describe('forward-auth: the original request comes only from what the proxy sets', () => {
  let svc: TestService;
  let device: Awaited<ReturnType<typeof enrolledDevice>>;
  beforeAll(async () => {
    svc = await testService();
    device = await enrolledDevice(svc);
  });

  /** Calls forward-auth as `kind` routing `method path`, the client having added its own variants. */
  async function asProxy(kind: Kind, method: string, path: string, extra: Record<string, string>) {
    const sent = proxySets(kind, method, path);
    // The client's variants first, then what the proxy sets (a proxy replaces a header it sets).
    const headers: Record<string, string> = { ...extra };
    for (const [k, v] of Object.entries(sent.headers)) headers[k] = v;
    return svc.callFrom(PROXY_ADDRESS[kind])({ method: sent.method, url: sent.url, headers });
  }

  it.each(['nginx', 'caddy', 'traefik', 'envoy'] as const)(
    '%s: a proof for GET /api/items with every client variant saying so is denied for a request routed as POST /admin',
    async (kind) => {
      const a = await device.attest();
      const headers = {
        ...postureHeaders(a, 'GET', `${APP}/api/items`),
        ...clientVariants('GET', '/api/items'),
      };
      const res = await asProxy(kind, 'POST', '/admin', headers);
      expect(res.statusCode).toBe(401);
      expect(res.json().reasons[0].code).toBe('proof_method_mismatch');
      expect(svc.decisions.at(-1)).toMatchObject({ method: 'POST', url: `${APP}/admin`, allowed: false });
    },
  );

  it.each(['nginx', 'caddy', 'traefik', 'envoy'] as const)(
    '%s: the proof for the routed request passes, whatever the client variants claim',
    async (kind) => {
      const a = await device.attest();
      const headers = {
        ...postureHeaders(a, 'GET', `${APP}/api/items`),
        ...clientVariants('POST', '/admin'),
      };
      const res = await asProxy(kind, 'GET', '/api/items', headers);
      expect(res.statusCode).toBe(200);
    },
  );

  it('a forwarded header the proxy sets, sent twice, is refused (forwarded_header_repeated)', async () => {
    const res = await svc.callFrom(PROXY_ADDRESS.caddy)({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'app.example.com',
        // Node joins a repeated unknown header with ", ": sent as two header lines by the helper's array.
        'x-forwarded-uri': ['/api/items', '/admin'] as unknown as string,
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('forwarded_header_repeated');
  });

  it.each([
    ['host with ?', 'caddy', { 'x-forwarded-host': 'evil.example?x=' }, 'host'],
    ['host with #', 'caddy', { 'x-forwarded-host': 'app.example.com#' }, 'host'],
    ['host with /', 'caddy', { 'x-forwarded-host': 'app.example.com/admin' }, 'host'],
    ['host with userinfo @', 'caddy', { 'x-forwarded-host': 'user@app.example.com' }, 'host'],
    ['host with a space', 'caddy', { 'x-forwarded-host': 'app .example.com' }, 'host'],
    ['host with a bad port', 'caddy', { 'x-forwarded-host': 'app.example.com:99999' }, 'host'],
    ['proto ftp', 'caddy', { 'x-forwarded-proto': 'ftp' }, 'scheme'],
    ['proto with a path', 'caddy', { 'x-forwarded-proto': 'https://app.example.com/api/items?' }, 'scheme'],
    ['uri without a leading /', 'caddy', { 'x-forwarded-uri': 'api/items' }, 'path'],
    ['uri with a fragment', 'caddy', { 'x-forwarded-uri': '/api/items#x' }, 'path'],
    ['uri with a tab', 'caddy', { 'x-forwarded-uri': '/api/\titems' }, 'path'],
    ['method not a token', 'caddy', { 'x-forwarded-method': 'GET /admin' }, 'method'],
    [
      'nginx URL with userinfo',
      'nginx',
      { 'x-original-url': 'https://app.example.com@evil.example/api/items' },
      'host',
    ],
    ['nginx URL without a path', 'nginx', { 'x-original-url': 'https://app.example.com' }, 'url'],
    ['Envoy host with a path', 'envoy', { host: 'app.example.com/admin?' }, 'host'],
  ] as const)('%s → 400 forwarded_request_invalid naming the part', async (_name, kind, override, part) => {
    const sent = proxySets(kind, 'GET', '/api/items');
    const res = await svc.callFrom(PROXY_ADDRESS[kind])({
      method: sent.method,
      url: sent.url,
      headers: { ...sent.headers, ...override },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ allowed: false, error: 'forwarded_request_invalid' });
    expect(res.json().message).toContain(`(${part})`);
    expect(svc.decisions.at(-1)).toMatchObject({ allowed: false, reasons: ['forwarded_request_invalid'] });
  });

  it.each([
    '/admin/../api/items',
    '/admin/%2e%2e/api/items',
    '/admin/%2E%2E/api/items',
    '/admin/.%2e/api/items',
    '/./api/items',
    '/admin/..;/api/items',
    '/admin\\..\\api/items',
    '/admin/%5c..%5capi/items',
    '/api%2fitems',
    '/api%2Fitems',
    '//api/items',
    '/api//items',
    '/%61pi/items',
  ])('%s → 403 path_not_canonical, for every kind', async (path) => {
    for (const kind of ['nginx', 'caddy', 'traefik', 'envoy'] as const) {
      const a = await device.attest();
      const res = await asProxy(kind, 'GET', path, postureHeaders(a, 'GET', `${APP}/api/items`));
      expect(res.statusCode).toBe(403);
      expect(res.json().reasons[0].code).toBe('path_not_canonical');
    }
  });

  it('a canonical path with a query, an encoded space and a trailing slash is fine', async () => {
    expect(checkPath('/api/items/?q=a%20b&x=..%2F')).toBeUndefined();
    expect(checkPath('/a%20b/c')).toBeUndefined();
    expect(validHost('[::1]:8443')).toBe(true);
    expect(validHost('app.example.com:443')).toBe(true);
    expect(validHost('[::1')).toBe(false);
    expect(validHost('a%2fb')).toBe(false);
  });

  it('a peer trusted as two kinds is trusted as neither', async () => {
    const both = await testService({
      config: (await import('../helpers/service.js')).serviceConfig({
        trustedProxies: [
          { address: '127.0.0.0/8', proxy: 'caddy' },
          { address: '127.0.0.1', proxy: 'nginx' },
        ],
      }),
    });
    const res = await both.call({
      method: 'GET',
      url: '/v1/forward-auth',
      headers: proxySets('nginx', 'GET', '/').headers,
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe('untrusted_forwarder');
  });
});
