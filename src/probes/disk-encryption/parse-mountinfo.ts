/**
 * /proc/self/mountinfo (proc(5)): one mount per line,
 *   "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard"
 *   mount-id parent-id major:minor root mount-point options [optional fields…] - fstype source super-options
 * Paths escape space, tab, newline and backslash as octal (\040). Btrfs reports an anonymous
 * 0:N device, so the source is needed to find its block device.
 */
import { UnexpectedOutputError } from '../types.js';

export interface MountEntry {
  majMin: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    const majMin = fields[2];
    const mountPoint = fields[4];
    const fsType = fields[dash + 1];
    const source = fields[dash + 2];
    if (dash < 0 || !majMin || !/^\d+:\d+$/.test(majMin) || !mountPoint || !fsType || source === undefined) {
      throw new UnexpectedOutputError(`mountinfo line not understood: ${line.slice(0, 120)}`);
    }
    entries.push({ majMin, mountPoint: unescapeOctal(mountPoint), fsType, source: unescapeOctal(source) });
  }
  if (entries.length === 0) throw new UnexpectedOutputError('mountinfo is empty');
  return entries;
}

export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The mount that holds `path`: the last-mounted entry with the longest mount point that is a prefix of it. */
export function mountFor(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const inside = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}
