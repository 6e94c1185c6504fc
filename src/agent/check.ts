/**
 * Checking a device: collect its posture (live, with the first-seen record kept in the state
 * folder; or replayed from a capture with the agent state the capture stored), judge it against a
 * policy, and record a capture. The agent core (agent.ts) is the one caller; tests call these too.
 */
import { readFile } from 'node:fs/promises';
import type { Evaluation } from '../shared/evaluate.js';
import { evaluatePosture } from '../shared/evaluate.js';
import { PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import type { CheckId, PostureReport } from '../shared/posture.js';
import { AGENT } from '../host/agent-info.js';
import type { Host } from '../host/host.js';
import type { Capture } from '../probes/capture.js';
import { createRecordingHost, createReplayHost, parseCapture } from '../probes/capture.js';
import type { WindowsPaths } from '../probes/windows/helper.js';
import { windowsPathsFromCommands } from '../probes/windows/helper.js';
import { osFamily } from '../probes/registry.js';
import type { AgentState } from './agent-state.js';
import { applyAgentState, readAgentState, storedResults } from './agent-state.js';
import { collectFrom } from './collect.js';
import type { AgentConfig } from './config.js';
import { annotateFirstSeen, firstSeenFiles } from './first-seen.js';

export interface CheckOutput {
  schema: 'posture-check/v1';
  report: PostureReport;
  evaluation: Evaluation;
}

/**
 * This device's posture as the live agent reports it: the probes (all, or only `checks`), then
 * each pending update marked with when it was first seen (the record kept in the state folder).
 */
export async function collectLive(
  host: Host,
  config: AgentConfig,
  options: { cache: boolean; checks?: readonly CheckId[] },
): Promise<PostureReport> {
  const collected = await collectFrom(host, config, {
    cache: options.cache,
    ...(options.checks ? { checks: options.checks } : {}),
  });
  return annotateFirstSeen(collected, firstSeenFiles(config), host.now());
}

export function judge(report: PostureReport, policy: Policy, now: Date): CheckOutput {
  return {
    schema: 'posture-check/v1',
    report,
    evaluation: evaluatePosture(report.checks, policy, report.platform, now),
  };
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
  const report =
    options.trackFirstSeen && !options.agentState
      ? await collectLive(options.host, options.config, { cache: options.cache })
      : await collectFrom(options.host, options.config, {
          cache: options.cache,
          ...(options.windows ? { windows: options.windows } : {}),
          ...(options.agentState ? { stored: storedResults(options.agentState) } : {}),
        }).then((collected) =>
          options.agentState ? applyAgentState(collected, options.agentState, options.host.now()) : collected,
        );
  return judge(report, options.policy, options.host.now());
}

export async function readCaptureFile(path: string): Promise<Capture> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PostureError(
      'ERR_CAPTURE_UNREADABLE',
      `cannot read capture ${path} (${(error as NodeJS.ErrnoException).code ?? error}).`,
    );
  }
  return parseCapture(text, path);
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
