/**
 * The agent state a check's verdicts depend on, read for a capture and applied in its replay:
 * the first-seen record of pending updates (src/agent/first-seen.ts) and the cached probe results
 * a check would serve (src/probes/cache.ts). Reading it changes nothing on the device.
 */
import type { CheckResult, OsFamily, PostureReport } from '../shared/posture.js';
import type { AgentState } from '../probes/capture-agent-state.js';
import { servableEntries } from '../probes/cache.js';
import type { AgentConfig } from './config.js';
import { applyFirstSeen, firstSeenFiles, readFirstSeen } from './first-seen.js';

export type { AgentState };

/** What a live check at `now` would use: the first-seen record and the cache entries it would serve. */
export async function readAgentState(
  config: AgentConfig,
  platform: OsFamily | 'unsupported',
  now: Date,
): Promise<AgentState> {
  const pendingFirstSeen = await readFirstSeen(firstSeenFiles(config));
  const entries =
    config.patchCacheTtlMs > 0 && platform !== 'unsupported'
      ? await servableEntries({ dir: config.cacheDir, ttlMs: config.patchCacheTtlMs, platform, now })
      : [];
  const probeCache = entries.filter(
    (e): e is typeof e & { check: 'patch_level' } =>
      e.check === 'patch_level' && e.result.status === 'observed',
  ) as unknown as NonNullable<AgentState['probeCache']>;
  return { pendingFirstSeen, ...(probeCache.length ? { probeCache } : {}) };
}

/** Results to serve in place of running their probes, by check. */
export function storedResults(state: AgentState | undefined): Map<string, CheckResult<unknown>> {
  return new Map((state?.probeCache ?? []).map((e) => [e.check, e.result as CheckResult<unknown>]));
}

/** The report as a live check would annotate it from this state (nothing is written). */
export function applyAgentState(report: PostureReport, state: AgentState, now: Date): PostureReport {
  return state.pendingFirstSeen ? applyFirstSeen(report, state.pendingFirstSeen, now).report : report;
}
