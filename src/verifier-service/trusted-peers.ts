/**
 * Which callers' forwarded headers are believed, and as which kind of proxy: the configured access
 * proxies, by address or CIDR. An address that matches entries of two kinds is trusted as neither
 * (the headers to read would be ambiguous).
 */
import { BlockList, isIPv6 } from 'node:net';
import type { ProxyKind } from './forwarded-request.js';

export interface TrustedProxyEntry {
  address: string;
  proxy: ProxyKind;
}

/** The kind of proxy at this peer address, or undefined when it is not a (single-kind) trusted proxy. */
export type PeerKinds = (address: string | undefined) => ProxyKind | undefined;

const plainAddress = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);

export function trustedPeers(entries: readonly TrustedProxyEntry[]): PeerKinds {
  const lists = new Map<ProxyKind, BlockList>();
  for (const { address, proxy } of entries) {
    let list = lists.get(proxy);
    if (!list) lists.set(proxy, (list = new BlockList()));
    const [ip, bits] = address.split('/') as [string, string | undefined];
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  // Keyed by the peer address: the BlockList checks (which build a SocketAddress) run once per peer.
  const byAddress = new Map<string, ProxyKind | null>();
  return function peerKind(address) {
    if (!address) return undefined;
    let known = byAddress.get(address);
    if (known === undefined) {
      const plain = plainAddress(address);
      const type = isIPv6(plain) ? 'ipv6' : 'ipv4';
      const kinds = [...lists].filter(([, list]) => list.check(plain, type)).map(([kind]) => kind);
      known = kinds.length === 1 ? (kinds[0] as ProxyKind) : null;
      if (byAddress.size < 10_000) byAddress.set(address, known);
    }
    return known ?? undefined;
  };
}
