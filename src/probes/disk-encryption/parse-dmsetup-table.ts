/**
 * `dmsetup table` (device-mapper, needs root): every device's table, one segment a line, prefixed
 * with the device name (lvm2 2.03.16 / Debian 12, recorded under qemu):
 *   cr_root: 0 421888 crypt aes-xts-plain64 :64:logon:cryptsetup:58fe…-d0 0 254:2 32768
 *   vg0-root: 0 131072 linear 253:0 2048
 * The crypt key is never printed without --showkeys: LUKS2 shows its kernel-keyring reference,
 * LUKS1 and plain mode zeros. "No devices found" when there is none.
 */
import { UnexpectedOutputError } from '../types.js';

export interface DmSegment {
  target: string;
  /** For a crypt segment, the cipher spec ("aes-xts-plain64", "capi:…", "cipher_null-ecb"). */
  cipher?: string;
}

export function parseDmsetupTable(text: string): Map<string, DmSegment[]> {
  const tables = new Map<string, DmSegment[]>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim() === 'No devices found') continue;
    const m = /^(\S+): (\d+) (\d+) (\S+)(?: (\S+))?/.exec(line);
    if (!m) throw new UnexpectedOutputError(`dmsetup table line not understood: ${line.slice(0, 120)}`);
    const [, name = '', , , target = '', first] = m;
    const segment: DmSegment = target === 'crypt' && first ? { target, cipher: first } : { target };
    tables.set(name, [...(tables.get(name) ?? []), segment]);
  }
  return tables;
}
