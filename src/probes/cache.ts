/**
 * Slow probes (package managers, Windows Update) are cached on disk and time-boxed: a result
 * younger than the TTL is served as it was observed (with its original observedAt, so nobody is
 * told a stale fact is fresh). Unknown results are never cached.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckResult } from '../shared/posture.js';
import type { Host } from './host.js';
import type { Probe } from './types.js';

export interface ProbeCacheOptions {
  dir: string;
  ttlMs: number;
  /** Which checks are cached; default patch_level only. */
  checks?: string[];
}

interface Entry {
  storedAt: number;
  platform: string;
  result: CheckResult<unknown>;
}

export function withCache(host: Host, options: ProbeCacheOptions): (probe: Probe) => Probe {
  const cached = new Set(options.checks ?? ['patch_level']);
  return (probe) => {
    if (!cached.has(probe.check)) return probe;
    const file = join(options.dir, `${probe.platform}-${probe.check}.json`);
    return {
      ...probe,
      async collect(ctx) {
        const now = host.now().getTime();
        const entry = await readEntry(file);
        if (
          entry &&
          entry.platform === probe.platform &&
          now - entry.storedAt >= 0 &&
          now - entry.storedAt < options.ttlMs
        ) {
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
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // A cache that cannot be written only costs speed.
  }
}
