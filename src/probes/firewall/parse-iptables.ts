/**
 * `iptables -S` / `ip6tables -S` (one table, filter by default), one rule per line, into the
 * ruleset model. iptables 1.8.9 on Debian 12 (legacy and nft backends print the same):
 *   -P INPUT DROP
 *   -N ufw-before-input
 *   -A INPUT -j ufw-before-input
 *   -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
 *   -A INPUT -m comment --comment "catch all" -j REJECT --reject-with icmp-port-unreachable
 * Used for iptables-legacy, whose rules nft cannot see, and for iptables-nft tables whose
 * matches `nft -j` prints without their options.
 */
import { UnexpectedOutputError } from '../types.js';
import { iptablesConditions } from './iptables-matches.js';
import type { Chain, Family, Rule, Table } from './ruleset.js';
import { xtTargetVerdict } from './xtables.js';

const BASE_CHAINS: Record<string, Chain['hook']> = { INPUT: 'input', PREROUTING: 'prerouting' };

export function parseIptablesSave(text: string, family: Family, name = 'iptables'): Table {
  const chains = new Map<string, Chain>();
  const chain = (n: string): Chain => {
    let c = chains.get(n);
    if (!c) {
      c = { name: n, rules: [] };
      const hook = BASE_CHAINS[n];
      if (hook) c.hook = hook;
      chains.set(n, c);
    }
    return c;
  };
  let policies = 0;
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const words = splitWords(l);
    if (words[0] === '-P' && words[1] && words[2]) {
      const c = chain(words[1]);
      if (c.hook) c.policy = words[2] === 'ACCEPT' ? 'accept' : 'drop';
      policies++;
    } else if (words[0] === '-N' && words[1]) {
      chain(words[1]);
    } else if (words[0] === '-A' && words[1]) {
      chain(words[1]).rules.push(toRule(words.slice(2)));
    } else {
      throw new UnexpectedOutputError(`iptables -S line not understood: ${l.slice(0, 120)}`);
    }
  }
  if (policies === 0) throw new UnexpectedOutputError('iptables -S printed no chain policy');
  return { name, families: [family], chains };
}

function toRule(words: string[]): Rule {
  const jump = words.findIndex((w) => w === '-j' || w === '-g');
  const matchWords = jump < 0 ? words : words.slice(0, jump);
  const conditions = iptablesConditions(matchWords);
  if (jump < 0) return { conditions, verdict: { kind: 'none' } };
  const target = words[jump + 1] ?? '';
  if (words[jump] === '-g') return { conditions, verdict: { kind: 'goto', target } };
  const builtin = xtTargetVerdict(target);
  if (builtin.kind !== 'unknown') return { conditions, verdict: builtin };
  // Not a built-in target: a user chain (an unknown extension target is caught by the evaluator,
  // which treats a jump to a chain it does not know as "may accept").
  return { conditions, verdict: { kind: 'jump', target } };
}

export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? '');
  return words;
}
