/**
 * One source of a probe that could not be read (a second command, a date, a flag) degrades only
 * what that source decides; the reason is kept in the observation instead of failing the probe.
 */
import type { SourceProblem } from '../shared/posture.js';
import type { CommandOutcome } from '../host/host.js';
import { reasonFor, UnexpectedOutputError } from './types.js';

export type { SourceProblem };

/** Runs a parser; on UnexpectedOutputError notes the problem and returns undefined. Other errors propagate. */
export function readOrNote<T>(problems: SourceProblem[], source: string, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UnexpectedOutputError)) throw error;
    problems.push({ source, reason: 'unexpected_output', detail: error.message.slice(0, 200) });
    return undefined;
  }
}

/** The problem of a command that failed to run or exited with an error. */
export function problemFrom(source: string, outcome: CommandOutcome): SourceProblem {
  if (!outcome.ok) return { source, reason: reasonFor(outcome.error), detail: outcome.detail.slice(0, 200) };
  return {
    source,
    reason: 'unexpected_output',
    detail: `exited with ${outcome.exitCode}: ${outcome.stderr.trim().slice(0, 160)}`,
  };
}
