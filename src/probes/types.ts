/**
 * A probe is a pair: `collect` asks the host (commands, files) and hands the text to pure
 * `parse-*` functions. It reports what it observed, or unknown with a reason. It never decides.
 */
import type {
  CheckId,
  CheckResult,
  Evidence,
  ObservationByCheck,
  OsFamily,
  Unknown,
  UnknownReason,
} from '../shared/posture.js';
import type { CommandOutcome, CommandRequest, FileOutcome, Host, StatOutcome } from '../host/host.js';

export interface Probe<K extends CheckId = CheckId> {
  check: K;
  platform: OsFamily;
  /** How long the whole probe may take before it is reported unknown/timeout. */
  deadlineMs?: number;
  collect(ctx: ProbeContext<K>): Promise<CheckResult<ObservationByCheck[K]>>;
}

export { UnexpectedOutputError } from '../host/unexpected-output.js';

/** The probe's view of the host: every command and file it touches is written down as evidence. */
export class ProbeContext<K extends CheckId = CheckId> {
  readonly evidence: Evidence[] = [];
  readonly startedAt: Date;

  constructor(
    readonly host: Host,
    readonly check: K,
  ) {
    this.startedAt = host.now();
  }

  async run(request: CommandRequest): Promise<CommandOutcome> {
    const slot = this.reserve();
    const outcome = await this.host.run(request);
    this.evidence[slot] = commandEvidence(request.command, request.args, outcome);
    return outcome;
  }

  /** Evidence keeps the order in which things were asked, not the order they finished in. */
  private reserve(): number {
    this.evidence.push(PENDING);
    return this.evidence.length - 1;
  }

  /** Runs the first of several candidate paths that exists (e.g. /usr/sbin/nft, /sbin/nft). */
  async runFirst(
    commands: readonly string[],
    args: readonly string[],
    options: Omit<CommandRequest, 'command' | 'args'> = {},
  ): Promise<CommandOutcome> {
    const slot = this.reserve();
    for (const command of commands) {
      const outcome = await this.host.run({ command, args, ...options });
      if (!outcome.ok && outcome.error === 'command_missing') continue;
      this.evidence[slot] = commandEvidence(command, args, outcome);
      return outcome;
    }
    const missing: CommandOutcome = {
      ok: false,
      error: 'command_missing',
      detail: `none of ${commands.join(', ')} is installed`,
    };
    this.evidence[slot] = commandEvidence(commands[0] ?? '', args, missing);
    return missing;
  }

  async readFile(path: string): Promise<FileOutcome> {
    const slot = this.reserve();
    const outcome = await this.host.readFile(path);
    this.evidence[slot] = outcome.ok ? { kind: 'file', path } : { kind: 'file', path, error: outcome.error };
    return outcome;
  }

  async stat(path: string): Promise<StatOutcome> {
    return this.host.stat(path);
  }

  observed(observation: ObservationByCheck[K]): CheckResult<ObservationByCheck[K]> {
    return {
      check: this.check,
      status: 'observed',
      observedAt: this.startedAt.toISOString(),
      evidence: this.evidence.filter((e) => e !== PENDING),
      observation,
    };
  }

  unknown(reason: UnknownReason, detail: string): Unknown {
    return {
      check: this.check,
      status: 'unknown',
      reason,
      detail,
      observedAt: this.startedAt.toISOString(),
      evidence: this.evidence.filter((e) => e !== PENDING),
    };
  }

  /** The unknown answer for a failed command or file read. */
  unknownFrom(outcome: { ok: false; error: string; detail: string }): Unknown {
    return this.unknown(reasonFor(outcome.error), outcome.detail);
  }
}

/** Stands in for evidence of a call still running; left out of results (a probe that timed out). */
const PENDING: Evidence = Object.freeze({ kind: 'file', path: '(still running)' }) as Evidence;

function commandEvidence(command: string, args: readonly string[], outcome: CommandOutcome): Evidence {
  return outcome.ok
    ? { kind: 'command', command, args: [...args], exitCode: outcome.exitCode }
    : { kind: 'command', command, args: [...args], exitCode: null, error: outcome.error };
}

/** Maps a host error to the unknown reason reported to the user. */
export function reasonFor(error: string): UnknownReason {
  switch (error) {
    case 'command_missing':
      return 'command_missing';
    case 'timeout':
      return 'timeout';
    case 'insufficient_privilege':
      return 'insufficient_privilege';
    case 'not_in_capture':
      return 'not_in_capture';
    case 'output_too_large':
    case 'too_large':
      return 'unexpected_output';
    default:
      return 'probe_error';
  }
}

/** Text that says the caller lacks privilege, in the words common tools use (C locale). */
export function looksLikePermissionDenied(text: string): boolean {
  return /permission denied|operation not permitted|you need to be root|must be run as root|requires root|not authorized|access is denied/i.test(
    text,
  );
}
