/**
 * ufw's own account of its rules (`ufw status verbose`, see parse-ufw.ts) as the ruleset model, for
 * when the kernel's rulesets cannot be read: the default incoming policy, then each rule in order,
 * first match wins, as ufw's user chains do. A rule on a named network is not open to the world; a
 * rule ufw names by app profile ("OpenSSH") or destination address cannot be decided here.
 */
import type { UfwStatus } from './parse-ufw.js';
import type { PortRange } from './port-set.js';
import { portSet } from './port-set.js';
import type { Chain, Condition, Family, Rule, Table } from './ruleset.js';

export function ufwTables(status: UfwStatus): Table[] {
  if (!status.active) return [];
  return (['ipv4', 'ipv6'] as const).map((family) => ({
    name: `ufw status (${family})`,
    families: [family],
    chains: new Map<string, Chain>([['INPUT', inputChain(status, family)]]),
  }));
}

function inputChain(status: UfwStatus, family: Family): Chain {
  const rules: Rule[] = (status.rules ?? [])
    .filter((r) => r.direction === 'in' && r.v6 === (family === 'ipv6'))
    .map((r) => ({
      conditions: [...destination(r.to), source(r.from)],
      verdict: { kind: r.action === 'allow' || r.action === 'limit' ? 'accept' : 'drop' },
    }));
  return {
    name: 'INPUT',
    hook: 'input',
    policy: status.defaultIncoming === 'allow' ? 'accept' : 'drop',
    rules,
  };
}

/** "22/tcp", "53", "60000:61000/udp", "80,443/tcp", "Anywhere", each optionally "… on eth0". */
function destination(to: string): Condition[] {
  const [target = '', iface] = to.split(' on ');
  const out: Condition[] = iface ? [{ kind: 'iface', names: [iface], negate: false }] : [];
  if (target === 'Anywhere') return out;
  const m = /^([\d,:]+)(?:\/(tcp|udp))?$/.exec(target);
  if (!m) return [...out, { kind: 'maybe', what: `ufw rule to "${to}"` }];
  const ranges = (m[1] ?? '').split(',').map((p): PortRange => {
    const [lo, hi] = p.split(':').map(Number);
    return [lo ?? 0, hi ?? lo ?? 0];
  });
  const proto = m[2] as 'tcp' | 'udp' | undefined;
  const dport: Condition = { kind: 'dport', ports: portSet(ranges), negate: false };
  if (proto) dport.proto = proto;
  return [...out, ...(proto ? [{ kind: 'proto', protos: [proto], negate: false } as Condition] : []), dport];
}

function source(from: string): Condition {
  return { kind: from === 'Anywhere' ? 'always' : 'never' };
}
