/**
 * Runs probes concurrently, each under its own deadline. A probe that throws, hangs or rejects
 * becomes unknown with a reason; nothing a probe does can crash or stall the report.
 */
import type {
  CheckResult,
  DeviceInventory,
  OsFamily,
  PostureChecks,
  PostureReport,
} from '../shared/posture.js';
import { AGENT } from '../host/agent-info.js';
import type { Host } from '../host/host.js';
import type { Probe } from './types.js';
import { ProbeContext } from './types.js';

export const DEFAULT_PROBE_DEADLINE_MS = 20_000;

export interface CollectOptions {
  host: Host;
  probes: Probe[];
  platform: OsFamily | 'unsupported';
  /** Wraps each probe, e.g. with the patch-level cache. */
  wrap?: (probe: Probe) => Probe;
}

export async function collectPosture(options: CollectOptions): Promise<PostureReport> {
  const { host } = options;
  const collectedAt = host.now().toISOString();
  const probes = options.wrap ? options.probes.map(options.wrap) : options.probes;
  const [device, ...results] = await Promise.all([
    host.inventory().catch((): DeviceInventory => ({})),
    ...probes.map((probe) => runProbe(host, probe)),
  ]);
  const checks: PostureChecks = {};
  for (const result of results) (checks as Record<string, CheckResult<unknown>>)[result.check] = result;
  return {
    schema: 'posture-report/v1',
    collectedAt,
    platform: options.platform,
    agent: AGENT,
    device,
    checks,
  };
}

export async function runProbe(host: Host, probe: Probe): Promise<CheckResult<unknown>> {
  const ctx = new ProbeContext(host, probe.check);
  const deadline = probe.deadlineMs ?? DEFAULT_PROBE_DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult<unknown>>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          ctx.unknown('timeout', `the ${probe.check} check did not finish within ${deadline / 1000} s`),
        ),
      deadline,
    );
  });
  try {
    return await Promise.race([
      probe
        .collect(ctx)
        .catch((error: unknown) =>
          ctx.unknown(
            'probe_error',
            `the ${probe.check} probe failed: ${error instanceof Error ? error.message : String(error)}`,
          ),
        ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
