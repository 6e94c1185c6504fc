/**
 * `nft -j list ruleset` (libnftables JSON, json_schema_version 1) into the ruleset model.
 *   {"nftables": [{"metainfo": {...}}, {"table": {...}}, {"set": {"family": "inet", "table": "t",
 *    "name": "s", "type": "inet_service", "elem": [22, 80]}}, {"chain": {"family": "inet", "table":
 *    "filter", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 *   {"rule": {"family", "table", "chain", "expr": [{"match": {"op": "==", "left": {"payload":
 *    {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {...}}, {"accept": null}]}}]}
 * Sample: nftables 1.0.6 on Debian 12 (this machine); 0.9.3 on RHEL 8 and 1.0.2 on Ubuntu 22.04
 * print the same shapes (fixtures).
 *
 * Rules written by iptables-nft (the `iptables` of Debian 11+, Ubuntu 22.04+, RHEL 8+) show the
 * matches nft cannot express as `{"xt": {"type": "match", "name": "recent"}}` with no options, and
 * targets as `{"xt": {"type": "target", "name": "REJECT"}}`. A target's name is enough (REJECT,
 * DROP, LOG…); a match's is not, so a table holding one is reported in `opaqueTables` and the probe
 * reads that table again through `iptables-nft -S`, which prints the options. nft 1.0.2 (Ubuntu
 * 22.04) prints each xt expression as `{"xt": null}`, match or target alike: the same applies.
 */
import { UnexpectedOutputError } from '../types.js';
import { conditionsFromNft, verdictFromNft, vmapEntries } from './nft-expressions.js';
import type { Chain, Condition, Family, Rule, Table } from './ruleset.js';

export interface NftRuleset {
  tables: Table[];
  /** Tables (family ip/ip6) whose rules hold iptables-nft matches nft -j does not describe. */
  opaqueTables: { family: 'ip' | 'ip6'; table: string }[];
}

type Json = Record<string, unknown>;

const FAMILIES: Record<string, Family[]> = { ip: ['ipv4'], ip6: ['ipv6'], inet: ['ipv4', 'ipv6'] };

export function parseNftRuleset(text: string): NftRuleset {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UnexpectedOutputError('nft did not print JSON');
  }
  const items = (data as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new UnexpectedOutputError('nft JSON has no "nftables" array');
  const tables = new Map<string, Table & { opaque: boolean; family: string; table: string }>();
  const sets = new Map<string, unknown[]>();
  const key = (family: unknown, table: unknown) => `${String(family)} ${String(table)}`;
  for (const item of items as Json[]) {
    const set = (item?.set ?? item?.map) as Json | undefined;
    if (set && Array.isArray(set.elem)) {
      sets.set(`${key(set.family, set.table)} @${String(set.name)}`, set.elem as unknown[]);
    }
    const chain = item?.chain as Json | undefined;
    if (!chain) continue;
    const families = FAMILIES[String(chain.family)];
    if (!families) continue;
    const k = key(chain.family, chain.table);
    let table = tables.get(k);
    if (!table) {
      table = {
        name: k,
        families,
        chains: new Map(),
        opaque: false,
        family: String(chain.family),
        table: String(chain.table),
      };
      tables.set(k, table);
    }
    const c: Chain = { name: String(chain.name), rules: [] };
    const hook = chain.hook;
    if (chain.type === 'filter' && (hook === 'input' || hook === 'prerouting')) {
      c.hook = hook;
      c.policy = chain.policy === 'drop' ? 'drop' : 'accept';
    }
    table.chains.set(c.name, c);
  }
  for (const item of items as Json[]) {
    const rule = item?.rule as Json | undefined;
    if (!rule || !FAMILIES[String(rule.family)]) continue;
    const k = key(rule.family, rule.table);
    const table = tables.get(k);
    const chain = table?.chains.get(String(rule.chain));
    if (!table || !chain) {
      throw new UnexpectedOutputError(`nft rule refers to an unknown chain ${String(rule.chain)}`);
    }
    const expr = Array.isArray(rule.expr) ? (rule.expr as Json[]) : [];
    const lookup = (name: string) => sets.get(`${k} ${name}`);
    if (expr.some(isOpaqueXt)) table.opaque = true;
    chain.rules.push(...rulesFrom(expr, lookup));
  }
  const list = [...tables.values()];
  return {
    tables: list.map(({ name, families, chains }) => ({ name, families, chains })),
    opaqueTables: list
      .filter((t) => t.opaque && (t.family === 'ip' || t.family === 'ip6'))
      .map((t) => ({ family: t.family as 'ip' | 'ip6', table: t.table })),
  };
}

/**
 * One nft rule: its matches and statements in order, up to the first verdict. A verdict map
 * (`ct state vmap { established : accept, invalid : drop }`) becomes one rule per entry; the
 * entries exclude each other, so their order does not matter.
 */
function rulesFrom(expr: Json[], lookup: (set: string) => unknown[] | undefined): Rule[] {
  const conditions: Condition[] = [];
  for (const e of expr) {
    const verdict = verdictFromNft(e);
    if (verdict) return [{ conditions, verdict }];
    if (e && typeof e === 'object' && 'vmap' in e) {
      return vmapEntries(e.vmap as Json, lookup).map(({ conditions: extra, verdict: v }) => ({
        conditions: [...conditions, ...extra],
        verdict: v,
      }));
    }
    conditions.push(...conditionsFromNft(e, lookup));
  }
  // An xt expression nft printed as null may have been the rule's target.
  if (expr.some((e) => e && typeof e === 'object' && 'xt' in e && !e.xt)) {
    return [
      { conditions, verdict: { kind: 'unknown', what: 'an iptables-nft target nft does not describe' } },
    ];
  }
  return [{ conditions, verdict: { kind: 'none' } }];
}

/** An iptables-nft match nft shows without its options, or an xt expression it shows as null. */
function isOpaqueXt(e: Json): boolean {
  if (!e || typeof e !== 'object' || !('xt' in e)) return false;
  const xt = e.xt as Json | null;
  return !xt || xt.type === 'match';
}
