/**
 * Parses `ss -x -p -n -H` (iproute2): one line per Unix socket, from the kernel's sock_diag
 * (UNIX_DIAG_PEER gives each socket's peer inode) and, with -p, the processes holding it
 * (ss finds them by reading /proc/<pid>/fd). Used to find who holds the other end of a connection
 * to the daemon's socket. Pure; the I/O is in peer-credentials-linux.ts.
 *
 * Recorded here with iproute2 6.1.0 on Debian 12 (test/fixtures/linux/ss-xpnH-*.txt):
 *   u_str ESTAB 0 0 * 172900 * 172901 users:(("node",pid=18702,fd=19))
 * Columns: netid, state, recv-q, send-q, local address, local inode, peer address, peer inode,
 * process list. Addresses are a path, "*" (unnamed) or "@name" (abstract); paths may hold spaces,
 * so the line is read from both ends, never split blindly.
 */
export interface UnixSocketHolder {
  pid: number;
  fd: number;
}

export interface UnixSocketLine {
  inode: number;
  peerInode: number;
  holders: UnixSocketHolder[];
}

const LINE =
  /^(u_str|u_seq|u_dgr)\s+\S+\s+\d+\s+\d+\s+(.*?)\s+(\d+)\s+(.*?)\s+(\d+)(?:\s+(users:\(.*\)))?\s*$/;
const HOLDER = /pid=(\d+),fd=(\d+)/g;

export function parseSsUnix(text: string): UnixSocketLine[] {
  const lines: UnixSocketLine[] = [];
  for (const raw of text.split('\n')) {
    const match = LINE.exec(raw);
    if (!match) continue;
    const holders: UnixSocketHolder[] = [];
    for (const h of (match[6] ?? '').matchAll(HOLDER)) {
      holders.push({ pid: Number(h[1]), fd: Number(h[2]) });
    }
    lines.push({ inode: Number(match[3]), peerInode: Number(match[5]), holders });
  }
  return lines;
}

/** The socket at the other end of the connection whose inode is `ownInode`, if listed. */
export function findPeerSocket(
  lines: readonly UnixSocketLine[],
  ownInode: number,
): UnixSocketLine | undefined {
  return lines.find((l) => l.peerInode === ownInode && l.inode !== ownInode && l.inode !== 0);
}
