/**
 * `nft -j list ruleset` (libnftables JSON, json_schema_version 1):
 *   {"nftables": [{"metainfo": {...}}, {"table": {...}}, {"chain": {"family": "inet", "table": "filter",
 *    "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family",
 *    "table", "chain", "expr": [{"match": {...}}, {"counter": {...}}, {"drop": null}]}}]}
 * Sample: nftables 1.0.6 on Debian 12 (this machine).
 *
 * Does it filter unsolicited inbound traffic? Every base chain on the input hook sees each packet,
 * so a family is filtered when any of its input chains ends, for traffic no earlier rule accepted,
 * in drop or reject: the chain policy is drop, or an unconditional drop/reject rule (or a jump to a
 * chain that ends so) comes before any unconditional accept. A lone "ct state invalid drop" is
 * conditional and does not make a firewall. In a jumped-to chain, a conditional return before the
 * drop lets traffic escape it, so such a chain does not count as dropping.
 */
import { UnexpectedOutputError } from '../types.js';

export interface ChainVerdicts {
  ipv4: boolean;
  ipv6: boolean;
  /** Input-hook base chains seen, as "family table/chain: outcome". */
  inputChains: string[];
}

type Expr = Record<string, unknown>;
interface Chain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  type?: string;
  policy?: string;
  rules: Expr[][];
}

const NON_CONDITIONS = new Set(['counter', 'log', 'comment', 'limit-not-used']);
const VERDICTS = new Set(['accept', 'drop', 'reject', 'jump', 'goto', 'return', 'continue', 'queue']);

export function parseNftRuleset(text: string): ChainVerdicts {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UnexpectedOutputError('nft did not print JSON');
  }
  const items = (data as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) throw new UnexpectedOutputError('nft JSON has no "nftables" array');
  const chains = new Map<string, Chain>();
  const key = (family: string, table: string, name: string) => `${family}\u0000${table}\u0000${name}`;
  for (const item of items) {
    const chain = (item as { chain?: Record<string, unknown> })?.chain;
    if (chain) {
      const c: Chain = {
        family: String(chain.family),
        table: String(chain.table),
        name: String(chain.name),
        rules: [],
      };
      if (typeof chain.hook === 'string') c.hook = chain.hook;
      if (typeof chain.type === 'string') c.type = chain.type;
      if (typeof chain.policy === 'string') c.policy = chain.policy;
      chains.set(key(c.family, c.table, c.name), c);
    }
  }
  for (const item of items) {
    const rule = (item as { rule?: Record<string, unknown> })?.rule;
    if (!rule) continue;
    const chain = chains.get(key(String(rule.family), String(rule.table), String(rule.chain)));
    if (!chain) throw new UnexpectedOutputError(`nft rule refers to an unknown chain ${String(rule.chain)}`);
    chain.rules.push(Array.isArray(rule.expr) ? (rule.expr as Expr[]) : []);
  }
  const outcome = (chain: Chain, depth: number): 'drop' | 'accept' | 'fallthrough' => {
    if (depth > 16) return 'fallthrough';
    for (const expr of chain.rules) {
      const conditional = expr.some((e) =>
        Object.keys(e).some((k) => !VERDICTS.has(k) && !NON_CONDITIONS.has(k)),
      );
      const verdict = expr.map((e) => Object.keys(e).find((k) => VERDICTS.has(k))).find(Boolean);
      // Some traffic may leave this chain early; a drop further down no longer holds for all of it.
      if (conditional && verdict === 'return' && depth > 0) return 'fallthrough';
      if (conditional) continue;
      if (verdict === 'drop' || verdict === 'reject') return 'drop';
      if (verdict === 'accept') return 'accept';
      if (verdict === 'return') return 'fallthrough';
      if (verdict === 'jump' || verdict === 'goto') {
        const target = (expr.find((e) => verdict in e)?.[verdict] as { target?: string } | undefined)?.target;
        const next = target === undefined ? undefined : chains.get(key(chain.family, chain.table, target));
        const result = next ? outcome(next, depth + 1) : 'fallthrough';
        if (result !== 'fallthrough') return result;
        if (verdict === 'goto') return 'fallthrough';
      }
    }
    return 'fallthrough';
  };
  const result: ChainVerdicts = { ipv4: false, ipv6: false, inputChains: [] };
  for (const chain of chains.values()) {
    if (chain.hook !== 'input' || (chain.type !== undefined && chain.type !== 'filter')) continue;
    if (!['ip', 'ip6', 'inet'].includes(chain.family)) continue;
    const end = outcome(chain, 0);
    const drops = end === 'drop' || (end === 'fallthrough' && chain.policy === 'drop');
    result.inputChains.push(
      `${chain.family} ${chain.table}/${chain.name}: ${drops ? 'drops unsolicited traffic' : 'accepts unsolicited traffic'}`,
    );
    if (!drops) continue;
    if (chain.family !== 'ip6') result.ipv4 = true;
    if (chain.family !== 'ip') result.ipv6 = true;
  }
  return result;
}
