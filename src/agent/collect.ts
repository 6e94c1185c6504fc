/** Collects this device's posture (or a replayed capture's) with the probes for its platform. */
import { fileURLToPath } from 'node:url';
import type { PostureReport } from '../shared/posture.js';
import { withCache } from '../probes/cache.js';
import type { Host } from '../probes/host.js';
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
  options: { cache: boolean; windows?: WindowsPaths },
): Promise<PostureReport> {
  const platform = osFamily(host.platform.os);
  return collectPosture({
    host,
    platform,
    probes: probesFor(platform, { windows: options.windows ?? windowsPaths(config) }),
    ...(options.cache && config.patchCacheTtlMs > 0
      ? { wrap: withCache(host, { dir: config.cacheDir, ttlMs: config.patchCacheTtlMs }) }
      : {}),
  });
}
