/**
 * nginx (auth_request) and Caddy (forward_auth) in front of a small upstream, with the verifier
 * service behind them and the real agent presenting itself: the agent's probes (its firewall read
 * from a real nftables ruleset in a network namespace), its key, its enrollment, its headers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAttestor } from '../../src/agent/attestor.js';
import { enrollDevice } from '../../src/agent/enroll.js';
import { postureHeaders } from '../../src/attest/headers.js';
import { validatePolicy } from '../../src/shared/policy.js';
import { canUseNetns, createNamespaceHost, createNetns } from '../fakes/namespace-host.js';
import type { Running } from '../fakes/proxies.js';
import {
  caddyAvailable,
  freePort,
  nginxAvailable,
  startCaddy,
  startNginx,
  startUpstream,
} from '../fakes/proxies.js';
import { testConfig } from '../helpers/config.js';
import { describeWith } from '../helpers/real-part.js';
import { admin, serviceConfig, testService } from '../helpers/service.js';

const ready = canUseNetns() && nginxAvailable() && caddyAvailable();

// This VM's disk is not encrypted and its package lists may be old: the policy here asks for what
// the agent can make true or false on demand (the firewall) and what this Debian is (its version).
const POLICY = validatePolicy({
  version: 1,
  revision: 'proxy-test',
  checks: {
    disk_encryption: { required: false },
    patch_level: { required: false },
    os_version: { linux: { distros: { debian: '12' } } },
  },
});

describeWith('root, ip netns, nginx and Caddy', ready).each([
  ['nginx auth_request', 'nginx', startNginx],
  ['Caddy forward_auth', 'caddy', startCaddy],
] as const)('%s in front of the verifier', (_name, kind, startProxy) => {
  let proxy: Running;
  let upstream: Running;
  let svc: Awaited<ReturnType<typeof testService>>;
  const namespaces: ReturnType<typeof createNetns>[] = [];
  let base: string;
  let agentConfig: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    const port = await freePort();
    const proxyUrlPlaceholder = 'http://127.0.0.1';
    upstream = await startUpstream();
    // The proxy's port is known only once it runs, and the verifier must list it as an audience:
    // start the verifier on a known port first, then the proxy, then rebuild with the audience.
    svc = await testService({
      port,
      config: serviceConfig({
        publicUrl: `http://127.0.0.1:${port}`,
        audience: [proxyUrlPlaceholder],
        trustedProxies: [{ address: '127.0.0.1', proxy: kind }],
      }),
    });
    proxy = await startProxy(Number(new URL(svc.url).port), upstream.port);
    base = `http://127.0.0.1:${proxy.port}`;
    svc.config.audience.push(base);
    svc.setPolicy(POLICY);
    agentConfig = testConfig({
      stateDir: mkdtempSync(join(tmpdir(), 'posture-agent-')),
      keyStore: 'file',
      keyFile: join(mkdtempSync(join(tmpdir(), 'posture-key-')), 'key.json'),
    });
    const token = (
      await svc.call({
        method: 'POST',
        url: '/v1/admin/enrollment-tokens',
        headers: admin,
        payload: { label: 'proxy test' },
      })
    ).json().token;
    const attestor = createAttestor(agentConfig);
    const [key, report] = await Promise.all([attestor.key(), attestor.collect()]);
    await enrollDevice({
      server: svc.url,
      token,
      key,
      stateDir: agentConfig.stateDir,
      inventory: report.device,
    });
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
    for (const ns of namespaces) ns.remove();
  });

  /** The agent's attestation with its firewall observed in a namespace holding `ruleset`. */
  async function present(ruleset: string, method = 'GET', path = '/payroll') {
    const ns = createNetns(`pa-px-${process.pid}-${namespaces.length}`);
    namespaces.push(ns);
    if (ruleset) ns.nft(ruleset);
    const attestation = await createAttestor(agentConfig, createNamespaceHost(ns.name)).attest({
      audience: base,
    });
    return { url: `${base}${path}`, headers: postureHeaders(attestation, method, `${base}${path}`) };
  }
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

  it('a compliant device reaches the upstream, which learns the device id (a client-sent copy is replaced)', async () => {
    const { url, headers } = await present(
      'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n',
    );
    const res = await get(url, { ...headers, 'x-posture-device': 'dev_forged' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { upstream: boolean; device: string };
    expect(body.upstream).toBe(true);
    expect(body.device).toMatch(/^dev_/);
    expect(body.device).not.toBe('dev_forged');
  }, 60_000);

  it('the proxy keeps its connections to the verifier open across requests', async () => {
    let accepted = 0;
    const count = () => accepted++;
    svc.app.server.on('connection', count);
    try {
      for (let i = 0; i < 20; i++) {
        const { url, headers } = await present(
          'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n',
        );
        expect((await get(url, headers)).status).toBe(200);
      }
    } finally {
      svc.app.server.off('connection', count);
    }
    // One connection per request would be 20; a keep-alive pool opens a few at most.
    expect(accepted).toBeLessThanOrEqual(3);
  }, 120_000);

  it('firewall off (a real empty ruleset) → 403, and the verifier names the firewall', async () => {
    const { url, headers } = await present('');
    const res = await get(url, headers);
    expect(res.status).toBe(403);
    const last = svc.decisions.at(-1) as { reasons: string[] };
    expect(last.reasons).toContain('posture_failed:firewall');
  }, 60_000);

  it('no headers → 401; a replayed proof → denied', async () => {
    expect((await get(`${base}/payroll`)).status).toBe(401);
    const { url, headers } = await present(
      'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n',
    );
    expect((await get(url, headers)).status).toBe(200);
    expect((await get(url, headers)).status).toBe(401);
    expect((svc.decisions.at(-1) as { reasons: string[] }).reasons).toEqual(['proof_replayed']);
  }, 60_000);

  it('a revoked device → 403', async () => {
    const { url, headers } = await present(
      'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n',
    );
    const devices = (await svc.call({ method: 'GET', url: '/v1/admin/devices', headers: admin })).json()
      .devices as { deviceId: string }[];
    for (const d of devices)
      await svc.call({ method: 'POST', url: `/v1/admin/devices/${d.deviceId}/revoke`, headers: admin });
    expect((await get(url, headers)).status).toBe(403);
    expect((svc.decisions.at(-1) as { reasons: string[] }).reasons).toEqual(['device_revoked']);
  }, 60_000);
});
