/**
 * What `posture check` and `posture capture` do, as functions the tests call with injected hosts.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentConfig, ConfigInputs } from '../agent/config.js';
import { flagsOverriddenByManaged, loadConfig } from '../agent/config.js';
import type { AgentState } from '../agent/agent-state.js';
import { applyAgentState, readAgentState, storedResults } from '../agent/agent-state.js';
import { writeFileAtomic } from '../agent/write-atomic.js';
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
import { EXIT } from './exit-codes.js';

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

/**
 * Writes an output file the user named (a capture) atomically, so an interrupted write never leaves
 * half a capture; a folder that is missing or not writable is ERR_OUTPUT_UNWRITABLE naming the path.
 */
export async function writeOutputFile(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint =
      code === 'ENOENT'
        ? `the folder ${dirname(path)} does not exist; create it or choose another path`
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `${dirname(path)} is not writable by this user`
          : code === 'EISDIR'
            ? `${path} is a folder; name a file`
            : 'choose another path';
    throw new PostureError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path} (${code}): ${hint}.`);
  }
}

/**
 * The configuration of `posture check` with its --policy flag. The flag is a setting like any other,
 * so a managed policy wins over it (IT set it; an employee cannot loosen it); `notices` says so.
 */
export function checkConfig(
  flags: { policy?: string },
  inputs: Omit<ConfigInputs, 'flags'> = {},
): { config: AgentConfig; notices: string[] } {
  const settings = flags.policy ? { policyFile: flags.policy } : {};
  const config = loadConfig({ ...inputs, flags: settings });
  const notices = flagsOverriddenByManaged(settings, config).map((setting) =>
    setting === 'policyFile'
      ? `--policy ${flags.policy} is not used: the managed settings (${config.sources.managedFile}) set the policy ${config.policyFile}, and managed settings win.`
      : `${setting} is set by the managed settings (${config.sources.managedFile}), which win.`,
  );
  return { config, notices };
}

export function exitCodeFor(evaluation: Evaluation): number {
  return evaluation.overall === 'pass' ? EXIT.pass : evaluation.overall === 'fail' ? EXIT.fail : EXIT.unknown;
}
