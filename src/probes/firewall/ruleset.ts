/**
 * One model of a Linux packet filter for both readings (nft JSON and iptables -S), and the one
 * question asked of it: which destination ports does an unsolicited new TCP or UDP connection from
 * the world reach? "The world" is a peer on a non-loopback network: it arrives on a non-loopback
 * interface (the one carrying the default route, when known), from an address and an ephemeral
 * source port that no rule names, unmarked, as the first packet of a new connection, unicast to
 * one of the host's addresses. docs/checks.md ("Firewall") states the same in prose.
 *
 * Parsers turn each rule's matches into conditions that are already decided for such a packet
 * (`ct state established` can never match it, `iifname "lo"` neither, `ip saddr 10.0.0.0/8` neither
 * since the world is not in a named network) or that depend on the packet class (family,
 * protocol, destination port, input interface). What cannot be decided is `maybe`, and the
 * evaluation is then done twice: once assuming the worst (it may accept, it never drops) and once
 * the best, so the probe can say unknown instead of guessing.
 */
import type { PortSet } from './port-set.js';
import { ALL_PORTS, complement, intersect, isEmpty, NO_PORTS, subtract, union } from './port-set.js';

export type Family = 'ipv4' | 'ipv6';
export type Proto = 'tcp' | 'udp';

export type Condition =
  | { kind: 'always' }
  | { kind: 'never' }
  | { kind: 'maybe'; what: string }
  | { kind: 'family'; family: Family }
  /** Layer-4 protocol by name ("tcp", "udp", "icmp", …). */
  | { kind: 'proto'; protos: string[]; negate: boolean }
  /** Destination port; `proto` set when the match itself names the protocol (`tcp dport`). */
  | { kind: 'dport'; ports: PortSet; negate: boolean; proto?: Proto }
  /** Input interface names; a trailing `*` (nft) or `+` (iptables) is a wildcard. */
  | { kind: 'iface'; names: string[]; negate: boolean };

export type Verdict =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'jump'; target: string }
  | { kind: 'goto'; target: string }
  /** A statement that does not end the packet's walk (counter, log, mark, …). */
  | { kind: 'none' }
  /** A verdict whose outcome cannot be known (queue to userspace, an unknown target). */
  | { kind: 'unknown'; what: string };

export interface Rule {
  conditions: Condition[];
  verdict: Verdict;
}

export interface Chain {
  name: string;
  rules: Rule[];
  /** Base chains only. */
  hook?: 'input' | 'prerouting';
  policy?: 'accept' | 'drop';
}

export interface Table {
  /** e.g. "inet filter", "ip filter (iptables-nft)". */
  name: string;
  families: Family[];
  chains: Map<string, Chain>;
}

/** The packet class asked about. `iface` undefined: the world's interface is not known. */
export interface WorldPacket {
  family: Family;
  proto: Proto;
  iface?: string;
}

export type Assumption = 'worst' | 'best';

interface Walk {
  accepted: PortSet;
  continued: PortSet;
}

const MAX_DEPTH = 32;

/**
 * Ports the packet class reaches through every base chain of these tables on the input path
 * (prerouting and input hooks): each must accept it, so the answer is the intersection.
 */
export function reachablePorts(tables: readonly Table[], packet: WorldPacket, assume: Assumption): PortSet {
  let open = ALL_PORTS;
  for (const table of tables) {
    if (!table.families.includes(packet.family)) continue;
    for (const chain of table.chains.values()) {
      if (!chain.hook) continue;
      const walk = walkChain(table, chain, packet, ALL_PORTS, assume, 0);
      const passed = chain.policy === 'drop' ? walk.accepted : union(walk.accepted, walk.continued);
      open = intersect(open, passed);
    }
  }
  return open;
}

/** Whether any rule on the input path holds a condition that could not be decided. */
export function undecided(tables: readonly Table[], family: Family): string[] {
  const what = new Set<string>();
  for (const table of tables) {
    if (!table.families.includes(family)) continue;
    for (const chain of table.chains.values()) {
      for (const rule of chain.rules) {
        for (const c of rule.conditions) if (c.kind === 'maybe') what.add(c.what);
        if (rule.verdict.kind === 'unknown') what.add(rule.verdict.what);
      }
    }
  }
  return [...what];
}

function walkChain(
  table: Table,
  chain: Chain,
  packet: WorldPacket,
  entering: PortSet,
  assume: Assumption,
  depth: number,
): Walk {
  let flow = entering;
  let accepted = NO_PORTS;
  let returned = NO_PORTS;
  for (const rule of chain.rules) {
    if (isEmpty(flow)) break;
    const match = matchRule(rule.conditions, packet);
    if (match === undefined) continue;
    const matched = intersect(flow, match.ports);
    if (isEmpty(matched)) continue;
    const v = rule.verdict;
    if (!match.certain && assume === 'best') {
      // Best case for filtering: an undecided accept does not match, an undecided drop does.
      if (v.kind === 'drop') flow = subtract(flow, matched);
      continue;
    }
    switch (v.kind) {
      case 'accept':
        accepted = union(accepted, matched);
        if (match.certain) flow = subtract(flow, matched);
        break;
      case 'drop':
        if (match.certain) flow = subtract(flow, matched);
        break;
      case 'return':
        returned = union(returned, matched);
        if (match.certain) flow = subtract(flow, matched);
        break;
      case 'jump':
      case 'goto': {
        const target = table.chains.get(v.target);
        if (!target || depth >= MAX_DEPTH) {
          // An extension target or a chain this reading does not show: it may accept.
          if (assume === 'worst') accepted = union(accepted, matched);
          break;
        }
        const sub = walkChain(table, target, packet, matched, assume, depth + 1);
        accepted = union(accepted, sub.accepted);
        const rest = match.certain ? subtract(flow, matched) : flow;
        if (v.kind === 'jump') flow = union(rest, sub.continued);
        else {
          returned = union(returned, sub.continued);
          flow = rest;
        }
        break;
      }
      case 'unknown':
        if (assume === 'worst') accepted = union(accepted, matched);
        else if (match.certain) flow = subtract(flow, matched);
        break;
      case 'none':
        break;
    }
  }
  return { accepted, continued: union(returned, flow) };
}

/** The destination ports a rule's conditions match for this packet class; undefined: never. */
function matchRule(
  conditions: readonly Condition[],
  packet: WorldPacket,
): { ports: PortSet; certain: boolean } | undefined {
  let ports = ALL_PORTS;
  let certain = true;
  for (const c of conditions) {
    switch (c.kind) {
      case 'always':
        break;
      case 'never':
        return undefined;
      case 'maybe':
        certain = false;
        break;
      case 'family':
        if (c.family !== packet.family) return undefined;
        break;
      case 'proto':
        if (c.protos.includes(packet.proto) === c.negate) return undefined;
        break;
      case 'dport':
        if (c.proto !== undefined && c.proto !== packet.proto) return undefined;
        ports = intersect(ports, c.negate ? complement(c.ports) : c.ports);
        if (isEmpty(ports)) return undefined;
        break;
      case 'iface': {
        const m = ifaceMatches(c.names, packet.iface);
        if (m === 'maybe') certain = false;
        else if (m === c.negate) return undefined;
        break;
      }
    }
  }
  return { ports, certain };
}

function ifaceMatches(names: readonly string[], iface: string | undefined): boolean | 'maybe' {
  if (iface === undefined) {
    // The world never arrives on loopback; any other name may be the world's interface.
    return names.every((n) => n === 'lo') ? false : 'maybe';
  }
  return names.some((n) => {
    const wildcard = n.endsWith('*') || n.endsWith('+');
    return wildcard ? iface.startsWith(n.slice(0, -1)) : iface === n;
  });
}
