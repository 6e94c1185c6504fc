/**
 * The `adminGroups` setting turned into group ids, on Linux, through `getent group <name>` (glibc;
 * through the exec module), so groups from NSS (LDAP, sssd) resolve like those in /etc/group. Done
 * when the daemon starts and on each reload; a peer's membership is then read from the kernel
 * (peer-credentials-linux.ts), never looked up by a name the client gives.
 *
 * Recorded here with getent from glibc 2.36 on Debian 12 (test/fixtures/linux/getent-group/):
 *   adm:x:4:
 *   root:x:0:
 * Fields: name, password, gid, members (comma separated; ignored: membership comes from the kernel).
 * A name that does not exist: no output, exit 2.
 */
import type { CommandOutcome, CommandRequest } from '../../host/host.js';

export const GETENT_PATH = '/usr/bin/getent';

export interface ResolvedAdminGroups {
  gids: Set<number>;
  /** Names that name no group (or could not be looked up), with why: nobody is admitted by them. */
  unresolved: Array<{ name: string; detail: string }>;
}

/** The gid in one line of `getent group NAME` for that name, or undefined. */
export function parseGetentGroup(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
  const gid = line?.split(':')[2];
  if (gid === undefined || !/^\d{1,10}$/.test(gid)) return undefined;
  const value = Number(gid);
  return value <= 0xffffffff ? value : undefined;
}

export async function resolveAdminGroups(
  names: readonly string[],
  run: (request: CommandRequest) => Promise<CommandOutcome>,
  getentPath: string = GETENT_PATH,
): Promise<ResolvedAdminGroups> {
  const resolved: ResolvedAdminGroups = { gids: new Set(), unresolved: [] };
  for (const name of names) {
    // `--` ends getent's options; config validation already refuses names that start with "-".
    const outcome = await run({ command: getentPath, args: ['group', '--', name], timeoutMs: 5_000 });
    if (!outcome.ok) {
      resolved.unresolved.push({ name, detail: `${outcome.error}: ${outcome.detail}` });
      continue;
    }
    const gid = outcome.exitCode === 0 ? parseGetentGroup(outcome.stdout, name) : undefined;
    if (gid === undefined)
      resolved.unresolved.push({
        name,
        detail: outcome.exitCode === 2 ? 'no such group' : `getent exited ${outcome.exitCode}`,
      });
    else resolved.gids.add(gid);
  }
  return resolved;
}

/**
 * The administrator group ids for the daemon, from `adminGroups`: on Linux resolved through getent,
 * each name that resolves to nothing logged as a problem; on other systems none (the peer's groups
 * are not known there: docs/local-api.md), logged once when the setting asks for some.
 */
export async function adminGidsFor(options: {
  names: readonly string[];
  platform: string;
  run: (request: CommandRequest) => Promise<CommandOutcome>;
  log: (event: 'problem', fields: Record<string, unknown>) => void;
}): Promise<Set<number>> {
  if (options.names.length === 0) return new Set();
  if (options.platform !== 'linux') {
    options.log('problem', {
      code: 'admin_groups_unsupported',
      detail: `adminGroups is not supported on ${options.platform}: only root is an administrator`,
    });
    return new Set();
  }
  const { gids, unresolved } = await resolveAdminGroups(options.names, options.run);
  for (const { name, detail } of unresolved)
    options.log('problem', { code: 'admin_group_unresolved', group: name, detail });
  return gids;
}
