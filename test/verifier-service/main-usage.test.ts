/**
 * The built `posture-verifier` command line: bad usage (no --config, an unknown option) exits 3 like a
 * bad configuration, as its --help says; exit 1 stays reserved for internal errors; --help exits 0.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'dist', 'verifier-service', 'main.js');

function verifier(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!existsSync(MAIN))
    throw new Error('dist/verifier-service/main.js is missing: run `npm run build` first');
});

describe('posture-verifier command line', () => {
  it.each([[[]], [['--check']], [['--config']], [['--config', 'x.yaml', '--bogus']]])(
    'bad usage %j exits 3',
    async (args) => {
      expect((await verifier(args)).code).toBe(3);
    },
    60_000,
  );

  it('--help exits 0 and names the exit codes', async () => {
    const out = await verifier(['--help']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Exit codes');
  }, 60_000);
});
