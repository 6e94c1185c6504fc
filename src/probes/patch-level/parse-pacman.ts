/**
 * `pacman -Qu` (Arch; compares installed packages with the local sync databases, no network):
 *   linux 6.1.1.arch1-1 -> 6.1.2.arch1-1
 * `checkupdates` prints the same format. Exit 1 with no output means nothing to upgrade.
 * Arch publishes no machine-readable security flag with packages, so security is unknown.
 */
import type { PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export function parsePacmanUpgradable(text: string): PendingUpdate[] {
  const updates: PendingUpdate[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const match = /^(\S+) (\S+) -> (\S+)(?: \[ignored\])?$/.exec(line);
    if (!match?.[1] || !match[3])
      throw new UnexpectedOutputError(`pacman -Qu line not understood: ${line.slice(0, 120)}`);
    updates.push({ name: match[1], version: match[3], security: false });
  }
  return updates;
}
