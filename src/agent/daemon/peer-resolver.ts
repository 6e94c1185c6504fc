/**
 * Picks how the local API learns who is asking, for the platform the caller names (the daemon
 * passes the registry's answer; this module does not read the platform itself).
 */
import type { CommandOutcome, CommandRequest } from '../../host/host.js';
import { findSs, linuxPeerResolver } from './peer-credentials-linux.js';
import { unidentifiedPeers, type ResolvePeer } from './peer-credentials.js';

export function peerResolverFor(
  platform: string,
  run: (request: CommandRequest) => Promise<CommandOutcome>,
): ResolvePeer {
  if (platform === 'linux') {
    const ssPath = findSs();
    if (ssPath) return linuxPeerResolver({ run, ssPath });
    return async () => ({
      identified: false,
      reason: 'lookup_failed',
      detail: 'ss (iproute2) is not installed; administrator actions are refused',
    });
  }
  return unidentifiedPeers(platform);
}
