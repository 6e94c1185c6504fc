/**
 * `lsblk -J` (util-linux): {"blockdevices": [ {name, type, mountpoint | mountpoints, children: […]} ]}.
 * The tree nests each device under the device it sits on: disk → part → crypt → lvm.
 * util-linux ≥ 2.37 prints "mountpoints" (an array, [null] when unmounted); older versions
 * "mountpoint" (a string or null). "maj:min", "kname", "fstype", "uuid" appear when asked for.
 * Without root, lsblk takes "fstype" and "uuid" from the udev database (/run/udev/data).
 * A device on several parents (LVM across PVs, RAID) appears once under each parent.
 */
import { UnexpectedOutputError } from '../types.js';

export interface BlockNode {
  name: string;
  kname?: string;
  majMin?: string;
  type: string;
  fsType?: string;
  fsVer?: string;
  /** The filesystem (or LUKS, LVM PV…) UUID; shared by every member of a multi-device btrfs. */
  uuid?: string;
  mountPoints: string[];
  children: BlockNode[];
}

export function parseLsblkJson(text: string): BlockNode[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UnexpectedOutputError('lsblk did not print JSON');
  }
  const devices = (data as { blockdevices?: unknown })?.blockdevices;
  if (!Array.isArray(devices)) throw new UnexpectedOutputError('lsblk JSON has no "blockdevices" array');
  return devices.map(toNode);
}

function toNode(raw: unknown): BlockNode {
  if (raw === null || typeof raw !== 'object')
    throw new UnexpectedOutputError('lsblk device is not an object');
  const r = raw as Record<string, unknown>;
  const name = str(r.name);
  const type = str(r.type);
  if (!name || !type) throw new UnexpectedOutputError('lsblk device lacks "name" or "type"');
  const mountPoints = [
    ...(Array.isArray(r.mountpoints) ? r.mountpoints : []),
    ...(r.mountpoint === undefined ? [] : [r.mountpoint]),
  ].filter((m): m is string => typeof m === 'string' && m !== '');
  const node: BlockNode = {
    name,
    type,
    mountPoints: [...new Set(mountPoints)],
    children: Array.isArray(r.children) ? r.children.map(toNode) : [],
  };
  const kname = str(r.kname);
  if (kname) node.kname = kname;
  const majMin = str(r['maj:min']);
  if (majMin) node.majMin = majMin;
  const fsType = str(r.fstype);
  if (fsType) node.fsType = fsType;
  const fsVer = str(r.fsver);
  if (fsVer) node.fsVer = fsVer;
  const uuid = str(r.uuid);
  if (uuid) node.uuid = uuid;
  return node;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Every path from a top-level device down to a node that matches, as lists [top, …, match]. */
export function pathsTo(roots: readonly BlockNode[], matches: (n: BlockNode) => boolean): BlockNode[][] {
  const found: BlockNode[][] = [];
  const walk = (node: BlockNode, trail: BlockNode[]) => {
    const here = [...trail, node];
    if (matches(node)) found.push(here);
    for (const child of node.children) walk(child, here);
  };
  for (const root of roots) walk(root, []);
  return found;
}
