/**
 * The built `posture` command, run as a user would run it (the test command builds dist/ first).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'posture-cli-'));
const env = {
  ...process.env,
  POSTURE_CACHE_DIR: join(dir, 'cache'),
  POSTURE_CONFIG: join(dir, 'none.json'),
  // No daemon answers here, whatever runs on this machine: headers/attest sign in process.
  POSTURE_SOCKET: join(dir, 'no-daemon.sock'),
  NODE_OPTIONS: '',
};

async function posture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error('dist/cli/main.js is missing: run `npm run build` first (the test command does)');
});

describe('posture CLI', () => {
  it('--help documents the commands and exit codes', async () => {
    const { code, stdout } = await posture(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/check/);
    expect(stdout).toMatch(/capture/);
    expect(stdout).toMatch(/Exit codes/);
    for (const code of ['ERR_DEVICE_REVOKED', 'ERR_DEVICE_LOCKED', 'ERR_SERVER_URL_MISMATCH'])
      expect(stdout).toContain(code);
  });

  it('check --json prints the documented schema and exits by the overall verdict', async () => {
    const { code, stdout } = await posture(['check', '--json']);
    const out = JSON.parse(stdout) as {
      schema: string;
      report: { schema: string; checks: Record<string, unknown> };
      evaluation: { overall: string; checks: { check: string; verdict: string; code: string }[] };
    };
    expect(out.schema).toBe('posture-check/v1');
    expect(out.report.schema).toBe('posture-report/v1');
    expect(Object.keys(out.report.checks).sort()).toEqual([
      'disk_encryption',
      'firewall',
      'os_version',
      'patch_level',
    ]);
    expect(code).toBe({ pass: 0, fail: 1, unknown: 2 }[out.evaluation.overall]);
    // This CI machine's root disk is a plain virtio disk: the probe must say so.
    expect(out.evaluation.checks.find((c) => c.check === 'disk_encryption')?.code).toBe('volume_unencrypted');
  });

  it('check prints a table with the verdict, the reason and the fix', async () => {
    const { stdout } = await posture(['check']);
    expect(stdout).toMatch(/^Disk encryption\s+FAIL/m);
    expect(stdout).toMatch(/fix: /);
    expect(stdout).toMatch(/^Overall: (PASS|FAIL|UNKNOWN)$/m);
  });

  it('capture --out then check --replay reproduces the verdicts', async () => {
    const file = join(dir, 'capture.json');
    const cap = await posture(['capture', '--out', file, '--note', 'cli test']);
    expect(cap.code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      format: 'posture-capture',
      version: 1,
      note: 'cli test',
    });
    const live = JSON.parse((await posture(['check', '--json', '--no-cache'])).stdout) as {
      evaluation: { checks: { code: string }[] };
    };
    const replay = await posture(['check', '--json', '--replay', file]);
    const replayed = JSON.parse(replay.stdout) as {
      report: { replayedFrom: string };
      evaluation: { checks: { code: string }[] };
    };
    expect(replayed.report.replayedFrom).toBe(file);
    expect(replayed.evaluation.checks.map((c) => c.code).slice(0, 3)).toEqual(
      live.evaluation.checks.map((c) => c.code).slice(0, 3),
    );
  });

  it('a bad policy file exits 3 with ERR_POLICY_INVALID and names the field', async () => {
    const file = join(dir, 'bad-policy.yaml');
    writeFileSync(file, 'version: 1\nchecks:\n  firewall:\n    required: sometimes\n');
    const { code, stderr, stdout } = await posture(['check', '--policy', file]);
    expect(code).toBe(3);
    expect(stderr).toMatch(/\[ERR_POLICY_INVALID\]/);
    expect(stderr).toMatch(/checks\.firewall\.required/);
    expect(stdout).toBe('');
  });

  it('a policy that relaxes a check changes the verdict', async () => {
    const file = join(dir, 'lenient.yaml');
    writeFileSync(file, 'version: 1\nrevision: lenient\nchecks:\n  disk_encryption:\n    required: false\n');
    const out = JSON.parse((await posture(['check', '--json', '--policy', file])).stdout) as {
      evaluation: { policyRevision: string; checks: { check: string; verdict: string }[] };
    };
    expect(out.evaluation.policyRevision).toBe('lenient');
    expect(out.evaluation.checks.find((c) => c.check === 'disk_encryption')?.verdict).toBe('not_applicable');
  });

  it.each([
    ['missing', 'nope.json', 'ERR_CAPTURE_UNREADABLE'],
    ['garbage', 'garbage.json', 'ERR_CAPTURE_INVALID'],
  ])('a %s capture exits 3 with %s', async (_name, name, code) => {
    if (name === 'garbage.json') writeFileSync(join(dir, name), 'not json at all');
    const out = await posture(['check', '--replay', join(dir, name)]);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain(`[${code}]`);
  });

  it('an unknown option exits 3', async () => {
    expect((await posture(['check', '--frobnicate'])).code).toBe(3);
  });

  it('an unknown option with --json also prints the error as JSON on stdout', async () => {
    const out = await posture(['check', '--json', '--frobnicate']);
    expect(out.code).toBe(3);
    expect(JSON.parse(out.stdout)).toMatchObject({ error: { code: 'ERR_USAGE', exitCode: 3 } });
  });

  it.each([
    ['--help', 0],
    ['--version', 0],
    ['key show --json', 5],
  ])('a reader that goes away (posture %s | head) ends it quietly with its exit code', async (args, exit) => {
    // The pipe is closed before the command writes: every write it makes fails with EPIPE.
    const child = spawn(process.execPath, [CLI, ...args.split(' ')], {
      env: { ...env, POSTURE_STATE_DIR: join(dir, 'no-state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(exit);
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('capture --out into a folder that does not exist exits 3 with ERR_OUTPUT_UNWRITABLE naming the path', async () => {
    const target = join(dir, 'missing-folder', 'capture.json');
    const out = await posture(['capture', '--out', target]);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('[ERR_OUTPUT_UNWRITABLE]');
    expect(out.stderr).toContain(target);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it('capture --out onto a folder exits 3 with ERR_OUTPUT_UNWRITABLE', async () => {
    const out = await posture(['capture', '--out', dir]);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('[ERR_OUTPUT_UNWRITABLE]');
  });
});

describe('presenting this device (explicit file key, as on a headless machine)', () => {
  const keyEnv = {
    POSTURE_STATE_DIR: join(dir, 'state'),
    POSTURE_KEY_STORE: 'file',
    POSTURE_KEY_FILE: join(dir, 'device-key.json'),
  };
  const withKey = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
        env: { ...env, ...keyEnv, ...extra },
        timeout: 120_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('key show before any key exists exits 5 with ERR_KEY_NOT_FOUND', async () => {
    const out = await withKey(['key', 'show'], { POSTURE_STATE_DIR: join(dir, 'empty-state') });
    expect(out.code).toBe(5);
    expect(out.stderr).toContain('[ERR_KEY_NOT_FOUND]');
  });

  it.each([
    [['key', 'show', '--json'], { POSTURE_STATE_DIR: join(dir, 'empty-state') }, 'ERR_KEY_NOT_FOUND', 5],
    [
      ['key', 'rotate', '--json'],
      { POSTURE_KEY_FILE: '', POSTURE_STATE_DIR: join(dir, 'no-file-state') },
      'ERR_FILE_KEY_NOT_ALLOWED',
      5,
    ],
    [['attest', '--json'], {}, 'ERR_AUDIENCE_REQUIRED', 3],
    [['headers', '--url', 'not-a-url', '--format', 'json'], {}, 'ERR_USAGE', 3],
    [['check', '--json', '--policy', join(dir, 'nope.yaml')], {}, 'ERR_POLICY_UNREADABLE', 3],
    [['enroll', '--server', 'http://127.0.0.1:1', '--token', 't', '--json'], {}, 'ERR_SERVER_UNREACHABLE', 7],
    [['enroll', '--server', 'http://127.0.0.1:1', '--token', ' ', '--json'], {}, 'ERR_USAGE', 3],
  ])('%j: errors are JSON on stdout too', async (args, extra, code, exit) => {
    const out = await withKey(args, extra);
    expect(out.code).toBe(exit);
    expect(JSON.parse(out.stdout)).toMatchObject({ error: { code, exitCode: exit } });
    expect(out.stderr).toContain(`[${code}]`);
  });

  it('attest makes the key, key show and key rotate report it', async () => {
    const attest = JSON.parse(
      (await withKey(['attest', '--aud', 'https://app.example.com', '--json'])).stdout,
    ) as { token: string; claims: { key_protection: string; aud: string } };
    expect(attest.claims).toMatchObject({ key_protection: 'file', aud: 'https://app.example.com' });
    const shown = JSON.parse((await withKey(['key', 'show', '--json'])).stdout) as {
      kid: string;
      protection: string;
    };
    expect(shown.protection).toBe('file');
    const rotated = JSON.parse((await withKey(['key', 'rotate', '--json'])).stdout) as {
      previousKid: string;
      kid: string;
      statement: string;
    };
    expect(rotated.previousKid).toBe(shown.kid);
    expect(rotated.kid).not.toBe(shown.kid);
    expect(rotated.statement.split('.')).toHaveLength(3);
    // The configured keyFile holds the new key; nothing else is left (no verifier to tell).
    const after = JSON.parse((await withKey(['key', 'show', '--json'])).stdout) as {
      kid: string;
      ref: string;
    };
    expect(after).toMatchObject({ kid: rotated.kid, ref: keyEnv.POSTURE_KEY_FILE });
    expect(readdirSync(dir).filter((f) => f.startsWith('device-key'))).toEqual(['device-key.json']);
  });

  it('attest without an audience exits 3 with ERR_AUDIENCE_REQUIRED', async () => {
    const out = await withKey(['attest']);
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('[ERR_AUDIENCE_REQUIRED]');
  });

  it('headers --format json gives the two headers; run hands them to a command', async () => {
    const headers = JSON.parse(
      (
        await withKey([
          'headers',
          '--url',
          'https://app.example.com/x',
          '--method',
          'PUT',
          '--format',
          'json',
        ])
      ).stdout,
    ) as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['Posture-Attestation', 'Posture-Proof']);
    const out = await withKey([
      'run',
      '--url',
      'https://app.example.com/x',
      '--',
      '/bin/sh',
      '-c',
      'test -n "$POSTURE_PROOF" && echo "$1"',
      'sh',
      '@posture-headers',
    ]);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe('-H');
  });

  it('a keychain key with no Secret Service exits 5 with ERR_KEYCHAIN_UNAVAILABLE', async () => {
    const out = await withKey(['attest', '--aud', 'https://app.example.com'], {
      POSTURE_STATE_DIR: join(dir, 'keychain-state'),
      POSTURE_KEY_STORE: 'keychain',
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
    });
    expect(out.code).toBe(5);
    expect(out.stderr).toContain('[ERR_KEYCHAIN_UNAVAILABLE]');
  });
});
