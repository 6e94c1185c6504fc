/**
 * How long has an update been pending? Linux and macOS package managers do not say when an update
 * was published, so the agent remembers when it first saw each one pending. The policy's grace
 * period counts from then (or from an earlier publication date or verifier record); the verdict
 * says which ("first seen by this agent N days ago").
 *
 * The record is agent state a verdict depends on, so `posture capture` stores it and a replay
 * answers from the stored copy (docs/capture-format.md, `agentState.pendingFirstSeen`).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PostureReport } from '../shared/posture.js';
import { writeFileAtomic } from '../host/write-atomic.js';

/** "manager:name" → ISO time first seen pending. */
export type FirstSeen = Record<string, string>;

/**
 * Where the record lives: agent state, in the state folder. Earlier versions kept it in the cache
 * folder (`legacy`); it is read from there until the first write to the state folder, which then
 * removes the old copy (a cache cleaner must not restart every grace period).
 */
export interface FirstSeenFiles {
  file: string;
  legacy?: string;
}

export function firstSeenFiles(dirs: { stateDir: string; cacheDir?: string }): FirstSeenFiles {
  return {
    file: join(dirs.stateDir, 'pending-first-seen.json'),
    ...(dirs.cacheDir ? { legacy: join(dirs.cacheDir, 'pending-first-seen.json') } : {}),
  };
}

/**
 * Marks each pending update with when it was first seen: from `seen`, or `now` for one not seen
 * before. Returns the annotated report and the record to keep (only what is still pending). Pure.
 */
export function applyFirstSeen(
  report: PostureReport,
  seen: FirstSeen,
  now: Date,
): { report: PostureReport; next: FirstSeen } {
  const patch = report.checks.patch_level;
  if (!patch || patch.status !== 'observed') return { report, next: seen };
  const next: FirstSeen = {};
  const manager = patch.observation.manager;
  const updates = patch.observation.updates.map((u) => {
    const key = `${manager}:${u.name}`;
    const first = seen[key] ?? now.toISOString();
    next[key] = first;
    return { ...u, firstSeenAt: first };
  });
  return {
    report: {
      ...report,
      checks: { ...report.checks, patch_level: { ...patch, observation: { ...patch.observation, updates } } },
    },
    next,
  };
}

/** Annotates from the state file and writes the state back (the live check and the capture). */
export async function annotateFirstSeen(
  report: PostureReport,
  files: FirstSeenFiles,
  now: Date,
): Promise<PostureReport> {
  const patch = report.checks.patch_level;
  if (!patch || patch.status !== 'observed') return report;
  const { report: annotated, next } = applyFirstSeen(report, await readFirstSeen(files), now);
  if ((await save(files.file, next)) && files.legacy) await rm(files.legacy, { force: true }).catch(() => {});
  return annotated;
}

/** The record as stored (or, before the first write, as the cache folder held it); a missing or damaged file is an empty record. */
export async function readFirstSeen(files: FirstSeenFiles): Promise<FirstSeen> {
  const stored = await readRecord(files.file);
  if (stored === 'missing' && files.legacy) {
    const legacy = await readRecord(files.legacy);
    return legacy === 'missing' ? {} : legacy;
  }
  return stored === 'missing' ? {} : stored;
}

async function readRecord(file: string): Promise<FirstSeen | 'missing'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    return {};
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (data && typeof data === 'object' && !Array.isArray(data)) {
      return Object.fromEntries(
        Object.entries(data).filter(([, v]) => typeof v === 'string' && !Number.isNaN(Date.parse(v))),
      ) as FirstSeen;
    }
  } catch {
    // No state yet, or a damaged file: start afresh (updates count from now, which never hides one for longer than the grace).
  }
  return {};
}

async function save(file: string, seen: FirstSeen): Promise<boolean> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, JSON.stringify(seen));
    return true;
  } catch {
    // Without state the next run counts from its own time; the verdict stays truthful about that.
    return false;
  }
}
