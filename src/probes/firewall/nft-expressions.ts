/**
 * libnftables JSON expressions and statements (nft 0.9–1.x, `man libnftables-json`) decided for
 * the world's packet (see ruleset.ts): a new, unmarked, unicast TCP or UDP connection from an
 * address and source port no rule names, on a non-loopback interface.
 *   {"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": {"set": ["established", "related"]}}}
 *   {"match": {"op": "!=", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}},
 *     ["fin", "syn", "rst", "ack"]]}, "right": "syn"}}
 *   {"match": {"op": "==", "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, "right": false}}
 *   {"vmap": {"key": {"meta": {"key": "iifname"}}, "data": {"set": [["lo", {"accept": null}]]}}}
 */
import type { PortRange, PortSet } from './port-set.js';
import { portSet } from './port-set.js';
import type { Condition, Family, Proto, Verdict } from './ruleset.js';
import { NOT_GLOBAL_UNICAST, TCP_FLAGS, xtTargetVerdict } from './xtables.js';

type Json = Record<string, unknown>;
type Lookup = (set: string) => unknown[] | undefined;

const NON_MATCHING_STATEMENTS = new Set([
  'counter',
  'log',
  'mangle',
  'notrack',
  'ct helper',
  'ct timeout',
  'ct expectation',
  'flow',
  'dup',
  'snat',
  'dnat',
  'masquerade',
  'redirect',
  'tproxy',
  'secmark',
  'set',
  'map',
]);

const SERVICES: Record<string, number> = {
  ssh: 22,
  http: 80,
  https: 443,
  domain: 53,
  bootps: 67,
  bootpc: 68,
};

export function verdictFromNft(e: Json): Verdict | undefined {
  if (!e || typeof e !== 'object') return undefined;
  if ('accept' in e) return { kind: 'accept' };
  if ('drop' in e || 'reject' in e) return { kind: 'drop' };
  if ('return' in e) return { kind: 'return' };
  if ('jump' in e) return { kind: 'jump', target: String((e.jump as Json)?.target) };
  if ('goto' in e) return { kind: 'goto', target: String((e.goto as Json)?.target) };
  if ('queue' in e) return { kind: 'unknown', what: 'queue to a userspace program' };
  if ('synproxy' in e) return { kind: 'unknown', what: 'synproxy' };
  const xt = e.xt as Json | null | undefined;
  if (xt && xt.type === 'target') {
    const v = xtTargetVerdict(String(xt.name));
    return v.kind === 'none' ? undefined : v;
  }
  return undefined;
}

export function vmapEntries(vmap: Json, lookup: Lookup): { conditions: Condition[]; verdict: Verdict }[] {
  const data = vmap.data;
  const entries = typeof data === 'string' ? lookup(data) : (data as Json | undefined)?.set;
  if (!Array.isArray(entries)) {
    return [
      {
        conditions: [{ kind: 'maybe', what: 'a verdict map' }],
        verdict: { kind: 'unknown', what: 'a verdict map' },
      },
    ];
  }
  const out: { conditions: Condition[]; verdict: Verdict }[] = [];
  for (const entry of entries) {
    const pair = Array.isArray(entry) ? entry : undefined;
    const verdict = pair ? verdictFromNft(pair[1] as Json) : undefined;
    if (!pair || !verdict) continue;
    out.push({ conditions: matchConditions('==', vmap.key as Json, pair[0], lookup), verdict });
  }
  return out;
}

export function conditionsFromNft(e: Json, lookup: Lookup): Condition[] {
  if (!e || typeof e !== 'object') return [];
  const name = Object.keys(e)[0] ?? '';
  if (name === 'match') {
    const m = e.match as Json | null;
    if (!m) return [{ kind: 'maybe', what: 'an empty match' }];
    return matchConditions(String(m.op ?? '=='), m.left as Json, m.right, lookup);
  }
  if (name === 'limit' || name === 'quota') {
    // `limit rate over N` matches only once the rate is exceeded: never the first packet.
    return (e[name] as Json | null)?.inv ? [{ kind: 'never' }] : [];
  }
  if (name === 'meter') {
    const stmt = (e.meter as Json | null)?.stmt as Json | undefined;
    return (stmt?.limit as Json | undefined)?.inv ? [{ kind: 'never' }] : [];
  }
  if (name === 'xt') {
    // nft 1.0.2 (Ubuntu 22.04) prints every xt expression as `{"xt": null}`, match or target.
    const xt = e.xt as Json | null;
    if (!xt) return [{ kind: 'maybe', what: 'an iptables-nft extension nft does not describe' }];
    if (xt.type === 'match') return [{ kind: 'maybe', what: `iptables-nft match "${String(xt.name)}"` }];
    return [];
  }
  if (NON_MATCHING_STATEMENTS.has(name)) return [];
  return [{ kind: 'maybe', what: `nft statement "${name}"` }];
}

function matchConditions(op: string, left: Json, right: unknown, lookup: Lookup): Condition[] {
  const values = expand(right, lookup);
  const negate = op === '!=';
  if (op !== '==' && op !== '!=' && op !== 'in') return [{ kind: 'maybe', what: `a "${op}" comparison` }];
  if (left && typeof left === 'object' && 'payload' in left) {
    return payloadConditions(left.payload as Json, values, negate);
  }
  if (left && typeof left === 'object' && 'meta' in left) {
    return metaConditions(String((left.meta as Json).key), values, negate);
  }
  if (left && typeof left === 'object' && 'ct' in left) {
    return ctConditions(String((left.ct as Json).key), values, negate);
  }
  if (left && typeof left === 'object' && 'fib' in left) {
    return fibConditions(left.fib as Json, values, negate);
  }
  if (left && typeof left === 'object' && 'concat' in left) {
    // `icmpv6 type . icmpv6 code { 130 . 0 }`: undecided, but each part still names its header.
    const parts = Array.isArray(left.concat) ? (left.concat as Json[]) : [];
    return [...parts.flatMap(impliedByPart), { kind: 'maybe', what: 'a concatenation match' }];
  }
  if (left && typeof left === 'object' && 'exthdr' in left) {
    // The world's connection carries no IPv6 extension headers (routing, fragment, hop-by-hop).
    return [{ kind: 'family', family: 'ipv6' }, ...decided(false, negate)];
  }
  if (left && typeof left === 'object' && '&' in left) {
    return maskConditions(left['&'] as unknown[], values, negate);
  }
  return [{ kind: 'maybe', what: `a match on ${Object.keys(left ?? {})[0] ?? 'an expression'}` }];
}

/** Set references, anonymous sets, lists and scalars, flattened. */
function expand(right: unknown, lookup: Lookup): unknown[] {
  if (typeof right === 'string' && right.startsWith('@'))
    return (lookup(right) ?? []).flatMap((v) => expand(v, lookup));
  if (Array.isArray(right)) return right.flatMap((v) => expand(v, lookup));
  const set = (right as Json | null)?.set;
  if (Array.isArray(set)) return set.flatMap((v) => expand(v, lookup));
  const elem = (right as Json | null)?.elem as Json | undefined;
  if (elem && 'val' in elem) return expand(elem.val, lookup);
  return [right];
}

/** What a part of a concatenation says about the packet by itself naming a header. */
function impliedByPart(part: Json): Condition[] {
  const payload = part?.payload as Json | undefined;
  const protocol = String(payload?.protocol ?? '');
  if (!protocol) return [];
  const out: Condition[] = [];
  const family = FAMILY_OF_PROTOCOL[protocol];
  if (family) out.push({ kind: 'family', family });
  if (protocol !== 'ip' && protocol !== 'ip6' && protocol !== 'th')
    out.push({ kind: 'proto', protos: [protocol], negate: false });
  return out;
}

function decided(holds: boolean, negate: boolean): Condition[] {
  return [{ kind: holds !== negate ? 'always' : 'never' }];
}

const FAMILY_OF_PROTOCOL: Record<string, Family> = { ip: 'ipv4', icmp: 'ipv4', ip6: 'ipv6', icmpv6: 'ipv6' };

function payloadConditions(payload: Json, values: unknown[], negate: boolean): Condition[] {
  const protocol = String(payload.protocol ?? '');
  const field = String(payload.field ?? '');
  if (!protocol) return [{ kind: 'maybe', what: 'a raw payload match' }];
  const out: Condition[] = [];
  const family = FAMILY_OF_PROTOCOL[protocol];
  if (family) out.push({ kind: 'family', family });
  if (['tcp', 'udp', 'th'].includes(protocol)) {
    const proto = protocol === 'th' ? undefined : (protocol as Proto);
    if (proto) out.push({ kind: 'proto', protos: [proto], negate: false });
    if (field === 'dport') {
      const set = ports(values);
      if (!set) return [...out, { kind: 'maybe', what: `${protocol} dport` }];
      const d: Condition = { kind: 'dport', ports: set, negate };
      if (proto) d.proto = proto;
      return [...out, d];
    }
    // The world's source port is an ephemeral one no rule names.
    if (field === 'sport') return [...out, ...decided(false, negate)];
    return [...out, { kind: 'maybe', what: `${protocol} ${field}` }];
  }
  if ((protocol === 'ip' && field === 'protocol') || (protocol === 'ip6' && field === 'nexthdr')) {
    return [...out, { kind: 'proto', protos: protocols(values), negate }];
  }
  if (protocol === 'ip' || protocol === 'ip6') {
    if (field === 'saddr') return [...out, ...decided(values.some(isWholeSpace), negate)];
    if (field === 'daddr') {
      if (!negate && values.every(isNotGlobalUnicast)) return [...out, { kind: 'never' }];
      return [...out, { kind: 'maybe', what: `${protocol} daddr` }];
    }
    return [...out, { kind: 'maybe', what: `${protocol} ${field}` }];
  }
  // Another layer-4 header (icmp, icmpv6, sctp, esp…): not a TCP or UDP packet.
  return [...out, { kind: 'proto', protos: [protocol], negate: false }];
}

function metaConditions(key: string, values: unknown[], negate: boolean): Condition[] {
  switch (key) {
    case 'l4proto':
      return [{ kind: 'proto', protos: protocols(values), negate }];
    case 'nfproto':
    case 'protocol': {
      const fams = values.map((v) =>
        v === 'ipv4' || v === 'ip' ? 'ipv4' : v === 'ipv6' || v === 'ip6' ? 'ipv6' : 'other',
      );
      if (fams.length === 1 && fams[0] !== 'other' && !negate)
        return [{ kind: 'family', family: fams[0] as Family }];
      if (fams.length === 1 && fams[0] !== 'other' && negate) {
        return [{ kind: 'family', family: fams[0] === 'ipv4' ? 'ipv6' : 'ipv4' }];
      }
      return [{ kind: 'maybe', what: `meta ${key}` }];
    }
    case 'iif':
    case 'iifname': {
      const names = values.map((v) => (v === 1 ? 'lo' : String(v)));
      return [{ kind: 'iface', names, negate }];
    }
    case 'iiftype':
      return values.every((v) => v === 'loopback')
        ? decided(false, negate)
        : [{ kind: 'maybe', what: 'meta iiftype' }];
    case 'mark':
      return decided(
        values.some((v) => v === 0),
        negate,
      );
    case 'pkttype':
      return decided(values.includes('host'), negate);
    case 'secpath':
    case 'ipsec':
      return decided(values.includes(false), negate);
    default:
      return [{ kind: 'maybe', what: `meta ${key}` }];
  }
}

function ctConditions(key: string, values: unknown[], negate: boolean): Condition[] {
  switch (key) {
    case 'state':
      return decided(values.includes('new'), negate);
    case 'status':
    case 'helper':
      return decided(false, negate);
    case 'direction':
      return decided(values.includes('original'), negate);
    case 'mark':
      return decided(
        values.some((v) => v === 0),
        negate,
      );
    default:
      return [{ kind: 'maybe', what: `ct ${key}` }];
  }
}

function fibConditions(fib: Json, values: unknown[], negate: boolean): Condition[] {
  const result = String(fib.result);
  const flags = Array.isArray(fib.flags) ? fib.flags.map(String) : [];
  if (result === 'type' && flags.includes('daddr')) return decided(values.includes('local'), negate);
  // Reverse-path check (`fib saddr . iif oif missing drop`): the world's address routes back out.
  if (result === 'oif' && flags.includes('saddr')) return decided(values.includes(true), negate);
  return [{ kind: 'maybe', what: `fib ${result}` }];
}

/** `meta mark & 0x4000 == 0x4000`, `tcp flags & (fin|syn|rst|ack) != syn`: computed for the world's packet. */
function maskConditions(operands: unknown[], values: unknown[], negate: boolean): Condition[] {
  const [inner, mask] = operands as [Json, unknown];
  const maskBits = bits(mask);
  const wanted = values.map(bits);
  if (maskBits === undefined || wanted.some((w) => w === undefined))
    return [{ kind: 'maybe', what: 'a bitwise match' }];
  const meta = (inner?.meta as Json | undefined)?.key ?? (inner?.ct as Json | undefined)?.key;
  if (meta === 'mark') return decided(wanted.includes(0 & maskBits), negate);
  const payload = inner?.payload as Json | undefined;
  if (payload?.protocol === 'tcp' && payload.field === 'flags') {
    const syn = TCP_FLAGS.syn ?? 2;
    return [
      { kind: 'proto', protos: ['tcp'], negate: false },
      ...decided(wanted.includes(syn & maskBits), negate),
    ];
  }
  if (meta === 'state') return [{ kind: 'maybe', what: 'a bitwise ct state match' }];
  return [{ kind: 'maybe', what: 'a bitwise match' }];
}

function bits(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return TCP_FLAGS[v];
  if (Array.isArray(v)) {
    const parts = v.map(bits);
    return parts.some((p) => p === undefined) ? undefined : parts.reduce<number>((a, b) => a | (b ?? 0), 0);
  }
  const or = (v as Json | null)?.['|'];
  if (Array.isArray(or)) return bits(or);
  return undefined;
}

function ports(values: unknown[]): PortSet | undefined {
  const ranges: PortRange[] = [];
  for (const v of values) {
    if (typeof v === 'number') ranges.push([v, v]);
    else if (typeof v === 'string' && SERVICES[v] !== undefined)
      ranges.push([SERVICES[v] ?? 0, SERVICES[v] ?? 0]);
    else if (typeof v === 'string' && /^\d+$/.test(v)) ranges.push([Number(v), Number(v)]);
    else {
      const range = (v as Json | null)?.range;
      if (Array.isArray(range)) ranges.push([Number(range[0]), Number(range[1])]);
      else return undefined;
    }
  }
  return portSet(ranges);
}

const PROTOCOL_NUMBERS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

function protocols(values: unknown[]): string[] {
  return values.map((v) => (typeof v === 'number' ? (PROTOCOL_NUMBERS[v] ?? String(v)) : String(v)));
}

function isWholeSpace(v: unknown): boolean {
  const prefix = (v as Json | null)?.prefix as Json | undefined;
  return prefix !== undefined && Number(prefix.len) === 0;
}

function isNotGlobalUnicast(v: unknown): boolean {
  const addr =
    typeof v === 'string' ? v : String(((v as Json | null)?.prefix as Json | undefined)?.addr ?? '');
  return NOT_GLOBAL_UNICAST.test(addr);
}
