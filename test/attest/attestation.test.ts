import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAttestation } from '../../src/attest/attestation.js';
import { compactPosture } from '../../src/attest/compact.js';
import { createPostureFetch } from '../../src/attest/headers.js';
import { htuOf } from '../../src/attest/session.js';
import { PostureError } from '../../src/shared/errors.js';
import type { PostureChecks } from '../../src/shared/posture.js';
import { verifyRequest } from '../../src/verifier/index.js';
import { compliantChecks, report, testDevice, verifyOptions } from '../helpers/device.js';

describe('attestation', () => {
  it('carries the claims of DESIGN §2.5 and lives 10 minutes by default', async () => {
    const device = await testDevice('dev-1');
    const a = await device.attest();
    expect(a.claims).toMatchObject({
      iss: 'dev-1',
      sub: 'dev-1',
      aud: 'https://app.example.com',
      eat_profile: 'tag:posture-agent.org,2026:attestation:v1',
      key_protection: 'keychain',
      swname: 'posture-agent',
    });
    expect(a.claims.exp - a.claims.iat).toBe(600);
    expect(a.claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.claims.cnf.jwk).toEqual(a.session.publicJwk);
    expect(a.token.split('.')).toHaveLength(3);
  });

  it.each([0, 901, 3600, 1.5])('refuses a lifetime of %p seconds', async (lifetimeSeconds) => {
    const device = await testDevice();
    await expect(
      createAttestation({ report: report(), key: device.key, audience: 'x', lifetimeSeconds }),
    ).rejects.toMatchObject({ code: 'ERR_ATTESTATION_LIFETIME' });
    await expect(
      createAttestation({ report: report(), key: device.key, audience: 'x', lifetimeSeconds }),
    ).rejects.toBeInstanceOf(PostureError);
  });

  it('keeps only what policy needs of the patch list, and evidence as short strings', () => {
    const checks = compliantChecks();
    const patch = checks.patch_level as {
      observation: { updates: object[]; securityPending: number; pending: number };
    };
    patch.observation = {
      ...patch.observation,
      pending: 3,
      securityPending: 2,
      updates: [
        { name: 'a', security: true, firstSeenAt: '2026-11-10T00:00:00Z' },
        { name: 'b', security: true, firstSeenAt: '2026-11-01T00:00:00Z' },
        { name: 'c', security: false, firstSeenAt: '2026-10-01T00:00:00Z' },
      ],
    };
    (checks.firewall as { evidence: object[] }).evidence = [
      { kind: 'command', command: '/usr/sbin/nft', args: ['-j', 'list', 'ruleset'], exitCode: 0 },
    ];
    const compact = compactPosture(report(checks as PostureChecks));
    const out = compact.checks.patch_level as { observation: { updates: { name: string }[] } };
    expect(out.observation.updates.map((u) => u.name)).toEqual(['b']);
    expect(compact.checks.firewall?.evidence).toEqual(['/usr/sbin/nft -j list ruleset']);
  });

  it('htu drops query and fragment', () => {
    expect(htuOf('https://a.example:8443/p/q?x=1#y')).toBe('https://a.example:8443/p/q');
  });
});

describe('createPostureFetch against a real HTTP server that verifies every request', () => {
  it('sends a fresh proof per request and renews the attestation before it expires, once for concurrent calls', async () => {
    const device = await testDevice('sdk-device');
    let clock = Date.parse('2026-11-22T12:00:00Z');
    const options = verifyOptions([device.record], { now: () => clock });
    const server = createServer((req, res) => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${req.url}`;
      verifyRequest({ method: req.method ?? 'GET', url, headers: req.headers }, options).then((d) => {
        res.writeHead(d.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ allowed: d.allowed, code: d.reasons[0]?.code ?? null }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let attestations = 0;
    const postureFetch = createPostureFetch({
      now: () => clock,
      attest: async () => {
        attestations++;
        return device.attest({ at: clock });
      },
    });
    try {
      const first = await Promise.all([
        postureFetch(`${base}/a`),
        postureFetch(`${base}/b`, { method: 'POST', body: 'x' }),
      ]);
      expect(first.map((r) => r.status)).toEqual([200, 200]);
      expect(attestations).toBe(1);
      const again = await postureFetch(`${base}/a?page=2`);
      expect(await again.json()).toEqual({ allowed: true, code: null });
      expect(attestations).toBe(1);
      clock += 9.5 * 60_000; // 30 s before expiry: renewed
      expect((await postureFetch(`${base}/a`)).status).toBe(200);
      expect(attestations).toBe(2);
    } finally {
      server.close();
    }
  });
});
