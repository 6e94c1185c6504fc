/**
 * `apt-get -s -o Debug::NoLocking=1 dist-upgrade` (simulation; no root needed, no network):
 *   Inst libssl3 [3.0.2-0ubuntu1.10] (3.0.2-0ubuntu1.12 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
 *   Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.7/stable-updates [all])
 *   0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
 * An update is a security update when one of the archives offering that version is a "-security"
 * suite (Debian-Security:12/stable-security, Ubuntu:22.04/jammy-security).
 */
import type { PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export function parseAptSimulation(text: string): PendingUpdate[] {
  const summary = /^\d+ upgraded, \d+ newly installed, \d+ to remove and \d+ not upgraded\.$/m.test(text);
  // `-qq` drops the summary; then the Inst/Conf lines themselves show apt answered.
  if (!summary && !/^(Inst|Conf) /m.test(text)) {
    throw new UnexpectedOutputError(
      'apt-get -s printed neither Inst lines nor the "N upgraded, N newly installed…" summary',
    );
  }
  const updates: PendingUpdate[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('Inst ')) continue;
    const match = /^Inst (\S+)(?: \[([^\]]*)\])? \((\S+) (.*)\)/.exec(line);
    if (!match?.[1] || !match[3])
      throw new UnexpectedOutputError(`apt-get -s line not understood: ${line.slice(0, 120)}`);
    const sources = (match[4] ?? '').replace(/\s*\[[^\]]*\]\s*$/, '').split(/,\s*/);
    updates.push({
      name: match[1],
      version: match[3],
      security: sources.some((s) => /-security$|^[^:]*Security:/i.test(s.trim())),
    });
  }
  return updates;
}
