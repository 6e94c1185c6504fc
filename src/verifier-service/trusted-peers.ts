/** Which callers' forwarded headers are believed: the configured access proxies, by address or CIDR. */
import { BlockList, isIPv6 } from 'node:net';

export type PeerCheck = (address: string | undefined) => boolean;

export function trustedPeers(entries: readonly string[]): PeerCheck {
  const trusted = new BlockList();
  for (const entry of entries) {
    const [ip, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(ip, type);
    else trusted.addSubnet(ip, Number(bits), type);
  }
  // Keyed by the peer address: the BlockList check (which builds a SocketAddress) runs once per peer.
  const byAddress = new Map<string, boolean>();
  return function isTrustedPeer(address) {
    if (!address) return false;
    let known = byAddress.get(address);
    if (known === undefined) {
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
      known = trusted.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
      if (byAddress.size < 10_000) byAddress.set(address, known);
    }
    return known;
  };
}
