/**
 * Linux peer identity for the local API socket, without a native addon (Node has no SO_PEERCRED).
 *
 * 1. fstat() of our accepted socket's descriptor gives its inode (sockfs).
 * 2. `ss -x -p -n -H` asks the kernel (sock_diag, UNIX_DIAG_PEER) for every Unix socket and its
 *    peer's inode, and lists the processes holding each (pid, fd). The peer socket is the line
 *    whose peer inode is ours.
 * 3. stat() of /proc/<pid>/fd/<fd> follows the link to that socket's inode: its owner is the
 *    uid the kernel gave the socket when it was created (sock_alloc sets i_uid to the creator's
 *    fsuid), and its inode number must equal the peer inode, so a pid reused in between is caught.
 *
 * Why not the pid alone (e.g. SO_PEERCRED's pid through a getsockopt addon, then
 * /proc/<pid>/status): a user could connect, then exec a setuid program that inherits the socket,
 * and be read as root. The socket inode's owner cannot be changed by its holder. Like SO_PEERCRED,
 * it names who created the connection, not who holds it now; a socket only reaches another user's
 * process when its creator hands it over.
 * Needs root (or CAP_SYS_PTRACE) to see other users' /proc/<pid>/fd: the daemon runs as root.
 *
 * 4. The groups (for `adminGroups`): /proc/<pid>/status of each holder (`Gid:` and `Groups:`), taken
 *    only when its four uids equal the socket's owner and its four gids equal the socket inode's gid
 *    (no set-ID program between the connection and now); the fd link is checked again after the
 *    read, so the status read was of a process holding the socket. With several holders, only the
 *    groups every one of them is in count. Never from /etc/group for a name the client names.
 */
import { accessSync, constants, fstat } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { CommandOutcome, CommandRequest } from '../../host/host.js';
import { consistentGroups, parseProcStatusCredentials } from './parse-proc-status.js';
import { findPeerSocket, parseSsUnix, type UnixSocketHolder } from './parse-ss-unix.js';
import type { PeerIdentity, ResolvePeer } from './peer-credentials.js';

export const SS_PATHS = ['/usr/bin/ss', '/usr/sbin/ss', '/bin/ss', '/sbin/ss'] as const;

export interface LinuxPeerOptions {
  run: (request: CommandRequest) => Promise<CommandOutcome>;
  /** Absolute path of `ss` (iproute2). */
  ssPath: string;
  /** Root of procfs; /proc on a real machine. */
  procRoot?: string;
}

/** The first `ss` that exists, or undefined (then every peer is unidentified). */
export function findSs(paths: readonly string[] = SS_PATHS): string | undefined {
  return paths.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function linuxPeerResolver(options: LinuxPeerOptions): ResolvePeer {
  return (socket) => resolveLinuxPeer(socket, options);
}

async function resolveLinuxPeer(socket: Socket, options: LinuxPeerOptions): Promise<PeerIdentity> {
  const fd = socketDescriptor(socket);
  if (fd === undefined) {
    return { identified: false, reason: 'no_socket_handle', detail: 'the connection has no descriptor' };
  }
  let ownInode: number;
  try {
    ownInode = await fstatInode(fd);
  } catch (error) {
    return { identified: false, reason: 'lookup_failed', detail: `fstat failed: ${String(error)}` };
  }
  const outcome = await options.run({
    command: options.ssPath,
    args: ['-x', '-p', '-n', '-H'],
    timeoutMs: 5_000,
  });
  if (!outcome.ok || outcome.exitCode !== 0) {
    const detail = outcome.ok ? `ss exited ${outcome.exitCode}` : `${outcome.error}: ${outcome.detail}`;
    return { identified: false, reason: 'lookup_failed', detail };
  }
  const peer = findPeerSocket(parseSsUnix(outcome.stdout), ownInode);
  if (!peer) {
    return { identified: false, reason: 'peer_not_found', detail: `no socket has peer inode ${ownInode}` };
  }
  const procRoot = options.procRoot ?? '/proc';
  let found: { uid: number; pid: number; gids: number[] } | undefined;
  for (const holder of peer.holders) {
    const held = await holderCredentials(procRoot, holder, peer.inode);
    if (!held) continue; // gone, or the pid or fd was reused since ss looked
    if (!found) found = { uid: held.uid, pid: holder.pid, gids: held.gids };
    else found.gids = found.gids.filter((gid) => held.gids.includes(gid));
  }
  if (found) return { identified: true, ...found, source: 'linux_sock_diag' };
  return {
    identified: false,
    reason: 'peer_not_found',
    detail: `no process holds peer socket ${peer.inode} any more`,
  };
}

/**
 * The socket's owner (uid) as its inode says, and the holder's groups from its status file, or
 * undefined when this holder no longer holds the peer socket. Groups that cannot be read are none.
 */
async function holderCredentials(
  procRoot: string,
  holder: UnixSocketHolder,
  peerInode: number,
): Promise<{ uid: number; gids: number[] } | undefined> {
  const fdPath = `${procRoot}/${holder.pid}/fd/${holder.fd}`;
  const holds = async () => {
    const link = await stat(fdPath).catch(() => undefined);
    return link?.ino === peerInode ? link : undefined;
  };
  const link = await holds();
  if (!link) return undefined;
  const status = await readFile(`${procRoot}/${holder.pid}/status`, 'utf8').catch(() => undefined);
  const credentials = status === undefined ? undefined : parseProcStatusCredentials(status);
  // Read again: the status just read was of a process that held the socket before and after.
  if (!(await holds())) return undefined;
  const gids = credentials ? consistentGroups(credentials, { uid: link.uid, gid: link.gid }) : [];
  return { uid: link.uid, gids };
}

/**
 * The file descriptor of a connected socket. Node keeps it on the libuv handle (`_handle.fd`);
 * there is no public API. Undefined when the handle has none (closed, or not a Unix socket).
 */
function socketDescriptor(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function fstatInode(fd: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats.ino))),
  );
}
