/**
 * A new user's first steps with the verifier, as installed and as documented: `posture-verifier`
 * through the bin link a global npm install makes (a symlink), the example configuration as shipped,
 * coded errors (exit 3) naming the path for every file or folder problem, and the README's and the
 * docs' start command run exactly as written (in a private mount and network namespace, so its
 * fixed port and /var/lib folder are its own).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canUseNetns } from '../fakes/namespace-host.js';
import { describeWith } from '../helpers/real-part.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const EXAMPLE = join(ROOT, 'installer', 'linux', 'verifier.example.yaml');
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  POSTURE_VERIFIER_NONCE_SECRET: 'a-very-long-shared-nonce-secret-0123456789',
  POSTURE_VERIFIER_ADMIN_TOKEN: 'first-use-admin-token',
};

/** `npm install -g --prefix DIR <this checkout>`: the links a global install (or `npm link`) makes. */
async function installGlobally(): Promise<string> {
  const prefix = mkdtempSync(join(tmpdir(), `posture-npm-g-${process.pid}-`));
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--offline', ROOT], {
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  return join(prefix, 'bin', 'posture-verifier');
}

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
async function outcome(file: string, args: string[], env: NodeJS.ProcessEnv = ENV) {
  try {
    const { stdout, stderr } = await run(file, args, { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('posture-verifier through its npm bin link', () => {
  let bin: string;
  beforeAll(async () => {
    bin = await installGlobally();
  }, 60_000);

  it('--help prints the usage and the exit codes, exit 0', async () => {
    const r = await outcome(bin, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: posture-verifier');
    expect(r.stdout).toContain('ERR_FILE_UNUSABLE');
  });

  it('--check on the example configuration as shipped: valid, with the policy shipped beside it', async () => {
    const r = await outcome(bin, ['--config', EXAMPLE, '--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `${join(ROOT, 'installer', 'linux', 'policy.yaml')}, revision example-2026-12`,
    );
    expect(r.stdout).toContain('proxies       nginx 127.0.0.1');
  });

  it('a real start answers /healthz and stops with exit 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), `posture-first-${process.pid}-`));
    const config = join(dir, 'verifier.yaml');
    writeFileSync(
      config,
      [
        'listen: { host: 127.0.0.1, port: 0 }',
        'publicUrl: https://posture.example.com',
        'audience: [https://app.example.com]',
        'store: { type: sqlite, path: state/devices.db }',
        'decisionLog: state/decisions.log',
        'trustedProxies: [{ address: 127.0.0.1, proxy: nginx }]',
      ].join('\n'),
    );
    const child = spawn(bin, ['--config', config], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // Relative paths are taken from the configuration's folder.
    expect(readFileSync(join(dir, 'state', 'devices.db')).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('file and folder problems: exit 3, a code, the path', () => {
  const main = join(ROOT, 'dist', 'verifier-service', 'main.js');
  const dir = mkdtempSync(join(tmpdir(), `posture-files-${process.pid}-`));
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'not a folder');
  /** A configuration file: the base fields, with `extra` (`key: value` lines) added or replacing. */
  const config = (name: string, extra: string[]) => {
    const lines = new Map<string, string>([
      ['publicUrl', 'publicUrl: https://posture.example.com'],
      ['audience', 'audience: [https://app.example.com]'],
      ['store', `store: { type: sqlite, path: ${join(dir, 'state', 'devices.db')} }`],
    ]);
    for (const line of extra) lines.set(line.split(':')[0] as string, line);
    const file = join(dir, name);
    writeFileSync(file, [...lines.values()].join('\n'));
    return file;
  };

  it.each([
    ['a missing policy file', ['policyFile: missing-policy.yaml'], join(dir, 'missing-policy.yaml')],
    ['a store folder under a file', [`store: { type: sqlite, path: ${aFile}/db/devices.db }`], aFile],
    [
      'a store folder that cannot be made (/proc)',
      ['store: { type: sqlite, path: /proc/posture-verifier/devices.db }'],
      '/proc',
    ],
    ['a decision log under a file', [`decisionLog: ${aFile}/decisions.log`], aFile],
  ])('%s: --check and a start both exit 3 with ERR_FILE_UNUSABLE naming it', async (name, extra, path) => {
    const file = config(`${name.replace(/\W+/g, '-')}.yaml`, extra);
    for (const args of [
      ['--config', file, '--check'],
      ['--config', file],
    ]) {
      const r = await outcome(process.execPath, [main, ...args]);
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 3 });
      expect(r.stderr).toContain('[ERR_FILE_UNUSABLE]');
      expect(r.stderr).toContain(path);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('a missing configuration file is ERR_CONFIG_INVALID naming it, exit 3', async () => {
    const r = await outcome(process.execPath, [main, '--config', join(dir, 'nope.yaml'), '--check']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(dir, 'nope.yaml'));
    expect(r.stderr).toContain('[ERR_CONFIG_INVALID]');
  });
});

const nsReady = canUseNetns();

/** The shell command of a fenced block that starts the service, as the page writes it. */
function documentedStart(page: string): string {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const m =
    /^POSTURE_VERIFIER_NONCE_SECRET=.*\\\n\s+node dist\/verifier-service\/main\.js --config .*$/m.exec(text);
  if (!m) throw new Error(`${page} has no start command`);
  return m[0];
}

describeWith('root and unshare', nsReady).each(['README.md', 'docs/verifier-service.md'])(
  'the start command of %s, exactly as written',
  (page) => {
    it('starts (as root, on its fixed port, its state in /var/lib) and answers /healthz, then stops on SIGTERM', async () => {
      const command = documentedStart(page);
      // Private mount and network namespaces: port 8443 and /var/lib are this test's own.
      const script = [
        'set -u',
        'ip link set lo up',
        'mount -t tmpfs tmpfs /var/lib',
        '(',
        command,
        ') 2>/tmp/doc-start-$$.log &',
        'pid=$!',
        'for i in $(seq 1 100); do curl -sf http://127.0.0.1:8443/healthz && break; sleep 0.1; done',
        'echo; ls /var/lib/posture-verifier',
        'kill -TERM $pid; wait $pid; echo "exit=$?"',
        'cat /tmp/doc-start-$$.log; rm -f /tmp/doc-start-$$.log',
      ].join('\n');
      const r = await run('unshare', ['--mount', '--net', '--fork', 'sh', '-c', script], {
        cwd: ROOT,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' },
        timeout: 60_000,
      });
      expect(r.stdout).toContain('{"status":"ok"}');
      expect(r.stdout).toContain('devices.db');
      expect(r.stdout).toContain('exit=0');
      expect(r.stdout).toContain('posture-verifier listening on http://127.0.0.1:8443');
    }, 60_000);
  },
);
