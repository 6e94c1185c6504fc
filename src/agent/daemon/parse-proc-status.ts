/**
 * Parses the credential lines of /proc/<pid>/status (Linux, fs/proc/array.c `task_state`): the
 * kernel's own view of a process's user and group ids, used to learn which groups the local API's
 * peer is in. Pure; the I/O is in peer-credentials-linux.ts.
 *
 * Recorded here on Debian 12, kernel 6.18 (test/fixtures/linux/proc-status/):
 *   Uid:\t65534\t65534\t65534\t65534      real, effective, saved set-user-ID, filesystem
 *   Gid:\t65534\t4\t4\t4                  the same four for groups (here a set-group-ID change)
 *   Groups:\t4 61234                      supplementary groups, space separated, with a trailing space
 *   Groups:\t                             none (a tab, then a space)
 * The ids are those of the reader's user namespace; the daemon reads from the initial one, so they
 * are the machine's ids. An id with no mapping there reads as the overflow id (65534).
 */
export interface ProcCredentials {
  /** Real, effective, saved and filesystem uid. */
  uids: [number, number, number, number];
  /** Real, effective, saved and filesystem gid. */
  gids: [number, number, number, number];
  /** Supplementary groups. */
  groups: number[];
}

const ID = /^\d{1,10}$/;

/** The credentials in a status file, or undefined when a line is missing or not as the kernel writes it. */
export function parseProcStatusCredentials(text: string): ProcCredentials | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if ((name === 'Uid' || name === 'Gid' || name === 'Groups') && !fields.has(name))
      fields.set(name, line.slice(colon + 1));
  }
  const uids = fourIds(fields.get('Uid'));
  const gids = fourIds(fields.get('Gid'));
  const groups = idList(fields.get('Groups'));
  if (!uids || !gids || !groups) return undefined;
  return { uids, gids, groups };
}

function idList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(/[\t ]+/).filter((p) => p !== '');
  if (!parts.every((p) => ID.test(p))) return undefined;
  const ids = parts.map(Number);
  return ids.every((id) => id <= 0xffffffff) ? ids : undefined;
}

function fourIds(value: string | undefined): [number, number, number, number] | undefined {
  const ids = idList(value);
  if (ids?.length !== 4) return undefined;
  return [ids[0] as number, ids[1] as number, ids[2] as number, ids[3] as number];
}

/**
 * The groups a process is in without any set-ID change in effect: its gid and supplementary groups
 * when its four uids equal the socket owner's uid and its four gids equal the socket's gid (the
 * kernel stamps both on the socket inode from the creator's fsuid/fsgid); otherwise none. A user
 * who connects and then executes a set-group-ID program keeps the socket, but the program's Gid
 * line then differs (real ≠ effective), so the borrowed group is never counted.
 */
export function consistentGroups(
  credentials: ProcCredentials,
  socketOwner: { uid: number; gid: number },
): number[] {
  const [realGid] = credentials.gids;
  if (!credentials.uids.every((u) => u === socketOwner.uid)) return [];
  if (!credentials.gids.every((g) => g === socketOwner.gid)) return [];
  return [...new Set([realGid, ...credentials.groups])].sort((a, b) => a - b);
}
