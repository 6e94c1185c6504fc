/**
 * `ufw status verbose` (needs root):
 *   Status: active
 *   Logging: on (low)
 *   Default: deny (incoming), allow (outgoing), disabled (routed)
 * or "Status: inactive". `firewall-cmd --state` prints "running" on stdout (exit 0) or, when the
 * daemon is stopped, "not running" on stderr (exit 252; firewalld 1.3 `src/firewall-cmd.in`):
 * the probe hands over both streams.
 */
import { UnexpectedOutputError } from '../types.js';

export interface UfwStatus {
  active: boolean;
  /** The default for incoming traffic: "deny", "reject", "allow". */
  defaultIncoming?: string;
}

export function parseUfwStatus(text: string): UfwStatus {
  const status = /^Status:\s*(active|inactive)\s*$/m.exec(text)?.[1];
  if (!status) throw new UnexpectedOutputError('ufw printed no "Status: active|inactive" line');
  const incoming = /^Default:\s*(\w+)\s*\(incoming\)/m.exec(text)?.[1];
  return incoming === undefined
    ? { active: status === 'active' }
    : { active: status === 'active', defaultIncoming: incoming };
}

export function parseFirewalldState(text: string): boolean {
  const state = text.trim();
  if (state === 'running') return true;
  if (state === 'not running') return false;
  throw new UnexpectedOutputError(`firewall-cmd --state printed "${state.slice(0, 60)}"`);
}
