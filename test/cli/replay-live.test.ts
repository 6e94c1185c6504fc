/**
 * Replay equals live, on this machine, with the built `posture` command: a capture replays to the
 * verdicts the live check gives, patch level included, because the capture holds the agent state
 * those verdicts depend on (the first-seen record and the cached patch result).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

interface CheckJson {
  report: { checks: Record<string, { status: string }> };
  evaluation: { checks: { check: string; verdict: string; code: string; ageBasis?: string }[] };
}

function cli(dir: string) {
  const env = {
    ...process.env,
    POSTURE_CACHE_DIR: join(dir, 'cache'),
    POSTURE_STATE_DIR: join(dir, 'state'),
    POSTURE_CONFIG: join(dir, 'none.json'),
    NODE_OPTIONS: '',
  };
  return async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}

const verdicts = (stdout: string) =>
  (JSON.parse(stdout) as CheckJson).evaluation.checks.map(({ check, verdict, code, ageBasis }) => ({
    check,
    verdict,
    code,
    ...(ageBasis ? { ageBasis } : {}),
  }));

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error('dist/cli/main.js is missing: run `npm run build` first (the test command does)');
});

describe('posture capture → posture check --replay gives the live verdicts', () => {
  it('after live checks have built up agent state (first-seen record, cached patch result)', async () => {
    const dir = mkdtempSync(join(tmpdir(), `posture-replay-live-${process.pid}-`));
    const posture = cli(dir);
    const before = await posture(['check', '--json']);
    const file = join(dir, 'capture.json');
    const captured = await posture(['capture', '--out', file]);
    expect(captured.code).toBe(0);
    const replayed = await posture(['check', '--replay', file, '--json']);
    const after = await posture(['check', '--json']);
    expect(verdicts(replayed.stdout)).toEqual(verdicts(after.stdout));
    expect(verdicts(replayed.stdout)).toEqual(verdicts(before.stdout));
    expect(replayed.code).toBe(after.code);

    const capture = JSON.parse(readFileSync(file, 'utf8')) as {
      agentState?: { pendingFirstSeen?: Record<string, string>; probeCache?: unknown[] };
    };
    const live = JSON.parse(before.stdout) as CheckJson;
    if (live.report.checks.patch_level?.status === 'observed') {
      // The live check cached its patch result and recorded first sightings; the capture holds both.
      expect(capture.agentState?.probeCache).toHaveLength(1);
      expect(capture.agentState?.pendingFirstSeen).toBeDefined();
    }
  });

  it('on a device with no agent state yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), `posture-replay-fresh-${process.pid}-`));
    const posture = cli(dir);
    const file = join(dir, 'capture.json');
    expect((await posture(['capture', '--out', file])).code).toBe(0);
    const replayed = await posture(['check', '--replay', file, '--json']);
    const live = await posture(['check', '--json']);
    expect(verdicts(replayed.stdout)).toEqual(verdicts(live.stdout));
  });

  it('a capture made before agent state was recorded (no agentState) still replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), `posture-replay-old-${process.pid}-`));
    const posture = cli(dir);
    const file = join(dir, 'capture.json');
    expect((await posture(['capture', '--out', file])).code).toBe(0);
    const { agentState: _dropped, ...old } = JSON.parse(readFileSync(file, 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(join(dir, 'old.json'), JSON.stringify(old));
    const replayed = await posture(['check', '--replay', join(dir, 'old.json'), '--json']);
    expect([0, 1, 2]).toContain(replayed.code);
    expect(
      verdicts(replayed.stdout)
        .map((v) => v.check)
        .sort(),
    ).toEqual(['disk_encryption', 'firewall', 'os_version', 'patch_level']);
  });
});
