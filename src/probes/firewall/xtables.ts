/** Knowledge shared by the nft and iptables readings: xtables targets, TCP flags, address classes. */
import type { Verdict } from './ruleset.js';

/** Targets that do not end a packet's walk through the chain (iptables-extensions(8)). */
const NON_TERMINAL_TARGETS = new Set([
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'CT',
  'NOTRACK',
  'TCPMSS',
  'TCPOPTSTRIP',
  'CLASSIFY',
  'CHECKSUM',
  'TRACE',
  'AUDIT',
  'DSCP',
  'TOS',
  'TTL',
  'HL',
  'SET',
  'IDLETIMER',
  'LED',
  'SECMARK',
  'CONNSECMARK',
  'RATEEST',
  'HMARK',
]);

export function xtTargetVerdict(target: string): Verdict {
  switch (target) {
    case 'ACCEPT':
      return { kind: 'accept' };
    case 'DROP':
    case 'REJECT':
    case 'TARPIT':
      return { kind: 'drop' };
    case 'RETURN':
      return { kind: 'return' };
    default:
      return NON_TERMINAL_TARGETS.has(target)
        ? { kind: 'none' }
        : { kind: 'unknown', what: `iptables target ${target}` };
  }
}

export const TCP_FLAGS: Record<string, number> = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
  ecn: 0x40,
  cwr: 0x80,
};

/**
 * Destinations the world's packet never has: it is unicast to one of the host's routable
 * addresses, so not multicast (224.0.0.0/4, ff00::/8), not the limited broadcast, not link-local
 * (169.254.0.0/16, fe80::/10: reachable only from the same link, never through a router), not
 * loopback (127.0.0.0/8, ::1).
 */
export const NOT_GLOBAL_UNICAST =
  /^(22[4-9]|23\d)\.|^255\.255\.255\.255|^169\.254\.|^127\.|^::1(\/128)?$|^ff[0-9a-f]{2}:|^fe[89ab][0-9a-f]:/i;
