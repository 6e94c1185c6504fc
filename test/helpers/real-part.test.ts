/**
 * A real-part suite whose part is missing: skipped on a developer's machine, failed in CI. Run as a
 * child jest on a throw-away suite, since the failing test it registers must not fail this run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.cwd();
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

function runSuite(env: NodeJS.ProcessEnv): Promise<{ code: number; results: JestResults }> {
  const dir = mkdtempSync(join(tmpdir(), 'posture-real-part-'));
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
  writeFileSync(
    join(dir, 'missing.test.ts'),
    `import { describeWith, itWith } from ${JSON.stringify(join(ROOT, 'test', 'helpers', 'real-part.js'))};
describeWith('a part nobody has', false)('with the part', () => { it('uses it', () => undefined); });
describe('one test', () => { itWith('another missing part', false)('uses it', () => undefined); });
`,
  );
  const config = {
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['**/*.test.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*|/.*)\\.js$': '$1' },
    transform: {
      '^.+\\.ts$': [
        join(ROOT, 'node_modules', 'ts-jest'),
        { useESM: true, tsconfig: join(ROOT, 'tsconfig.json'), diagnostics: false },
      ],
    },
  };
  const out = join(dir, 'results.json');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--experimental-vm-modules',
        JEST,
        '--config',
        JSON.stringify(config),
        '--json',
        `--outputFile=${out}`,
      ],
      { env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, timeout: 60_000 },
      (error) => {
        const results = JSON.parse(readFileSync(out, 'utf8')) as JestResults;
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, results });
      },
    );
  });
}

interface JestResults {
  numFailedTests: number;
  numPassedTests: number;
  numPendingTests: number;
}

describe('real-part suites', () => {
  it('skip with a warning where the part is missing outside CI', async () => {
    const { code, results } = await runSuite({});
    expect(code).toBe(0);
    expect(results).toMatchObject({ numFailedTests: 0, numPassedTests: 0, numPendingTests: 2 });
  });

  it('fail in CI, one failing test per missing part', async () => {
    const { code, results } = await runSuite({ CI: 'true' });
    expect(code).toBe(1);
    expect(results).toMatchObject({ numFailedTests: 2, numPassedTests: 0 });
  });
});
