/**
 * /proc/swaps: a header, then "Filename Type Size Used Priority" per active swap area.
 *   /dev/dm-1                               partition	8388604		0		-2
 *   /swapfile                               file		2097148		0		-3
 *   /dev/zram0                              partition	8388604		0		100
 */
import { UnexpectedOutputError } from '../types.js';
import { unescapeOctal } from './parse-mountinfo.js';

export interface SwapArea {
  path: string;
  type: 'partition' | 'file';
}

export function parseProcSwaps(text: string): SwapArea[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0 || !/^Filename\s+Type/.test(lines[0] ?? '')) {
    throw new UnexpectedOutputError('/proc/swaps has no "Filename Type" header');
  }
  return lines.slice(1).map((line) => {
    const [path, type] = line.trim().split(/\s+/);
    if (!path || (type !== 'partition' && type !== 'file')) {
      throw new UnexpectedOutputError(`/proc/swaps line not understood: ${line.slice(0, 120)}`);
    }
    return { path: unescapeOctal(path), type };
  });
}
