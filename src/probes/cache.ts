/**
 * Slow probes (package managers, Windows Update) are cached on disk and time-boxed: a result
 * younger than the TTL is served as it was observed (with its original observedAt, so nobody is
 * told a stale fact is fresh). Unknown results are never cached.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckResult } from '../shared/posture.js';
import type { Host } from '../host/host.js';
import { writeFileAtomic } from '../host/write-atomic.js';
import type { Probe } from './types.js';

export interface ProbeCacheOptions {
  dir: string;
  ttlMs: number;
  /** Which checks are cached; default patch_level only. */
  checks?: string[];
}

export interface Entry {
  storedAt: number;
  platform: string;
  result: CheckResult<unknown>;
}

export const CACHED_CHECKS = ['patch_level'];

function cacheFile(dir: string, platform: string, check: string): string {
  return join(dir, `${platform}-${check}.json`);
}

function servable(entry: Entry | undefined, platform: string, now: number, ttlMs: number): entry is Entry {
  return (
    entry !== undefined &&
    entry.platform === platform &&
    now - entry.storedAt >= 0 &&
    now - entry.storedAt < ttlMs
  );
}

/**
 * The entries a check run at `now` would serve instead of running the probe: agent state a verdict
 * depends on, which `posture capture` stores so that its replay answers as the live check did.
 */
export async function servableEntries(
  options: ProbeCacheOptions & { platform: string; now: Date },
): Promise<(Entry & { check: string })[]> {
  const entries: (Entry & { check: string })[] = [];
  for (const check of options.checks ?? CACHED_CHECKS) {
    const entry = await readEntry(cacheFile(options.dir, options.platform, check));
    if (servable(entry, options.platform, options.now.getTime(), options.ttlMs))
      entries.push({ check, ...entry });
  }
  return entries;
}

/** Serves the given results (from a capture's agent state) instead of running their probes. */
export function withStoredResults(
  results: ReadonlyMap<string, CheckResult<unknown>>,
): (probe: Probe) => Probe {
  return (probe) => {
    const result = results.get(probe.check);
    if (!result) return probe;
    return { ...probe, collect: async () => result as Awaited<ReturnType<typeof probe.collect>> };
  };
}

export function withCache(host: Host, options: ProbeCacheOptions): (probe: Probe) => Probe {
  const cached = new Set(options.checks ?? CACHED_CHECKS);
  return (probe) => {
    if (!cached.has(probe.check)) return probe;
    const file = cacheFile(options.dir, probe.platform, probe.check);
    return {
      ...probe,
      async collect(ctx) {
        const now = host.now().getTime();
        const entry = await readEntry(file);
        if (servable(entry, probe.platform, now, options.ttlMs)) {
          return entry.result as Awaited<ReturnType<typeof probe.collect>>;
        }
        const result = await probe.collect(ctx);
        if (result.status === 'observed')
          await writeEntry(file, { storedAt: now, platform: probe.platform, result });
        return result;
      },
    } as Probe;
  };
}

async function readEntry(file: string): Promise<Entry | undefined> {
  try {
    const entry = JSON.parse(await readFile(file, 'utf8')) as Entry;
    return typeof entry?.storedAt === 'number' && entry.result?.status === 'observed' ? entry : undefined;
  } catch {
    return undefined; // missing or corrupt cache: collect afresh
  }
}

async function writeEntry(file: string, entry: Entry): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, JSON.stringify(entry), { mode: 0o600 });
  } catch {
    // A cache that cannot be written only costs speed.
  }
}
