/** The first-seen record lives in the state folder; one left in the cache folder by an earlier version is carried over. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annotateFirstSeen, firstSeenFiles, readFirstSeen } from '../../src/agent/first-seen.js';
import type { PostureReport } from '../../src/shared/posture.js';

function reportWith(names: string[]): PostureReport {
  return {
    schema: 'posture-report/v1',
    collectedAt: '2026-01-02T00:00:00.000Z',
    platform: 'linux',
    agent: { name: 'posture-agent', version: 'test' },
    device: {},
    checks: {
      patch_level: {
        check: 'patch_level',
        status: 'observed',
        observedAt: '2026-01-02T00:00:00.000Z',
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

const firstSeenOf = (r: PostureReport) =>
  Object.fromEntries(
    (
      r.checks.patch_level as { observation: { updates: { name: string; firstSeenAt?: string }[] } }
    ).observation.updates.map((u) => [u.name, u.firstSeenAt]),
  );

describe('first-seen record', () => {
  const dirs = () => {
    const root = mkdtempSync(join(tmpdir(), `posture-first-seen-${process.pid}-`));
    return { stateDir: join(root, 'state'), cacheDir: join(root, 'cache') };
  };

  it('is written to the state folder, not the cache folder', async () => {
    const d = dirs();
    await annotateFirstSeen(reportWith(['openssl']), firstSeenFiles(d), new Date('2026-01-02T00:00:00Z'));
    expect(existsSync(join(d.stateDir, 'pending-first-seen.json'))).toBe(true);
    expect(existsSync(join(d.cacheDir, 'pending-first-seen.json'))).toBe(false);
  });

  it('carries over a record an earlier version left in the cache folder, then removes that copy', async () => {
    const d = dirs();
    mkdirSync(d.cacheDir, { recursive: true });
    const legacy = join(d.cacheDir, 'pending-first-seen.json');
    writeFileSync(legacy, JSON.stringify({ 'apt:openssl': '2025-12-01T00:00:00.000Z' }));
    expect(await readFirstSeen(firstSeenFiles(d))).toEqual({ 'apt:openssl': '2025-12-01T00:00:00.000Z' });
    const annotated = await annotateFirstSeen(
      reportWith(['openssl', 'curl']),
      firstSeenFiles(d),
      new Date('2026-01-02T00:00:00Z'),
    );
    expect(firstSeenOf(annotated)).toEqual({
      openssl: '2025-12-01T00:00:00.000Z',
      curl: '2026-01-02T00:00:00.000Z',
    });
    expect(existsSync(legacy)).toBe(false);
    expect(JSON.parse(readFileSync(join(d.stateDir, 'pending-first-seen.json'), 'utf8'))).toEqual({
      'apt:openssl': '2025-12-01T00:00:00.000Z',
      'apt:curl': '2026-01-02T00:00:00.000Z',
    });
  });

  it('prefers the state folder once it has a record', async () => {
    const d = dirs();
    mkdirSync(d.cacheDir, { recursive: true });
    mkdirSync(d.stateDir, { recursive: true });
    writeFileSync(
      join(d.cacheDir, 'pending-first-seen.json'),
      JSON.stringify({ 'apt:a': '2020-01-01T00:00:00.000Z' }),
    );
    writeFileSync(join(d.stateDir, 'pending-first-seen.json'), JSON.stringify({}));
    expect(await readFirstSeen(firstSeenFiles(d))).toEqual({});
  });
});
