/**
 * Who is on the other end of a local API connection, as the kernel knows it. The server asks
 * once per connection and caches the answer for the connection's life. An unidentified peer is
 * never an administrator: it may read status and ask for a re-check, like any local user.
 *
 * Per OS (docs/local-api.md, "Who is asking"):
 * - Linux: the peer socket found through sock_diag (`ss`), its owner from /proc (peer-credentials-linux.ts).
 * - Linux groups (adminGroups): /proc/<pid>/status of the peer process (parse-proc-status.ts).
 * - macOS: getpeereid(2) / LOCAL_PEERCRED (struct xucred) on the accepted socket, groups through
 *   mbr_check_membership. Node has no binding for either; a native helper is needed (not written
 *   yet), so every peer is unidentified there for now.
 * - Windows: ImpersonateNamedPipeClient + OpenThreadToken + CheckTokenMembership on the pipe;
 *   also a native helper (not written yet).
 */
import type { Socket } from 'node:net';

export type PeerIdentity =
  | {
      identified: true;
      uid: number;
      pid: number;
      /**
       * The peer process's gid and supplementary groups as the kernel reports them (Linux:
       * /proc/<pid>/status), or empty when they could not be read or a set-ID change is in effect.
       */
      gids: number[];
      source: 'linux_sock_diag';
    }
  | { identified: false; reason: PeerUnidentifiedReason; detail: string };

export type PeerUnidentifiedReason =
  'unsupported_platform' | 'no_socket_handle' | 'peer_not_found' | 'lookup_failed';

export type ResolvePeer = (socket: Socket) => Promise<PeerIdentity>;

/** For an OS whose peer lookup is not written yet: everyone is an unidentified local user. */
export function unidentifiedPeers(platform: string): ResolvePeer {
  return async () => ({
    identified: false,
    reason: 'unsupported_platform',
    detail: `peer credentials are not implemented on ${platform}; administrator actions are refused`,
  });
}

/** The default rule: only root (uid 0) is an administrator. Admins use `sudo posture …`. */
export function rootIsAdministrator(identity: PeerIdentity): boolean {
  return identity.identified && identity.uid === 0;
}

/**
 * Root, or a peer the kernel reports in one of `adminGids` (the `adminGroups` setting resolved to
 * group ids). An unidentified peer never is.
 */
export function administratorRule(adminGids: ReadonlySet<number>): (identity: PeerIdentity) => boolean {
  return (identity) =>
    rootIsAdministrator(identity) || (identity.identified && identity.gids.some((gid) => adminGids.has(gid)));
}
