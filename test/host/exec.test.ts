import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execCommand } from '../../src/host/exec.js';

describe('execCommand (real processes)', () => {
  it('runs by absolute path with an argument array, in the C locale', async () => {
    const out = await execCommand({ command: '/usr/bin/env', args: [] });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^LC_ALL=C$/m);
    expect(out.stdout).not.toMatch(/^NODE_OPTIONS=/m);
  });

  it('never uses a shell: metacharacters arrive as literal arguments', async () => {
    const out = await execCommand({
      command: '/bin/echo',
      args: ['a; touch /tmp/pwned-by-posture', '$(id)', '`id`'],
    });
    expect(out.ok && out.stdout).toBe('a; touch /tmp/pwned-by-posture $(id) `id`\n');
  });

  it('refuses a relative command', async () => {
    expect(await execCommand({ command: 'echo', args: ['x'] })).toMatchObject({
      ok: false,
      error: 'spawn_failed',
    });
  });

  it('reports a missing command as command_missing', async () => {
    expect(await execCommand({ command: '/usr/bin/definitely-not-installed', args: [] })).toMatchObject({
      ok: false,
      error: 'command_missing',
    });
  });

  it('kills a command that runs past its timeout', async () => {
    const started = Date.now();
    const out = await execCommand({ command: '/bin/sleep', args: ['30'], timeoutMs: 200 });
    expect(out).toMatchObject({ ok: false, error: 'timeout' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('kills a command whose output passes the cap', async () => {
    const out = await execCommand({
      command: '/usr/bin/yes',
      args: [],
      maxOutputBytes: 64 * 1024,
      timeoutMs: 10_000,
    });
    expect(out).toMatchObject({ ok: false, error: 'output_too_large' });
  });

  it('returns non-zero exits as results for the parser to judge', async () => {
    const out = await execCommand({ command: '/bin/sh', args: ['-c', 'echo err >&2; exit 100'] });
    expect(out).toMatchObject({ ok: true, exitCode: 100, stderr: 'err\n' });
  });

  it('reports a file that is not executable as insufficient_privilege', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'posture-exec-')), 'not-executable');
    writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    expect(await execCommand({ command: file, args: [] })).toMatchObject({
      ok: false,
      error: 'insufficient_privilege',
    });
  });
});
