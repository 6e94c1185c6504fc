/**
 * dnf (Fedora, RHEL 8+, and yum on RHEL 7 with the same formats):
 * `dnf -C -q check-update`: exit 0 none, exit 100 updates, 1 error; one "name.arch  version  repo" per line,
 *   possibly followed by "Obsoleting Packages". Long names wrap the rest onto the next line.
 * `dnf -C -q updateinfo list --security`: "FEDORA-2021-83fdddca0f Moderate/Sec.  curl-7.76.1-7.fc34.x86_64"
 * `needs-restarting -r`: exit 1 and "Reboot is required…", exit 0 and "Reboot should not be necessary."
 */
import type { PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

const INFO_LINE =
  /^(Last metadata expiration check|Updating Subscription Management|This system is|Security:|Waiting for process)/;

export function parseDnfCheckUpdate(text: string, exitCode: number | null): PendingUpdate[] {
  if (exitCode === 0) return [];
  if (exitCode !== 100) throw new UnexpectedOutputError(`dnf check-update exited with ${exitCode}`);
  const updates: PendingUpdate[] = [];
  let carry = '';
  for (const raw of text.split('\n')) {
    if (/^Obsoleting Packages/.test(raw)) break;
    const line = (carry + ' ' + raw).trim();
    if (line === '' || INFO_LINE.test(line)) {
      carry = '';
      continue;
    }
    const fields = line.split(/\s+/);
    if (fields.length < 3) {
      carry = line; // the name was too long and the rest is on the next line
      continue;
    }
    carry = '';
    const [nameArch, version] = fields;
    if (!nameArch || !version || !nameArch.includes('.'))
      throw new UnexpectedOutputError(`dnf check-update line not understood: ${raw.slice(0, 120)}`);
    updates.push({ name: nameArch.slice(0, nameArch.lastIndexOf('.')), version, security: false });
  }
  if (updates.length === 0)
    throw new UnexpectedOutputError('dnf check-update said updates exist (exit 100) but listed none');
  return updates;
}

/** The names of packages with a pending security advisory. */
export function parseDnfSecurityList(text: string): Set<string> {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || INFO_LINE.test(line)) continue;
    const match = /^(\S+)\s+(\S+\/Sec\.|security)\s+(\S+)/i.exec(line);
    if (!match?.[3])
      throw new UnexpectedOutputError(`dnf updateinfo line not understood: ${line.slice(0, 120)}`);
    names.add(nvraName(match[3]));
  }
  return names;
}

/** "dhcp-client-12:4.4.2-11.b1.fc34.x86_64" → "dhcp-client": drop release, version (with epoch) and arch. */
export function nvraName(nvra: string): string {
  const parts = nvra.split('-');
  return parts.length > 2 ? parts.slice(0, -2).join('-') : nvra;
}

export function parseNeedsRestarting(text: string, exitCode: number | null): boolean {
  if (exitCode === 1 && /Reboot is required/i.test(text)) return true;
  if (exitCode === 0 && /Reboot should not be necessary/i.test(text)) return false;
  throw new UnexpectedOutputError(`needs-restarting -r gave exit ${exitCode} and unexpected text`);
}
