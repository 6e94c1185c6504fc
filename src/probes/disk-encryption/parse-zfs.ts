/**
 * `zfs get -H -o name,property,value encryption,keystatus <dataset>` (OpenZFS ≥ 0.8): tab-separated
 *   rpool/ROOT/ubuntu	encryption	aes-256-gcm
 *   rpool/ROOT/ubuntu	keystatus	available
 * keystatus is "-" for unencrypted datasets. Without -H the same columns come space-aligned under a
 * "NAME PROPERTY VALUE SOURCE" header; both are read, and other properties are ignored.
 */
import { UnexpectedOutputError } from '../types.js';
import type { ZfsEncryption } from './trace-linux.js';

export function parseZfsGet(text: string): Map<string, ZfsEncryption> {
  const result = new Map<string, ZfsEncryption>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || /^NAME\s+PROPERTY\s+VALUE/.test(line)) continue;
    const [name, property, value] = line.includes('\t') ? line.split('\t') : line.trim().split(/\s+/);
    if (!name || !property || value === undefined)
      throw new UnexpectedOutputError(`zfs get line not understood: ${line.slice(0, 120)}`);
    const entry = result.get(name) ?? { encryption: '' };
    if (property === 'encryption') entry.encryption = value;
    else if (property === 'keystatus' && value !== '-') entry.keyStatus = value;
    else continue;
    result.set(name, entry);
  }
  for (const [name, entry] of result) {
    if (!entry.encryption)
      throw new UnexpectedOutputError(`zfs get printed no encryption property for ${name}`);
  }
  return result;
}
