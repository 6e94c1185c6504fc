/**
 * The README's quick start runs exactly as written in a root shell without sudo (a minimal machine,
 * a container) and as a user with sudo. The command line is taken from the README itself and run by
 * /bin/sh with stand-ins for apt-get, npm, node and sudo that record how they were called, on a PATH
 * holding only them (so whether sudo exists is what the test says, not what this machine has).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function quickStartCommand(): string {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: no sh block in the quick start');
  return block.trim();
}

/** A folder of stand-in commands that log "name args…" and succeed; `sudo` runs its arguments. */
function standIns(withSudo: boolean): { bin: string; log: string } {
  const bin = mkdtempSync(join(tmpdir(), 'posture-quickstart-'));
  const log = join(bin, 'calls.log');
  for (const name of ['apt-get', 'npm', 'node']) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  if (withSudo) {
    writeFileSync(join(bin, 'sudo'), `#!/bin/sh\necho "sudo $*" >> "${log}"\nexec "$@"\n`);
    chmodSync(join(bin, 'sudo'), 0o755);
  }
  return { bin, log };
}

function runQuickStart(withSudo: boolean): Promise<{ code: number; calls: string[]; stderr: string }> {
  const { bin, log } = standIns(withSudo);
  writeFileSync(log, '');
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', quickStartCommand()],
      { env: { PATH: bin, HOME: bin }, cwd: bin },
      (error, _out, stderr) => {
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          calls: readFileSync(log, 'utf8').trim().split('\n'),
          stderr,
        });
      },
    );
  });
}

describe('README quick start', () => {
  it('runs in a root shell that has no sudo', async () => {
    const { code, calls, stderr } = await runQuickStart(false);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(calls.some((c) => c.startsWith('apt-get install'))).toBe(true);
    expect(calls.at(-1)).toBe('node dist/cli/main.js check');
  });

  it('runs as a user through sudo for the package installation only', async () => {
    const { code, calls } = await runQuickStart(true);
    expect(code).toBe(0);
    expect(calls.filter((c) => c.startsWith('sudo ')).every((c) => c.startsWith('sudo apt-get'))).toBe(true);
    expect(calls.some((c) => c.startsWith('sudo apt-get install'))).toBe(true);
    expect(calls.at(-1)).toBe('node dist/cli/main.js check');
  });
});
