/**
 * A posture report made small enough to travel in a header (≤ 8 KiB with signature and base64):
 * observations are kept whole except the patch list, which keeps only the counts and the oldest
 * pending security update (all the policy needs); evidence becomes short "how" strings.
 */
import type { AttestedPosture } from '../shared/claims.js';
import type {
  CheckResult,
  Evidence,
  PatchLevelObservation,
  PostureChecks,
  PostureReport,
} from '../shared/posture.js';

function how(e: Evidence): string {
  const text =
    e.kind === 'command'
      ? [e.command, ...e.args].join(' ')
      : e.kind === 'file'
        ? `file:${e.path}`
        : `inventory:${e.source}`;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function compactPatch(o: PatchLevelObservation): PatchLevelObservation {
  const security = o.updates.filter((u) => u.security || o.securityPending === null);
  // The earliest of its clocks: the policy judges an update by whichever is older.
  const age = (u: (typeof security)[number]) =>
    Math.min(
      Date.parse(u.releasedAt ?? '') || Number.POSITIVE_INFINITY,
      Date.parse(u.firstSeenAt ?? '') || Number.POSITIVE_INFINITY,
    );
  const oldest = security.reduce<(typeof security)[number] | undefined>(
    (a, u) => (a === undefined || age(u) < age(a) ? u : a),
    undefined,
  );
  return { ...o, updates: oldest ? [oldest] : [] };
}

export function compactPosture(report: PostureReport): AttestedPosture {
  const checks: PostureChecks = {};
  for (const [id, result] of Object.entries(report.checks) as [
    keyof PostureChecks,
    CheckResult<unknown> | undefined,
  ][]) {
    if (!result) continue;
    const evidence = result.evidence.map(how) as unknown as Evidence[];
    const compacted =
      result.status === 'observed' && id === 'patch_level'
        ? { ...result, evidence, observation: compactPatch(result.observation as PatchLevelObservation) }
        : { ...result, evidence };
    (checks as Record<string, unknown>)[id] = compacted;
  }
  return { platform: report.platform, collectedAt: report.collectedAt, checks };
}
