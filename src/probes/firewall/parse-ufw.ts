/**
 * `ufw status verbose` (needs root), ufw 0.36.2 on Debian 12:
 *   Status: active
 *   Logging: on (low)
 *   Default: deny (incoming), allow (outgoing), disabled (routed)
 *   New profiles: skip
 *
 *   To                         Action      From
 *   --                         ------      ----
 *   22/tcp                     ALLOW IN    Anywhere
 *   60000:61000/udp (v6)       ALLOW IN    Anywhere (v6)
 * or "Status: inactive". Columns are separated by two or more spaces (an app profile such as
 * "Apache Full" or the action "ALLOW IN" holds single ones). `firewall-cmd --state` prints "running" on stdout (exit 0) or, when the
 * daemon is stopped, "not running" on stderr (exit 252; firewalld 1.3 `src/firewall-cmd.in`):
 * the probe hands over both streams.
 */
import { UnexpectedOutputError } from '../types.js';

export interface UfwRule {
  /** "22/tcp", "53", "60000:61000/udp", "Anywhere", "22/tcp on eth0", "OpenSSH", "192.0.2.1 22/tcp". */
  to: string;
  action: 'allow' | 'deny' | 'reject' | 'limit';
  direction: 'in' | 'out' | 'fwd';
  /** "Anywhere" or a network. */
  from: string;
  v6: boolean;
}

export interface UfwStatus {
  active: boolean;
  /** The default for incoming traffic: "deny", "reject", "allow". */
  defaultIncoming?: string;
  rules?: UfwRule[];
}

export function parseUfwStatus(text: string): UfwStatus {
  const status = /^Status:\s*(active|inactive)\s*$/m.exec(text)?.[1];
  if (!status) throw new UnexpectedOutputError('ufw printed no "Status: active|inactive" line');
  const incoming = /^Default:\s*(\w+)\s*\(incoming\)/m.exec(text)?.[1];
  const result: UfwStatus = { active: status === 'active' };
  if (incoming !== undefined) result.defaultIncoming = incoming;
  const table = text.split('\n');
  const header = table.findIndex((l) => /^To\s{2,}Action\s{2,}From\s*$/.test(l));
  if (header >= 0)
    result.rules = table
      .slice(header + 2)
      .filter((l) => l.trim() !== '')
      .map(parseUfwRule);
  return result;
}

function parseUfwRule(line: string): UfwRule {
  const [to, action, from] = line.trim().split(/\s{2,}/);
  const m = /^(ALLOW|DENY|REJECT|LIMIT)(?: (IN|OUT|FWD))?$/.exec(action ?? '');
  if (!to || !m || !from)
    throw new UnexpectedOutputError(`ufw rule not understood: ${line.trim().slice(0, 120)}`);
  const v6 = / \(v6\)$/.test(to);
  return {
    to: to.replace(/ \(v6\)$/, ''),
    action: (m[1] ?? '').toLowerCase() as UfwRule['action'],
    direction: (m[2] ?? 'IN').toLowerCase() as UfwRule['direction'],
    from: from.replace(/\s+#.*$/, '').replace(/ \(v6\)$/, ''),
    v6,
  };
}

export function parseFirewalldState(text: string): boolean {
  const state = text.trim();
  if (state === 'running') return true;
  if (state === 'not running') return false;
  throw new UnexpectedOutputError(`firewall-cmd --state printed "${state.slice(0, 60)}"`);
}
