/**
 * The match part of an `iptables -S` rule, decided for the world's packet (see ruleset.ts), from
 * iptables(8) and iptables-extensions(8) (iptables 1.8.9):
 *   -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW
 *   ! -i lo -m addrtype --dst-type LOCAL
 *   -m multiport --dports 80,443,8000:8100
 *   -m recent --update --seconds 60 --hitcount 4 --name DEFAULT --rsource
 *   -m set --match-set f2b-sshd src
 */
import type { PortRange, PortSet } from './port-set.js';
import { portSet } from './port-set.js';
import type { Condition, Proto } from './ruleset.js';
import { NOT_GLOBAL_UNICAST, TCP_FLAGS } from './xtables.js';

/** Options that take no value; every other `--option` takes one (two for the ones listed). */
const NO_VALUE = new Set([
  '--syn',
  '--set',
  '--rcheck',
  '--update',
  '--remove',
  '--rsource',
  '--rdest',
  '--reap',
  '--invert',
  '--loose',
  '--validmark',
  '--accept-local',
  '--limit-iface-in',
  '--limit-iface-out',
  '--strict',
  '--transparent',
  '--nowildcard',
  '--restore-skmark',
]);
const TWO_VALUES = new Set(['--tcp-flags', '--match-set', '--ctorigsrc', '--set-xmark']);

export function iptablesConditions(words: readonly string[]): Condition[] {
  const out: Condition[] = [];
  let proto: Proto | undefined;
  let module = '';
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (w === '!') {
      negate = true;
      continue;
    }
    const value = words[i + 1] ?? '';
    if (w === '-p' || w === '--protocol') {
      const p = protocolName(value);
      if (p === 'all') out.push({ kind: negate ? 'never' : 'always' });
      else out.push({ kind: 'proto', protos: [p], negate });
      if (!negate && (p === 'tcp' || p === 'udp')) proto = p;
      i++;
    } else if (w === '-s' || w === '--source') {
      out.push(...decided(/\/0$/.test(value), negate));
      i++;
    } else if (w === '-d' || w === '--destination') {
      out.push(
        !negate && NOT_GLOBAL_UNICAST.test(value)
          ? { kind: 'never' }
          : { kind: 'maybe', what: 'a destination address' },
      );
      i++;
    } else if (w === '-i' || w === '--in-interface') {
      out.push({ kind: 'iface', names: [value], negate });
      i++;
    } else if (w === '-o' || w === '--out-interface') {
      i++;
    } else if (w === '-f' || w === '--fragment') {
      out.push(...decided(false, negate));
    } else if (w === '-m' || w === '--match') {
      module = value;
      i++;
    } else if (w === '-c') {
      i += 2;
    } else if (w.startsWith('--')) {
      const n = NO_VALUE.has(w) ? 0 : TWO_VALUES.has(w) ? 2 : 1;
      const args = words.slice(i + 1, i + 1 + n);
      out.push(...moduleOption(module, w, args, negate, proto));
      i += n;
    } else {
      out.push({ kind: 'maybe', what: `iptables word ${w}` });
    }
    negate = false;
  }
  return out;
}

function moduleOption(
  module: string,
  option: string,
  args: string[],
  negate: boolean,
  proto: Proto | undefined,
): Condition[] {
  const value = args[0] ?? '';
  switch (module) {
    case 'tcp':
    case 'udp':
      if (option === '--dport' || option === '--destination-port') {
        return [dport(ports(value), negate, module)];
      }
      if (option === '--sport' || option === '--source-port') return decided(false, negate);
      if (option === '--syn') return decided(true, negate);
      if (option === '--tcp-flags') {
        const mask = flags(value);
        const comp = flags(args[1] ?? '');
        return decided(((TCP_FLAGS.syn ?? 2) & mask) === comp, negate);
      }
      break;
    case 'multiport':
      if (option === '--dports' || option === '--destination-ports' || option === '--ports') {
        return [dport(ports(value), negate, proto)];
      }
      if (option === '--sports' || option === '--source-ports') return decided(false, negate);
      break;
    case 'state':
    case 'conntrack':
      if (option === '--state' || option === '--ctstate')
        return decided(value.split(',').includes('NEW'), negate);
      if (option === '--ctstatus') return decided(false, negate);
      if (option === '--ctdir') return decided(value === 'ORIGINAL', negate);
      break;
    case 'comment':
      return [];
    case 'limit':
      return [];
    case 'hashlimit':
      if (option === '--hashlimit-above') return decided(false, negate);
      return [];
    case 'connlimit':
      if (option === '--connlimit-above') return decided(false, negate);
      return [];
    case 'recent':
      // The world's first packet is in no recent list; --set always matches (and records it).
      if (option === '--rcheck' || option === '--update') return decided(false, negate);
      if (option === '--remove') return decided(false, negate);
      return [];
    case 'addrtype':
      if (option === '--dst-type') return decided(value.split(',').includes('LOCAL'), negate);
      if (option === '--src-type') return decided(value.split(',').includes('UNICAST'), negate);
      return [];
    case 'pkttype':
      if (option === '--pkt-type') return decided(value === 'unicast' || value === 'host', negate);
      break;
    case 'mark':
    case 'connmark':
      if (option === '--mark') return decided(markMatchesZero(value), negate);
      break;
    case 'set':
      if (option === '--match-set') {
        if ((args[1] ?? '').split(',')[0] === 'src') return decided(false, negate);
        return [{ kind: 'maybe', what: `ipset ${value}` }];
      }
      return [];
    case 'rpfilter':
      // The world's address routes back out of the interface it came in on.
      if (option === '--invert') return [{ kind: 'never' }];
      return [];
    case 'policy':
      if (option === '--pol') return decided(value === 'none', negate);
      return [];
    case 'icmp':
    case 'icmp6':
    case 'icmpv6':
      return [];
    case 'mac':
    case 'iprange':
      if (option === '--mac-source' || option === '--src-range') return decided(false, negate);
      break;
    case 'helper':
      return decided(false, negate);
    case 'rt':
    case 'frag':
    case 'hbh':
    case 'dst':
    case 'ipv6header':
      // The world's connection carries no IPv6 extension headers.
      return decided(false, negate);
  }
  return [{ kind: 'maybe', what: `-m ${module || '?'} ${option}` }];
}

function dport(set: PortSet | undefined, negate: boolean, proto: string | undefined): Condition {
  if (!set) return { kind: 'maybe', what: 'a destination port' };
  const c: Condition = { kind: 'dport', ports: set, negate };
  if (proto === 'tcp' || proto === 'udp') c.proto = proto;
  return c;
}

function decided(holds: boolean, negate: boolean): Condition[] {
  return [{ kind: holds !== negate ? 'always' : 'never' }];
}

/** "22", "1000:2000", "22,80,443,1000:2000" (multiport), ":1023". */
function ports(text: string): PortSet | undefined {
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d*)(?::(\d*))?$/.exec(part);
    if (!m) return undefined;
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? 65535 : Number(m[2]);
    ranges.push([lo, hi]);
  }
  return portSet(ranges);
}

function flags(text: string): number {
  if (text === 'ALL') return 0x3f;
  if (text === 'NONE') return 0;
  return text
    .split(',')
    .map((f) => TCP_FLAGS[f.toLowerCase()] ?? 0)
    .reduce((a, b) => a | b, 0);
}

/** `--mark 0x4000/0x4000`: does an unmarked packet (mark 0) match? */
function markMatchesZero(text: string): boolean {
  const [value, mask] = text.split('/');
  const v = Number(value);
  const m = mask === undefined ? 0xffffffff : Number(mask);
  return (0 & m) === (v & m);
}

const NUMBERS: Record<string, string> = {
  '6': 'tcp',
  '17': 'udp',
  '1': 'icmp',
  '58': 'ipv6-icmp',
  '0': 'all',
};

function protocolName(p: string): string {
  const name = NUMBERS[p] ?? p.toLowerCase();
  return name === 'icmpv6' ? 'ipv6-icmp' : name;
}
