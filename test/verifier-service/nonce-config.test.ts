import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigInvalidError } from '../../src/shared/errors.js';
import { configWarnings, parseServiceConfig } from '../../src/verifier-service/config.js';
import { checkConfig, startVerifier } from '../../src/verifier-service/main.js';
import { createNonces } from '../../src/verifier-service/nonce.js';

describe('stateless nonces', () => {
  const A = 'first-secret-0123456789abcdef0123456789';
  const B = 'second-secret-0123456789abcdef012345678';
  it('any replica with the secret accepts a nonce until it expires', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    const { nonce, expiresAt } = createNonces([A], 300).issue(now);
    expect(expiresAt).toBe(now + 300_000);
    const replica = createNonces([A], 300);
    expect(replica.verify(nonce, now + 1000)).toBe(true);
    expect(replica.verify(nonce, now + 301_000)).toBe(false);
    expect(replica.verify(nonce, now - 60_000)).toBe(false);
  });
  it('secrets rotate: a new first secret issues, the old one still verifies; a stranger\u2019s does not', () => {
    const now = Date.now();
    const old = createNonces([A], 300).issue(now).nonce;
    const rotated = createNonces([B, A], 300);
    expect(rotated.verify(old, now)).toBe(true);
    expect(createNonces([A], 300).verify(rotated.issue(now).nonce, now)).toBe(false);
  });
  it.each(['', 'x', 'A'.repeat(43), 'A'.repeat(44), '!'.repeat(43)])('refuses %p', (n) => {
    expect(createNonces([A], 300).verify(n, Date.now())).toBe(false);
  });
  it('a tampered nonce is refused', () => {
    const now = Date.now();
    const n = createNonces([A], 300).issue(now).nonce;
    const flipped = `${n.slice(0, 5)}${n[5] === 'A' ? 'B' : 'A'}${n.slice(6)}`;
    expect(createNonces([A], 300).verify(flipped, now)).toBe(false);
  });
});

describe('service configuration', () => {
  const base = {
    publicUrl: 'https://posture.example.com',
    audience: ['https://app.example.com'],
    nonce: { secrets: ['s'.repeat(40)] },
    adminTokenSha256: ['a'.repeat(64)],
  };
  const issuesOf = (data: unknown, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseServiceConfig(JSON.stringify(data), 'verifier.yaml', env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigInvalidError);
      expect((error as ConfigInvalidError).code).toBe('ERR_CONFIG_INVALID');
      return (error as Error).message;
    }
    throw new Error('accepted');
  };
  it('fills defaults: SQLite, memory replay, loopback, no trusted proxy until one is named with its kind', () => {
    const c = parseServiceConfig(JSON.stringify(base), 'x');
    expect(c).toMatchObject({
      listen: { host: '127.0.0.1', port: 8443 },
      store: { type: 'sqlite' },
      replay: { type: 'memory' },
      trustedProxies: [],
    });
  });
  it('names each bad field', () => {
    const message = issuesOf({
      ...base,
      listen: { port: 70000 },
      store: { type: 'mysql' },
      trustedProxies: [
        { address: 'not-an-ip', proxy: 'nginx' },
        '127.0.0.1',
        { address: '::1', proxy: 'haproxy' },
      ],
      extra: 1,
    });
    for (const field of [
      'listen.port',
      'store.type',
      'trustedProxies.0.address',
      'trustedProxies.1',
      'trustedProxies.2.proxy',
      '(root)',
    ])
      expect(message).toContain(field);
  });
  it('needs a nonce secret and an admin token, from the file or the environment', () => {
    issuesOf({ ...base, nonce: { secrets: [] } });
    issuesOf({ ...base, adminTokenSha256: [] });
    const c = parseServiceConfig(JSON.stringify({ ...base, nonce: {}, adminTokenSha256: [] }), 'x', {
      POSTURE_VERIFIER_NONCE_SECRET: 'e'.repeat(40),
      POSTURE_VERIFIER_ADMIN_TOKEN: 'admin',
    });
    expect(c.nonce.secrets[0]).toBe('e'.repeat(40));
    expect(c.adminTokenSha256).toHaveLength(1);
  });
  it('refuses text that is not YAML', () => {
    expect(() => parseServiceConfig('listen: [', 'x')).toThrow(ConfigInvalidError);
  });

  it('a decision log that cannot be opened stops the start with ERR_FILE_UNUSABLE naming it, before any store is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-cfg-'));
    const file = join(dir, 'verifier.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        listen: { host: '127.0.0.1', port: 0 },
        store: { type: 'sqlite', path: join(dir, 'db', 'devices.db') },
        // Its folder would be a regular file: no folder can be made there.
        decisionLog: join(file, 'decisions.log'),
      }),
    );
    await expect(startVerifier(file)).rejects.toMatchObject({ code: 'ERR_FILE_UNUSABLE', path: file });
    expect(existsSync(join(dir, 'db'))).toBe(false);
  });

  it('warns when PostgreSQL (several replicas) is paired with the per-process replay store', () => {
    const codes = (extra: object) =>
      configWarnings(parseServiceConfig(JSON.stringify({ ...base, ...extra }), 'verifier.yaml')).map(
        (w) => w.code,
      );
    expect(codes({ store: { type: 'postgres', url: 'postgres://db/posture' } })).toEqual([
      'replay_per_process',
    ]);
    expect(
      codes({
        store: { type: 'postgres', url: 'postgres://db/posture' },
        replay: { type: 'redis', url: 'redis://cache:6379' },
      }),
    ).toEqual([]);
    expect(codes({})).toEqual([]);
  });

  it("warns when a required nonce lives shorter than the agents' attestations (600 s by default)", () => {
    const codes = (nonce: object) =>
      configWarnings(
        parseServiceConfig(JSON.stringify({ ...base, nonce: { ...base.nonce, ...nonce } }), 'verifier.yaml'),
      ).map((w) => w.code);
    expect(codes({ required: true })).toEqual(['nonce_outlived_by_attestation']);
    expect(codes({ required: true, ttlSeconds: 599 })).toEqual(['nonce_outlived_by_attestation']);
    expect(codes({ required: true, ttlSeconds: 600 })).toEqual([]);
    expect(codes({ required: true, ttlSeconds: 900 })).toEqual([]);
    expect(codes({ required: false, ttlSeconds: 60 })).toEqual([]);
  });

  describe('posture-verifier --check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-check-'));
    const write = (name: string, data: unknown) => {
      const file = join(dir, name);
      writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
      return file;
    };

    it('names what would run, the policy revision and any warning', () => {
      const policyFile = write('policy.yaml', 'version: 1\nrevision: fleet-7\n');
      const text = checkConfig(
        write('ok.json', { ...base, policyFile, store: { type: 'postgres', url: 'postgres://db/p' } }),
      );
      expect(text).toContain('revision fleet-7');
      expect(text).toContain('[replay_per_process]');
    });

    it('a broken policy file is ERR_POLICY_INVALID, a broken configuration exits 3 from the built command', async () => {
      const policyFile = write('bad-policy.yaml', 'version: 1\nchecks: { firewall: { required: maybe } }\n');
      expect(() => checkConfig(write('bad-policy.json', { ...base, policyFile }))).toThrow(
        expect.objectContaining({ code: 'ERR_POLICY_INVALID' }),
      );
      const main = join(process.cwd(), 'dist', 'verifier-service', 'main.js');
      await expect(
        promisify(execFile)(process.execPath, [
          main,
          '--config',
          write('bad.json', { publicUrl: 5 }),
          '--check',
        ]),
      ).rejects.toMatchObject({ code: 3, stderr: expect.stringContaining('[ERR_CONFIG_INVALID]') });
    });
  });
});
