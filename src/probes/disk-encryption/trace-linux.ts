/**
 * Linux: is each volume that holds data (/, a separate /home, every swap area) on dm-crypt?
 * Traced down the block-device tree from the filesystem to the disk, through LVM and other
 * device-mapper layers. Encrypted only when every path down from the volume passes through a
 * crypt layer. Another disk being encrypted says nothing about these. Pure: the probe reads
 * lsblk, mountinfo, /proc/swaps and the dm uuids, this decides.
 */
import type { VolumeEncryption } from '../../shared/posture.js';
import type { BlockNode } from './parse-lsblk.js';
import { pathsTo } from './parse-lsblk.js';
import type { MountEntry } from './parse-mountinfo.js';
import { mountFor } from './parse-mountinfo.js';
import type { SwapArea } from './parse-proc-swaps.js';

export interface ZfsEncryption {
  encryption: string;
  keyStatus?: string;
}

export interface TraceInput {
  tree: readonly BlockNode[];
  /** From /proc/self/mountinfo; absent: mount points are taken from lsblk. */
  mounts?: readonly MountEntry[];
  /** From /proc/swaps; absent: swap areas are the devices lsblk shows as [SWAP]. */
  swaps?: readonly SwapArea[];
  /** /sys/dev/block/<maj:min>/dm/uuid of crypt devices, by maj:min or kname. */
  dmUuids?: ReadonlyMap<string, string>;
  /** `zfs get encryption,keystatus` per dataset. */
  zfs?: ReadonlyMap<string, ZfsEncryption>;
}

const NOT_PERSISTENT_FS = new Set(['tmpfs', 'ramfs']);
const UNTRACEABLE_FS = /^(overlay|aufs|nfs4?|cifs|smb3|9p|virtiofs|fuse.*|squashfs|devtmpfs)$/;

/** The targets the policy cares about: "/", "/home" when it is a mount of its own, and swap. */
export function traceDataVolumes(input: TraceInput): VolumeEncryption[] {
  const volumes: VolumeEncryption[] = [];
  volumes.push(traceMountPoint(input, '/', 'system'));
  const home = input.mounts ? mountFor(input.mounts, '/home') : undefined;
  if (input.mounts ? home?.mountPoint === '/home' : nodesMountedAt(input.tree, '/home').length > 0) {
    volumes.push(traceMountPoint(input, '/home', 'home'));
  }
  volumes.push(...traceSwaps(input));
  return volumes;
}

function traceMountPoint(
  input: TraceInput,
  mountPoint: string,
  role: VolumeEncryption['role'],
): VolumeEncryption {
  if (!input.mounts) {
    const paths = pathsTo(input.tree, (n) => n.mountPoints.includes(mountPoint));
    return fromPaths(input, { id: mountPoint, role }, paths, mountPoint);
  }
  const mount = mountFor(input.mounts, mountPoint);
  if (!mount) {
    return {
      id: mountPoint,
      role,
      state: 'unknown',
      reason: 'unexpected_output',
      detail: `no mount holds ${mountPoint}`,
    };
  }
  return traceMount(input, mount, { id: mountPoint, role });
}

function traceMount(
  input: TraceInput,
  mount: MountEntry,
  base: Pick<VolumeEncryption, 'id' | 'role'>,
): VolumeEncryption {
  if (NOT_PERSISTENT_FS.has(mount.fsType)) {
    return {
      ...base,
      device: mount.source,
      state: 'not_persistent',
      detail: `${mount.fsType} lives in memory only`,
    };
  }
  if (mount.fsType === 'zfs') return traceZfs(input, mount, base);
  if (UNTRACEABLE_FS.test(mount.fsType)) {
    return {
      ...base,
      device: mount.source,
      state: 'unknown',
      reason: 'unsupported_platform',
      detail: `${base.id} is on ${mount.fsType} (a container, live system or network filesystem); the disk beneath it cannot be seen from here`,
    };
  }
  const paths = pathsTo(input.tree, nodeMatcher(mount));
  return fromPaths(input, { ...base, device: mount.source }, paths, mount.source);
}

function nodeMatcher(mount: MountEntry): (n: BlockNode) => boolean {
  // Btrfs and some others report an anonymous 0:N device number; use the mount source then.
  if (!mount.majMin.startsWith('0:'))
    return (n) => n.majMin === mount.majMin || (n.majMin === undefined && matchesSource(n, mount.source));
  return (n) => matchesSource(n, mount.source);
}

function matchesSource(n: BlockNode, source: string): boolean {
  const name = source.startsWith('/dev/mapper/')
    ? source.slice('/dev/mapper/'.length)
    : source.startsWith('/dev/')
      ? source.slice(5)
      : undefined;
  return name !== undefined && (n.name === name || n.kname === name);
}

function fromPaths(
  input: TraceInput,
  base: Omit<VolumeEncryption, 'state'>,
  paths: BlockNode[][],
  what: string,
): VolumeEncryption {
  if (paths.length === 0) {
    return {
      ...base,
      state: 'unknown',
      reason: 'unexpected_output',
      detail: `block device of ${what} not found in lsblk output`,
    };
  }
  const first = paths[0] ?? [];
  const stack = [...first].reverse().map((n) => `${n.name} (${n.type})`);
  const cryptOnEveryPath = paths.every((p) => p.some((n) => n.type === 'crypt'));
  if (!cryptOnEveryPath) {
    const plain = paths.find((p) => !p.some((n) => n.type === 'crypt')) ?? first;
    return { ...base, state: 'unencrypted', stack: [...plain].reverse().map((n) => `${n.name} (${n.type})`) };
  }
  const trail = [...first].reverse();
  const cryptIndex = trail.findIndex((n) => n.type === 'crypt');
  const crypt = trail[cryptIndex];
  const below = trail[cryptIndex + 1];
  return { ...base, state: 'encrypted', method: cryptMethod(input, crypt, below), stack };
}

function cryptMethod(input: TraceInput, crypt: BlockNode | undefined, below: BlockNode | undefined): string {
  const uuid = crypt
    ? (input.dmUuids?.get(crypt.majMin ?? '') ?? input.dmUuids?.get(crypt.kname ?? crypt.name))
    : undefined;
  // dm uuid of a crypt target: "CRYPT-LUKS2-<uuid>-<name>", "CRYPT-LUKS1-…", "CRYPT-PLAIN-<name>", "CRYPT-BITLK-…", "CRYPT-TCRYPT-…".
  const kind = uuid ? /^CRYPT-([A-Z0-9]+)-/.exec(uuid)?.[1] : undefined;
  if (kind)
    return kind === 'BITLK' ? 'BitLocker (dm-crypt)' : kind === 'TCRYPT' ? 'TrueCrypt/VeraCrypt' : kind;
  if (below?.fsType === 'crypto_LUKS') return below.fsVer ? `LUKS${below.fsVer}` : 'LUKS';
  return 'dm-crypt';
}

function traceZfs(
  input: TraceInput,
  mount: MountEntry,
  base: Pick<VolumeEncryption, 'id' | 'role'>,
): VolumeEncryption {
  const z = input.zfs?.get(mount.source);
  if (!z) {
    return {
      ...base,
      device: mount.source,
      state: 'unknown',
      reason: 'command_missing',
      detail: `ZFS dataset ${mount.source}: encryption property not read`,
    };
  }
  if (z.encryption === 'off') {
    // The pool may still sit on LUKS devices; that is not traced yet, so this is not called unencrypted.
    return {
      ...base,
      device: mount.source,
      state: 'unknown',
      reason: 'unsupported_platform',
      detail: `ZFS native encryption is off for ${mount.source}; whether the pool's disks are on LUKS is not traced yet`,
    };
  }
  if (z.keyStatus !== undefined && z.keyStatus !== 'available') {
    return {
      ...base,
      device: mount.source,
      state: 'unknown',
      reason: 'unexpected_output',
      detail: `ZFS key status is "${z.keyStatus}"`,
    };
  }
  return { ...base, device: mount.source, state: 'encrypted', method: `ZFS ${z.encryption}` };
}

function nodesMountedAt(tree: readonly BlockNode[], mountPoint: string): BlockNode[][] {
  return pathsTo(tree, (n) => n.mountPoints.includes(mountPoint));
}

function traceSwaps(input: TraceInput): VolumeEncryption[] {
  if (!input.swaps) {
    const paths = nodesMountedAt(input.tree, '[SWAP]');
    const byName = new Map<string, BlockNode[][]>();
    for (const p of paths) {
      const leaf = p[p.length - 1];
      if (leaf) byName.set(leaf.name, [...(byName.get(leaf.name) ?? []), p]);
    }
    return [...byName.entries()].map(([name, ps]) =>
      name.startsWith('zram')
        ? {
            id: `[SWAP] ${name}`,
            role: 'swap' as const,
            device: name,
            state: 'not_persistent' as const,
            detail: 'zram swap lives in compressed memory',
          }
        : fromPaths(input, { id: `[SWAP] ${name}`, role: 'swap', device: name }, ps, name),
    );
  }
  return input.swaps.map((swap) => {
    const base = { id: `[SWAP] ${swap.path}`, role: 'swap' as const };
    if (/^\/dev\/zram\d+$/.test(swap.path)) {
      return {
        ...base,
        device: swap.path,
        state: 'not_persistent' as const,
        detail: 'zram swap lives in compressed memory',
      };
    }
    if (swap.type === 'file') {
      const mount = input.mounts ? mountFor(input.mounts, swap.path) : undefined;
      if (!mount)
        return {
          ...base,
          state: 'unknown' as const,
          reason: 'unexpected_output' as const,
          detail: `no mount holds ${swap.path}`,
        };
      return traceMount(input, mount, base);
    }
    const paths = pathsTo(input.tree, (n) => matchesSource(n, swap.path));
    return fromPaths(input, { ...base, device: swap.path }, paths, swap.path);
  });
}
