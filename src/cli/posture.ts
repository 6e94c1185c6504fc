/**
 * What `posture check` and `posture capture` do, as functions the tests call with injected hosts.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import type { AgentConfig } from '../agent/config.js';
import type { AgentState } from '../agent/agent-state.js';
import { applyAgentState, readAgentState, storedResults } from '../agent/agent-state.js';
import { annotateFirstSeen, firstSeenFile } from '../agent/first-seen.js';
import type { Evaluation } from '../shared/evaluate.js';
import { evaluatePosture } from '../shared/evaluate.js';
import { PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import { DEFAULT_POLICY, parsePolicy } from '../shared/policy.js';
import type { PostureReport } from '../shared/posture.js';
import type { Capture } from '../probes/capture.js';
import { createRecordingHost, createReplayHost, parseCapture } from '../probes/capture.js';
import type { Host } from '../probes/host.js';
import type { WindowsPaths } from '../probes/windows/helper.js';
import { windowsPathsFromCommands } from '../probes/windows/helper.js';
import { AGENT } from '../probes/run.js';
import { osFamily } from '../probes/registry.js';
import { collectFrom } from '../agent/collect.js';

/**
 * Process exit codes. `refused` and `unreachable` are for MDM scripts around `posture enroll`: the
 * first needs a new token from IT (trying again will not help), the second is worth a retry.
 */
export const EXIT = {
  pass: 0,
  fail: 1,
  unknown: 2,
  usage: 3,
  error: 4,
  key: 5,
  refused: 6,
  unreachable: 7,
} as const;

/** The exit code for a PostureError that is not about the device key. */
export function exitCodeForError(code: string): number {
  if (code === 'ERR_ENROLLMENT_REFUSED') return EXIT.refused;
  if (code === 'ERR_SERVER_UNREACHABLE') return EXIT.unreachable;
  return EXIT.usage;
}

export interface CheckOutput {
  schema: 'posture-check/v1';
  report: PostureReport;
  evaluation: Evaluation;
}

export async function loadPolicyFile(path: string | undefined): Promise<Policy> {
  if (!path) return DEFAULT_POLICY;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PostureError(
      'ERR_POLICY_UNREADABLE',
      `cannot read policy file ${path} (${(error as NodeJS.ErrnoException).code ?? error}). Check the path.`,
    );
  }
  return parsePolicy(text, path);
}

export async function runCheck(options: {
  host: Host;
  config: AgentConfig;
  policy: Policy;
  cache: boolean;
  /** Remember when pending updates were first seen (live checks only). */
  trackFirstSeen?: boolean;
  /** A replay: the agent state its capture stored, used instead of this machine's (never written). */
  agentState?: AgentState;
  windows?: WindowsPaths;
}): Promise<CheckOutput> {
  const collected = await collectFrom(options.host, options.config, {
    cache: options.cache,
    ...(options.windows ? { windows: options.windows } : {}),
    ...(options.agentState ? { stored: storedResults(options.agentState) } : {}),
  });
  const report = options.agentState
    ? applyAgentState(collected, options.agentState, options.host.now())
    : options.trackFirstSeen
      ? await annotateFirstSeen(collected, firstSeenFile(options.config.cacheDir), options.host.now())
      : collected;
  return {
    schema: 'posture-check/v1',
    report,
    evaluation: evaluatePosture(report.checks, options.policy, report.platform, options.host.now()),
  };
}

export async function runReplay(path: string, config: AgentConfig, policy: Policy): Promise<CheckOutput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PostureError(
      'ERR_CAPTURE_UNREADABLE',
      `cannot read capture ${path} (${(error as NodeJS.ErrnoException).code ?? error}).`,
    );
  }
  return replayCapture(parseCapture(text, path), path, config, policy);
}

/** Evaluates a capture as if on the captured machine: its platform, its clock, its helper paths. */
export async function replayCapture(
  capture: Capture,
  source: string,
  config: AgentConfig,
  policy: Policy,
): Promise<CheckOutput> {
  const windows = windowsPathsFromCommands(capture.commands);
  const output = await runCheck({
    host: createReplayHost(capture),
    config,
    policy,
    cache: false,
    ...(windows ? { windows } : {}),
    ...(capture.agentState ? { agentState: capture.agentState } : {}),
  });
  output.report.replayedFrom = source;
  return output;
}

export async function runCapture(
  host: Host,
  config: AgentConfig,
  note?: string,
): Promise<{ capture: Capture; report: PostureReport }> {
  const recorder = createRecordingHost(host);
  // The agent state a live check would use now, read before the probes run (nothing is written):
  // the replay applies it to the fresh outputs recorded below, as the live check would.
  const agentState = await readAgentState(config, osFamily(host.platform.os), recorder.now());
  const fresh = await collectFrom(recorder, config, { cache: false });
  // What the replay will report: a stored cache entry stands where the live check would serve it.
  const checks = { ...fresh.checks } as Record<string, unknown>;
  for (const [check, result] of storedResults(agentState)) checks[check] = result;
  const report = applyAgentState(
    { ...fresh, checks: checks as PostureReport['checks'] },
    agentState,
    recorder.now(),
  );
  return { capture: { ...recorder.toCapture(AGENT, note), agentState }, report };
}

/** Writes a file atomically so an interrupted write never leaves half a capture. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

export function exitCodeFor(evaluation: Evaluation): number {
  return evaluation.overall === 'pass' ? EXIT.pass : evaluation.overall === 'fail' ? EXIT.fail : EXIT.unknown;
}
