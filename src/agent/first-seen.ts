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

/**
 * Annotates from the state file and writes the state back (the live check and the capture). When
 * the record cannot be read (unreadable, damaged) or a newly seen update cannot be recorded (disk
 * full, read-only), how long updates have been pending cannot be told: counting from now on every
 * run would let an old update pass as new for ever. The patch level is then `unknown`
 * (`probe_error`, the file named in its evidence), never a pass; a damaged file stays for a person
 * to look at (deleting it starts the count afresh).
 */
export async function annotateFirstSeen(
  report: PostureReport,
  files: FirstSeenFiles,
  now: Date,
): Promise<PostureReport> {
  const patch = report.checks.patch_level;
  if (!patch || patch.status !== 'observed') return report;
  const stored = await readRecord(files.file);
  if (isProblem(stored)) return ageUnknown(report, files.file, stored.problem);
  const seen =
    stored === 'missing' && files.legacy
      ? await readRecord(files.legacy).then((r) => (r === 'missing' || isProblem(r) ? {} : r))
      : stored === 'missing'
        ? {}
        : stored;
  const { report: annotated, next } = applyFirstSeen(report, seen, now);
  const failed = await save(files.file, next);
  if (failed === undefined) {
    if (files.legacy) await rm(files.legacy, { force: true }).catch(() => {});
    return annotated;
  }
  // Nothing new to record (only updates seen before): the stored dates still hold.
  if (Object.keys(next).every((k) => k in seen)) return annotated;
  return ageUnknown(report, files.file, `cannot be written (${failed})`);
}

/** The patch level as unknown: the age of pending updates cannot be told from `file`. */
function ageUnknown(report: PostureReport, file: string, problem: string): PostureReport {
  const patch = report.checks.patch_level;
  if (!patch) return report;
  return {
    ...report,
    checks: {
      ...report.checks,
      patch_level: {
        check: 'patch_level',
        status: 'unknown',
        reason: 'probe_error',
        observedAt: patch.observedAt,
        evidence: [...patch.evidence, { kind: 'file', path: file, error: problem }],
        detail: `the record of when pending updates were first seen (${file}) ${problem}: how long they have been pending cannot be told`,
      },
    },
  };
}

const isProblem = (r: FirstSeen | 'missing' | { problem: string }): r is { problem: string } =>
  typeof r === 'object' && 'problem' in r && typeof r.problem === 'string';

/** The record as stored (or, before the first write, as the cache folder held it); a missing or damaged file is an empty record. */
export async function readFirstSeen(files: FirstSeenFiles): Promise<FirstSeen> {
  const stored = await readRecord(files.file);
  if (stored === 'missing' && files.legacy) {
    const legacy = await readRecord(files.legacy);
    return legacy === 'missing' || isProblem(legacy) ? {} : legacy;
  }
  return stored === 'missing' || isProblem(stored) ? {} : stored;
}

/** The record; 'missing' when there is none yet; a problem when it cannot be read or is damaged. */
async function readRecord(file: string): Promise<FirstSeen | 'missing' | { problem: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    return { problem: `cannot be read (${code ?? 'error'})` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch {
    return { problem: 'is damaged (not JSON)' };
  }
  if (!data || typeof data !== 'object' || Array.isArray(data))
    return { problem: 'is damaged (not a record)' };
  return Object.fromEntries(
    Object.entries(data).filter(([, v]) => typeof v === 'string' && !Number.isNaN(Date.parse(v))),
  ) as FirstSeen;
}

/** Writes the record; the file-system error code when it cannot. */
async function save(file: string, seen: FirstSeen): Promise<string | undefined> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, JSON.stringify(seen));
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'error';
  }
}
