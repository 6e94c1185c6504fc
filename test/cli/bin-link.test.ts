/**
 * `posture` run as installed: through the bin symlink that `npm link` (and a global install) makes,
 * found on PATH, rather than as `node dist/cli/main.js`. The link is made by npm itself, into a
 * temporary prefix, so what is tested is exactly what a user's PATH runs.
 */
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { agentEnv, assertBuilt, posture } from '../helpers/cli.js';

const run = promisify(execFile);
const NPM = join(dirname(process.execPath), 'npm');

let bin: string;
beforeAll(async () => {
  assertBuilt();
  const prefix = mkdtempSync(join(tmpdir(), 'posture-npm-prefix-'));
  // `npm link` in the package folder: links it into the prefix and puts its bins in prefix/bin.
  await run(NPM, ['link', '--no-audit', '--no-fund', '--offline'], {
    cwd: process.cwd(),
    env: { ...process.env, npm_config_prefix: prefix, NODE_OPTIONS: '' },
    timeout: 120_000,
  });
  bin = join(prefix, 'bin', 'posture');
}, 150_000);

describe('posture through its npm bin link', () => {
  it('is a symlink to dist/cli/main.js', () => {
    expect(lstatSync(bin).isSymbolicLink()).toBe(true);
    expect(readlinkSync(bin)).toMatch(/dist\/cli\/main\.js$/);
  });

  it('--help and --version print and exit 0', async () => {
    const { env } = agentEnv();
    const help = await posture(['--help'], env, bin);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
    const version = await posture(['--version'], env, bin);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs commands: a key is made, shown, and an error keeps its exit code', async () => {
    const { env } = agentEnv();
    expect((await posture(['key', 'show', '--json'], env, bin)).code).toBe(5);
    const attest = await posture(['attest', '--aud', 'https://app.example.com', '--json'], env, bin);
    expect(attest.code).toBe(0);
    expect(JSON.parse(attest.stdout)).toMatchObject({ claims: { aud: 'https://app.example.com' } });
  }, 60_000);
});
