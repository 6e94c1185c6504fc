/**
 * Linux: is each volume that holds data (/, a separate /home, every swap area) on dm-crypt?
 * Traced down the block-device tree from the filesystem to the disks, through LVM, md RAID and
 * other device-mapper layers, and to every member of a multi-device btrfs. Encrypted only when
 * every path down from the volume passes through a dm-crypt layer, told apart from the other
 * "crypt" nodes (dm-integrity, dm-verity) by its dm uuid. Another disk being encrypted says
 * nothing about these. Checked on a real kernel by scripts/qemu-disk (docs/checks.md). Pure: the
 * probe reads lsblk, mountinfo, /proc/swaps and the dm uuids, this decides.
 */
import type { VolumeEncryption } from '../../shared/posture.js';
import type { DmSegment } from './parse-dmsetup-table.js';
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
  /** `dmsetup table` by dm name (root only): each crypt device's cipher and segments. */
  dmTables?: ReadonlyMap<string, readonly DmSegment[]>;
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
    if (paths.some((p) => p[p.length - 1]?.fsType === 'btrfs'))
      return traceBtrfs(input, { id: mountPoint, role }, paths, mountPoint);
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
  if (mount.fsType === 'btrfs')
    return traceBtrfs(input, { ...base, device: mount.source }, paths, mount.source);
  return fromPaths(input, { ...base, device: mount.source }, paths, mount.source);
}

/**
 * A btrfs filesystem can span several devices (`mkfs.btrfs -d raid1 A B`, `btrfs device add`),
 * and mountinfo and lsblk name only one of them. Every device lsblk shows with the same btrfs UUID
 * holds data of the volume, so every one of them must be on an encrypting layer.
 */
function traceBtrfs(
  input: TraceInput,
  base: Omit<VolumeEncryption, 'state'>,
  paths: BlockNode[][],
  what: string,
): VolumeEncryption {
  const uuids = new Set(paths.map((p) => p[p.length - 1]?.uuid));
  const [uuid] = uuids;
  if (paths.length === 0) return fromPaths(input, base, paths, what);
  if (uuids.size !== 1 || uuid === undefined) {
    return {
      ...base,
      state: 'unknown',
      reason: 'unexpected_output',
      detail: `${what} is btrfs, which can span several devices, and lsblk shows no filesystem UUID to find them by`,
    };
  }
  const members = pathsTo(input.tree, (n) => n.fsType === 'btrfs' && n.uuid === uuid);
  return fromPaths(input, base, members, what);
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
  const stackOf = (p: BlockNode[]) => [...p].reverse().map((n) => `${n.name} (${n.type})`);
  const judged = [...paths, ...snapshotStores(input.tree, paths)].map((p) => ({
    path: p,
    layer: encryptingLayer(input, p),
  }));
  const plain = judged.find((j) => j.layer.kind === 'none');
  if (plain?.layer.kind === 'none') {
    const detail = plain.layer.detail;
    return { ...base, state: 'unencrypted', stack: stackOf(plain.path), ...(detail ? { detail } : {}) };
  }
  const undecided = judged.find((j) => j.layer.kind === 'undecided');
  if (undecided?.layer.kind === 'undecided') {
    return {
      ...base,
      state: 'unknown',
      reason: 'unexpected_output',
      detail: undecided.layer.detail,
      stack: stackOf(undecided.path),
    };
  }
  const first = judged[0];
  const method = first?.layer.kind === 'encrypted' ? first.layer.method : 'dm-crypt';
  return { ...base, state: 'encrypted', method, stack: stackOf(first?.path ?? []) };
}

/**
 * A classic LVM snapshot (`lvcreate -s`) turns its origin LV "vg-root" into a snapshot-origin over
 * "vg-root-real", and the snapshot "vg-root_snap" reads "vg-root-real" plus its copy-on-write store
 * "vg-root_snap-cow". Every first write to a block of the origin copies the old content into that
 * store, so the store holds the volume's data too. lsblk (util-linux 2.38):
 *   cr_pv (crypt) → vgs-root-real (lvm) → vgs-root (lvm) /, vgs-root_snap (lvm)
 *   vdb (disk) → vgs-root_snap-cow (lvm) → vgs-root_snap (lvm)
 * Returns every path down from the snapshots of the origins on these paths.
 */
function snapshotStores(tree: readonly BlockNode[], paths: BlockNode[][]): BlockNode[][] {
  const snapshots = new Set<string>();
  for (const path of paths) {
    path.forEach((node, i) => {
      if (node.type !== 'lvm' || !node.name.endsWith('-real')) return;
      const own = path[i + 1]?.name;
      for (const child of node.children) if (child.name !== own) snapshots.add(child.name);
    });
  }
  return [...snapshots].flatMap((name) => pathsTo(tree, (n) => n.name === name));
}

type Layer =
  | { kind: 'encrypted'; method: string }
  | { kind: 'none'; detail?: string }
  | { kind: 'undecided'; detail: string };

/**
 * lsblk calls every device-mapper node whose dm uuid starts with "CRYPT-" a "crypt", and cryptsetup
 * gives that prefix to more than dm-crypt: "CRYPT-INTEGRITY-…" (integritysetup: checksums, no
 * encryption), "CRYPT-VERITY-…" (veritysetup: a verified read-only image), "CRYPT-SUBDEV-…" (the
 * dm-integrity device beneath a LUKS2 volume with --integrity). Only these kinds encrypt:
 * "CRYPT-LUKS1-<uuid>-<name>", "CRYPT-LUKS2-…", "CRYPT-PLAIN-<name>", "CRYPT-BITLK-…",
 * "CRYPT-TCRYPT-…", "CRYPT-LOOPAES-…", "CRYPT-FVAULT2-…" (cryptsetup 2.6.1, lib/setup.c).
 */
const ENCRYPTING_KINDS: Record<string, string> = {
  LUKS1: 'LUKS1',
  LUKS2: 'LUKS2',
  PLAIN: 'PLAIN',
  BITLK: 'BitLocker (dm-crypt)',
  TCRYPT: 'TrueCrypt/VeraCrypt',
  LOOPAES: 'loop-AES',
  FVAULT2: 'FileVault 2 (dm-crypt)',
};
const NOT_ENCRYPTING_KINDS = new Set(['INTEGRITY', 'VERITY', 'SUBDEV']);

/** The top-most encrypting layer of one path (from the disk up to the volume), if any. */
function encryptingLayer(input: TraceInput, path: BlockNode[]): Layer {
  let undecided: string | undefined;
  let plainDetail: string | undefined;
  for (let i = path.length - 1; i >= 0; i--) {
    const node = path[i];
    if (!node || node.type !== 'crypt') continue;
    const verdict = checkedByTable(input, node, cryptKind(input, node, path[i - 1]));
    if (verdict.kind === 'encrypted') return verdict;
    if (verdict.kind === 'undecided') undecided ??= verdict.detail;
    else plainDetail ??= verdict.detail;
  }
  if (undecided !== undefined) return { kind: 'undecided', detail: undecided };
  return plainDetail === undefined ? { kind: 'none' } : { kind: 'none', detail: plainDetail };
}

/**
 * With `dmsetup table` (root), a dm-crypt layer must also be dm-crypt all the way through, with a
 * real cipher: "cipher_null-ecb" encrypts nothing (`cryptsetup luksFormat --cipher cipher_null-ecb`
 * still gives a CRYPT-LUKS2 uuid), and a table mixing crypt with linear segments is a LUKS2 volume
 * whose online encryption or decryption has not finished: part of it is in the clear.
 */
function checkedByTable(input: TraceInput, crypt: BlockNode, verdict: Layer): Layer {
  if (verdict.kind !== 'encrypted' || !input.dmTables) return verdict;
  const segments = input.dmTables.get(crypt.name) ?? input.dmTables.get(crypt.kname ?? '');
  if (!segments || segments.length === 0)
    return { kind: 'undecided', detail: `${crypt.name}: not in dmsetup table` };
  if (segments.some((s) => s.target !== 'crypt'))
    return {
      kind: 'none',
      detail: `${crypt.name}: only part of it is dm-crypt (encryption or decryption in progress)`,
    };
  if (segments.some((s) => s.cipher?.startsWith('cipher_null')))
    return { kind: 'none', detail: `${crypt.name}: dm-crypt with cipher_null encrypts nothing` };
  return verdict;
}

function cryptKind(input: TraceInput, crypt: BlockNode, below: BlockNode | undefined): Layer {
  const uuid = input.dmUuids?.get(crypt.majMin ?? '') ?? input.dmUuids?.get(crypt.kname ?? crypt.name);
  if (uuid !== undefined) {
    const kind = /^CRYPT-([A-Z0-9]+)-/.exec(uuid)?.[1];
    if (kind && ENCRYPTING_KINDS[kind]) return { kind: 'encrypted', method: ENCRYPTING_KINDS[kind] };
    if (kind && NOT_ENCRYPTING_KINDS.has(kind)) return { kind: 'none' };
    return {
      kind: 'undecided',
      detail: `${crypt.name}: dm uuid "${uuid.slice(0, 40)}" is not a known dm-crypt kind`,
    };
  }
  // No dm uuid: a LUKS header right beneath still proves dm-crypt; anything else could be
  // dm-integrity or dm-verity, which lsblk shows as "crypt" too.
  if (below?.fsType === 'crypto_LUKS')
    return { kind: 'encrypted', method: below.fsVer ? `LUKS${below.fsVer}` : 'LUKS' };
  return {
    kind: 'undecided',
    detail: `${crypt.name}: the dm uuid was not read, so dm-crypt cannot be told from dm-integrity or dm-verity`,
  };
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
