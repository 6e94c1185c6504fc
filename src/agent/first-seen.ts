/**
 * How long has an update been pending? Linux and macOS package managers do not say when an update
 * was published, so the agent remembers when it first saw each one pending. The policy's grace
 * period counts from then; the verdict says so ("first seen by this agent N days ago").
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PostureReport } from '../shared/posture.js';
import { writeFileAtomic } from './write-atomic.js';

type Seen = Record<string, string>;

export async function annotateFirstSeen(
  report: PostureReport,
  stateFile: string,
  now: Date,
): Promise<PostureReport> {
  const patch = report.checks.patch_level;
  if (!patch || patch.status !== 'observed') return report;
  const seen = await load(stateFile);
  const next: Seen = {};
  const manager = patch.observation.manager;
  const updates = patch.observation.updates.map((u) => {
    const key = `${manager}:${u.name}`;
    const first = seen[key] ?? now.toISOString();
    next[key] = first;
    return { ...u, firstSeenAt: first };
  });
  await save(stateFile, next);
  return {
    ...report,
    checks: { ...report.checks, patch_level: { ...patch, observation: { ...patch.observation, updates } } },
  };
}

async function load(file: string): Promise<Seen> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (data && typeof data === 'object' && !Array.isArray(data)) {
      return Object.fromEntries(
        Object.entries(data).filter(([, v]) => typeof v === 'string' && !Number.isNaN(Date.parse(v))),
      ) as Seen;
    }
  } catch {
    // No state yet, or a damaged file: start afresh (updates count from now, which never hides one for longer than the grace).
  }
  return {};
}

async function save(file: string, seen: Seen): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, JSON.stringify(seen));
  } catch {
    // Without state the next run counts from its own time; the verdict stays truthful about that.
  }
}
