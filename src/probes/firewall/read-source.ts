/**
 * One firewall source read on its own: the command runs, its output is parsed, and whatever goes
 * wrong (missing, no privilege, unexpected exit, a parser that refuses the text) becomes a state
 * with its reason, never an exception that would hide the other sources' answers.
 */
import type { FirewallComponent } from '../../shared/posture.js';
import type { CommandOutcome } from '../../host/host.js';
import type { ProbeContext } from '../types.js';
import { looksLikePermissionDenied, reasonFor } from '../types.js';

export type Read<T> =
  | { state: 'read'; value: T }
  | { state: 'absent' }
  | { state: 'unreadable'; reason: NonNullable<FirewallComponent['reason']>; detail: string };

export async function read<T>(
  ctx: ProbeContext,
  commands: string[],
  args: string[],
  parse: (o: Extract<CommandOutcome, { ok: true }>) => T,
  okExitCodes: number[] = [0],
): Promise<Read<T>> {
  const outcome = await ctx.runFirst(commands, args);
  const name = commands[0]?.split('/').pop() ?? '';
  if (!outcome.ok) {
    if (outcome.error === 'command_missing') return { state: 'absent' };
    return { state: 'unreadable', reason: reasonFor(outcome.error), detail: `${name}: ${outcome.detail}` };
  }
  if (!okExitCodes.includes(outcome.exitCode ?? -1)) {
    const message = `${outcome.stderr} ${outcome.stdout}`.trim();
    if (looksLikePermissionDenied(message)) {
      return {
        state: 'unreadable',
        reason: 'insufficient_privilege',
        detail: `${name} needs root or CAP_NET_ADMIN`,
      };
    }
    return {
      state: 'unreadable',
      reason: 'unexpected_output',
      detail: `${name} exited with ${outcome.exitCode}: ${message.slice(0, 160)}`,
    };
  }
  try {
    return { state: 'read', value: parse(outcome) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { state: 'unreadable', reason: 'unexpected_output', detail: `${name}: ${message.slice(0, 160)}` };
  }
}
