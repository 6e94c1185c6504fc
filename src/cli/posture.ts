/**
 * The CLI's own parts of `posture check` and `posture capture`: the --policy flag against managed
 * settings, writing the capture file, the exit code of a verdict. The work is the agent core's.
 */
import { dirname } from 'node:path';
import type { AgentConfig, ConfigInputs } from '../agent/config.js';
import { flagsOverriddenByManaged, loadConfig } from '../agent/config.js';
import { writeFileAtomic } from '../host/write-atomic.js';
import type { Evaluation } from '../shared/evaluate.js';
import { PostureError } from '../shared/errors.js';
import { EXIT } from './exit-codes.js';

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
