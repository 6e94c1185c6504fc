/**
 * The first-seen record when it cannot be trusted: damaged, unreadable, or impossible to write
 * while an update is seen for the first time. How long updates have been pending cannot be told
 * then, so the patch level is unknown (probe_error, the file in its evidence), never a pass; a
 * damaged file is left as it is.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annotateFirstSeen } from '../../src/agent/first-seen.js';
import type { PostureReport } from '../../src/shared/posture.js';

const NOW = new Date('2026-01-02T00:00:00.000Z');

function reportWith(names: string[]): PostureReport {
  return {
    schema: 'posture-report/v1',
    collectedAt: NOW.toISOString(),
    platform: 'linux',
    agent: { name: 'posture-agent', version: 'test' },
    device: {},
    checks: {
      patch_level: {
        check: 'patch_level',
        status: 'observed',
        observedAt: NOW.toISOString(),
        evidence: [],
        observation: {
          manager: 'apt',
          updates: names.map((name) => ({ name, security: true })),
          rebootRequired: false,
        },
      },
    },
  } as unknown as PostureReport;
}

describe('first-seen record faults', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `pa-first-seen-faults-${process.pid}-`));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a damaged record: the patch level is unknown and the file is left for a person', async () => {
    const file = join(dir, 'pending-first-seen.json');
    writeFileSync(file, '{"apt:openssl":"2025-');
    const out = await annotateFirstSeen(reportWith(['openssl']), { file }, NOW);
    expect(out.checks.patch_level).toMatchObject({ status: 'unknown', reason: 'probe_error' });
    expect(out.checks.patch_level?.evidence).toContainEqual(
      expect.objectContaining({ kind: 'file', path: file }),
    );
    expect(readFileSync(file, 'utf8')).toBe('{"apt:openssl":"2025-');
  });

  it('a record that is not an object: unknown', async () => {
    const file = join(dir, 'pending-first-seen.json');
    writeFileSync(file, '[1,2]');
    const out = await annotateFirstSeen(reportWith(['openssl']), { file }, NOW);
    expect(out.checks.patch_level).toMatchObject({ status: 'unknown', reason: 'probe_error' });
  });

  it('an unreadable record (a folder in its place): unknown', async () => {
    const file = join(dir, 'pending-first-seen.json');
    mkdirSync(file);
    const out = await annotateFirstSeen(reportWith(['openssl']), { file }, NOW);
    expect(out.checks.patch_level).toMatchObject({ status: 'unknown', reason: 'probe_error' });
  });

  it('a new update that cannot be recorded (a folder no one can create files in): unknown', async () => {
    // /proc refuses new files even to root, as a full or read-only disk would.
    const file = '/proc/self/pending-first-seen.json';
    const out = await annotateFirstSeen(reportWith(['openssl']), { file }, NOW);
    expect(out.checks.patch_level).toMatchObject({ status: 'unknown', reason: 'probe_error' });
  });

  it('no pending update: nothing to date, the observation stays', async () => {
    const file = '/proc/self/pending-first-seen.json';
    const out = await annotateFirstSeen(reportWith([]), { file }, NOW);
    expect(out.checks.patch_level?.status).toBe('observed');
  });
});
