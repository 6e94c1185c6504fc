/**
 * nginx `auth_request` with the verifier down: nginx turns any auth answer other than 2xx/401/403 (and
 * a verifier it cannot reach) into a bare 500; the documented `error_page 500 = @posture_unavailable`
 * answers a clear 503 page with Retry-After instead, and the upstream is never reached. Real nginx.
 */
import {
  freePort,
  NGINX_UNAVAILABLE_PAGE,
  nginxAvailable,
  startNginx,
  startUpstream,
  type Running,
} from '../fakes/proxies.js';
import { describeWith } from '../helpers/real-part.js';
import { caller } from '../helpers/service.js';

describeWith('nginx', nginxAvailable())('nginx in front of a verifier that is down', () => {
  let upstream: Running;
  let nginx: Running;
  let reached = 0;

  beforeAll(async () => {
    const app = await startUpstream();
    app.server.on('request', () => (reached += 1));
    upstream = app;
    // A port nobody listens on: the verifier is down.
    nginx = await startNginx(await freePort(), upstream.port);
  }, 30_000);

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.stop();
  });

  it('answers 503 with the unavailable page and Retry-After, not a bare 500, and lets nothing through', async () => {
    const res = await caller(`http://127.0.0.1:${nginx.port}`)({ method: 'GET', url: '/payroll' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toBe(NGINX_UNAVAILABLE_PAGE);
    expect(reached).toBe(0);
  });
});
