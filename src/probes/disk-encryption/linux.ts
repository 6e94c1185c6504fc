/**
 * Linux disk encryption: lsblk's device tree, /proc/self/mountinfo, /proc/swaps, dm uuids in sysfs.
 * No root needed; as root (the agent service) `dmsetup table` also shows each crypt device's cipher
 * and segments, which catches cipher_null and a LUKS2 encryption still in progress.
 */
import type { Probe, ProbeContext } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import type { BlockNode } from './parse-lsblk.js';
import type { DmSegment } from './parse-dmsetup-table.js';
import { parseDmsetupTable } from './parse-dmsetup-table.js';
import { parseLsblkJson, pathsTo } from './parse-lsblk.js';
import { parseMountinfo } from './parse-mountinfo.js';
import { parseProcSwaps } from './parse-proc-swaps.js';
import { parseZfsGet } from './parse-zfs.js';
import type { ZfsEncryption } from './trace-linux.js';
import { traceDataVolumes } from './trace-linux.js';

export const LSBLK = ['/usr/bin/lsblk', '/bin/lsblk'];
export const LSBLK_ARGS = ['-J', '-o', 'NAME,KNAME,MAJ:MIN,TYPE,FSTYPE,UUID,MOUNTPOINT'];
const ZFS = ['/usr/sbin/zfs', '/sbin/zfs', '/usr/local/sbin/zfs'];
const DMSETUP = ['/usr/sbin/dmsetup', '/sbin/dmsetup'];

export const linuxDiskEncryption: Probe<'disk_encryption'> = {
  check: 'disk_encryption',
  platform: 'linux',
  async collect(ctx) {
    const mountinfo = await ctx.readFile('/proc/self/mountinfo');
    if (!mountinfo.ok) return ctx.unknownFrom(mountinfo);
    const lsblk = await ctx.runFirst(LSBLK, LSBLK_ARGS);
    if (!lsblk.ok) return ctx.unknownFrom(lsblk);
    if (lsblk.exitCode !== 0)
      return ctx.unknown(
        'unexpected_output',
        `lsblk exited with ${lsblk.exitCode}: ${lsblk.stderr.trim().slice(0, 200)}`,
      );
    try {
      const tree = parseLsblkJson(lsblk.stdout);
      const mounts = parseMountinfo(mountinfo.content);
      const swapsFile = await ctx.readFile('/proc/swaps');
      const swaps = swapsFile.ok ? parseProcSwaps(swapsFile.content) : undefined;
      const dmUuids = await readCryptUuids(ctx, tree);
      const dmTables = dmUuids.size > 0 ? await readDmTables(ctx) : undefined;
      const zfsDatasets = mounts
        .filter((m) => m.fsType === 'zfs' && ['/', '/home'].includes(m.mountPoint))
        .map((m) => m.source);
      const zfs = zfsDatasets.length > 0 ? await readZfs(ctx, zfsDatasets) : undefined;
      return ctx.observed({
        volumes: traceDataVolumes({
          tree,
          mounts,
          ...(swaps ? { swaps } : {}),
          dmUuids,
          ...(dmTables ? { dmTables } : {}),
          ...(zfs ? { zfs } : {}),
        }),
      });
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};

async function readCryptUuids(ctx: ProbeContext, tree: readonly BlockNode[]): Promise<Map<string, string>> {
  const crypts = pathsTo(tree, (n) => n.type === 'crypt').map((p) => p[p.length - 1]);
  const uuids = new Map<string, string>();
  for (const node of crypts) {
    if (!node?.majMin || uuids.has(node.majMin)) continue;
    const file = await ctx.readFile(`/sys/dev/block/${node.majMin}/dm/uuid`);
    if (file.ok) uuids.set(node.majMin, file.content.trim());
  }
  return uuids;
}

/** Root only; without it (exit 1, "Permission denied") the dm uuids alone decide. */
async function readDmTables(ctx: ProbeContext): Promise<Map<string, DmSegment[]> | undefined> {
  const out = await ctx.runFirst(DMSETUP, ['table']);
  if (!out.ok || out.exitCode !== 0) return undefined;
  return parseDmsetupTable(out.stdout);
}

async function readZfs(
  ctx: ProbeContext,
  datasets: string[],
): Promise<Map<string, ZfsEncryption> | undefined> {
  const out = await ctx.runFirst(ZFS, [
    'get',
    '-H',
    '-o',
    'name,property,value',
    'encryption,keystatus',
    ...datasets,
  ]);
  if (!out.ok || out.exitCode !== 0) return undefined;
  return parseZfsGet(out.stdout);
}
