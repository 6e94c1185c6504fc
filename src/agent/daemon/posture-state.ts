/**
 * Pure steps of a re-check: fold re-probed checks into the report, say which verdicts changed,
 * and decide whether a new attestation is due (posture changed, or the current one nears expiry).
 */
import type { CheckOutput } from '../check.js';
import type { DaemonStatus } from '../../shared/local-api.js';
import type { CheckId, PostureReport } from '../../shared/posture.js';

type StatusPosture = NonNullable<DaemonStatus['posture']>;

/** The previous report with the re-probed checks replaced (and the fresh report's time and device). */
export function mergeReport(previous: PostureReport | undefined, fresh: PostureReport): PostureReport {
  if (!previous) return fresh;
  return { ...fresh, checks: { ...previous.checks, ...fresh.checks } };
}

export interface VerdictChange {
  check: CheckId;
  from: string | null;
  to: string;
}

/** Each check whose verdict or code differs from before (`from` null: not judged before). */
export function verdictChanges(previous: StatusPosture | null, next: StatusPosture): VerdictChange[] {
  const before = new Map((previous?.checks ?? []).map((c) => [c.check, `${c.verdict}:${c.code}`]));
  return next.checks
    .filter((c) => before.get(c.check) !== `${c.verdict}:${c.code}`)
    .map((c) => ({ check: c.check, from: before.get(c.check) ?? null, to: `${c.verdict}:${c.code}` }));
}

/** The status's posture from a judged report: each verdict with when its observation was made. */
export function statusPosture(output: CheckOutput): StatusPosture {
  const { report, evaluation } = output;
  return {
    overall: evaluation.overall,
    policyRevision: evaluation.policyRevision,
    evaluatedAt: evaluation.evaluatedAt,
    checks: evaluation.checks.map((c) => ({
      check: c.check,
      verdict: c.verdict,
      code: c.code,
      reason: c.reason,
      ...(c.remediation ? { remediation: c.remediation } : {}),
      observedAt: report.checks[c.check]?.observedAt ?? evaluation.evaluatedAt,
    })),
  };
}

/**
 * Whether to sign a new attestation: there is none, the posture or policy revision changed, or the
 * current one expires within `renewBeforeMs`.
 */
export function attestationDue(options: {
  current: { expiresAt: number } | undefined;
  changed: boolean;
  nowMs: number;
  renewBeforeMs: number;
}): boolean {
  if (!options.current || options.changed) return true;
  return options.current.expiresAt - options.nowMs <= options.renewBeforeMs;
}

/** Renew when a fifth of the lifetime is left, at least 30 s before the end. */
export function renewBeforeMs(lifetimeSeconds: number): number {
  return Math.max(30_000, Math.floor((lifetimeSeconds * 1000) / 5));
}

/** Whether any re-probed check's observation (status, observation, reason) differs from before. */
export function observationsChanged(
  previous: PostureReport | undefined,
  next: PostureReport,
  checks: readonly CheckId[],
): boolean {
  if (!previous) return true;
  const essence = (r: PostureReport, c: CheckId) => {
    const result = r.checks[c] as { status: string; observation?: unknown; reason?: string } | undefined;
    return JSON.stringify(result ? [result.status, result.observation ?? null, result.reason ?? null] : null);
  };
  return checks.some((c) => essence(previous, c) !== essence(next, c));
}
