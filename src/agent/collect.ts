/** Collects this device's posture (or a replayed capture's) with the probes for its platform. */
import { fileURLToPath } from 'node:url';
import type { CheckId, CheckResult, PostureReport } from '../shared/posture.js';
import { withCache, withStoredResults } from '../probes/cache.js';
import type { Host } from '../host/host.js';
import { osFamily, probesFor } from '../probes/registry.js';
import { collectPosture } from '../probes/run.js';
import type { WindowsPaths } from '../probes/windows/helper.js';
import type { AgentConfig } from './config.js';

export function windowsPaths(config: AgentConfig) {
  return {
    systemRoot: config.systemRoot,
    helperScript: fileURLToPath(new URL('../../native-probes/windows/posture-probe.ps1', import.meta.url)),
  };
}

export async function collectFrom(
  host: Host,
  config: AgentConfig,
  options: {
    cache: boolean;
    windows?: WindowsPaths;
    /** Results to serve instead of running their probes (a capture's stored cache entries). */
    stored?: ReadonlyMap<string, CheckResult<unknown>>;
    /** Only these checks (a re-check of what an event may have changed); default all. */
    checks?: readonly CheckId[];
  },
): Promise<PostureReport> {
  const platform = osFamily(host.platform.os);
  const wrap =
    options.stored && options.stored.size > 0
      ? withStoredResults(options.stored)
      : options.cache && config.patchCacheTtlMs > 0
        ? withCache(host, { dir: config.cacheDir, ttlMs: config.patchCacheTtlMs })
        : undefined;
  const probes = probesFor(platform, { windows: options.windows ?? windowsPaths(config) });
  const only = options.checks;
  return collectPosture({
    host,
    platform,
    probes: only ? probes.filter((p) => only.includes(p.check)) : probes,
    ...(wrap ? { wrap } : {}),
  });
}
