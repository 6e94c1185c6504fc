/**
 * `iptables -S` / `ip6tables -S` (filter table), one rule per line:
 *   -P INPUT DROP
 *   -N ufw-before-input
 *   -A INPUT -j ufw-before-input
 *   -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
 * Same question as for nftables: does INPUT end, for unsolicited traffic, in DROP or REJECT?
 * Used for iptables-legacy, whose rules nft cannot see.
 */
import { UnexpectedOutputError } from '../types.js';

interface Rule {
  target: string | undefined;
  goto: boolean;
  conditional: boolean;
}

export interface IptablesInput {
  /** INPUT drops unsolicited traffic. */
  filters: boolean;
  policy: string;
  rules: number;
}

export function parseIptablesSave(text: string): IptablesInput {
  const policies = new Map<string, string>();
  const chains = new Map<string, Rule[]>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const words = splitWords(l);
    if (words[0] === '-P' && words[1] && words[2]) {
      policies.set(words[1], words[2]);
      chains.set(words[1], chains.get(words[1]) ?? []);
    } else if (words[0] === '-N' && words[1]) {
      chains.set(words[1], chains.get(words[1]) ?? []);
    } else if (words[0] === '-A' && words[1]) {
      chains.set(words[1], [...(chains.get(words[1]) ?? []), toRule(words.slice(2))]);
    } else {
      throw new UnexpectedOutputError(`iptables -S line not understood: ${l.slice(0, 120)}`);
    }
  }
  const policy = policies.get('INPUT');
  if (!policy) throw new UnexpectedOutputError('iptables -S printed no INPUT policy');
  const outcome = (name: string, depth: number): 'drop' | 'accept' | 'fallthrough' => {
    if (depth > 16) return 'fallthrough';
    for (const rule of chains.get(name) ?? []) {
      if (rule.conditional && rule.target === 'RETURN' && depth > 0) return 'fallthrough';
      if (rule.conditional || !rule.target) continue;
      if (rule.target === 'DROP' || rule.target === 'REJECT') return 'drop';
      if (rule.target === 'ACCEPT') return 'accept';
      if (rule.target === 'RETURN') return 'fallthrough';
      if (chains.has(rule.target)) {
        const result = outcome(rule.target, depth + 1);
        if (result !== 'fallthrough') return result;
        if (rule.goto) return 'fallthrough';
      }
    }
    return 'fallthrough';
  };
  const end = outcome('INPUT', 0);
  return {
    filters: end === 'drop' || (end === 'fallthrough' && policy === 'DROP'),
    policy,
    rules: chains.get('INPUT')?.length ?? 0,
  };
}

function toRule(words: string[]): Rule {
  let target: string | undefined;
  let goto = false;
  let conditional = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '-j' || w === '-g') {
      target = words[++i];
      goto = w === '-g';
      i = skipTargetOptions(words, i);
    } else if (w === '-m' && words[i + 1] === 'comment') {
      i += 3; // -m comment --comment "text"
    } else {
      conditional = true;
    }
  }
  return { target, goto, conditional };
}

/** Target options such as `--reject-with icmp-port-unreachable` do not make a rule conditional. */
function skipTargetOptions(words: string[], i: number): number {
  while (words[i + 1]?.startsWith('--') && words[i + 1] !== undefined) i += 2;
  return i;
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? '');
  return words;
}
