/**
 * dnf4 (Fedora ≤ 40, RHEL 8/9, yum on RHEL 7 with the same formats) and dnf5 (Fedora 41+).
 *
 * `dnf -C -q check-update` (dnf5: an alias of check-upgrade): exit 0 none, exit 100 updates, 1 error.
 *   One "name.arch  version  repo" row per pending upgrade; a name too long for its column is
 *   printed alone and the rest wraps onto the next line.
 *   dnf4 may end with an "Obsoleting Packages" block; dnf5 (Fedora 44) starts with an "Upgrades"
 *   header and ends with a blank line and an "Obsoleting packages" block (lower case):
 *     Upgrades
 *     apparmor-libs.x86_64                      6.0.0~alpha1-1.fc44 terra
 *
 *     Obsoleting packages
 *     python3-proton-vpn-api-core.x86_64        5.6.10-1.fc44       protonvpn-fedora-stable
 *         python3-proton-vpn-local-agent.x86_64 1.6.3-1.fc44        protonvpn-fedora-stable
 *   In an obsoleting block an unindented row is the package that will be installed (pending, counted
 *   once even when it is also an upgrade) and the indented rows under it are the installed packages
 *   it replaces: removals, never pending updates.
 *
 * `dnf -C -q updateinfo list --security`:
 *   dnf4: "FEDORA-2021-83fdddca0f Moderate/Sec.  curl-7.76.1-7.fc34.x86_64" (no date)
 *   dnf5 (updateinfo = advisory): a "Name Type Severity Package Issued" table whose Type and Severity
 *   columns are cut to the terminal width ("secu", "Importan"):
 *     FEDORA-2026-bc20b091a8 security    Important    kernel-core-7.0.10-201.fc44.x86_64 2026-05-27 16:06:31
 *   "Issued" is the advisory's date as libsolv keeps it: the later of its <issued> and <updated>
 *   dates (dnf 4.14's `-v` column, recorded here, shows the <updated> date of a local advisory). It
 *   is a real date the device cannot reset, but a revised advisory looks younger than it is; the
 *   policy's other clocks (agent, verifier) still bound the age. It is printed without a time zone
 *   and read as UTC (an error of hours against a limit counted in days).
 * `needs-restarting -r`: exit 1 and "Reboot is required…", exit 0 and "Reboot should not be necessary."
 */
import type { PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

/**
 * Lines dnf, yum and subscription-manager print around the tables (RHEL 9.1, unregistered):
 *   Updating Subscription Management repositories. / Unable to read consumer identity /
 *   This system is not registered with an entitlement server. … / Last metadata expiration check: …
 */
const INFO_LINE =
  /^(Last metadata expiration check|Updating Subscription Management|Unable to read consumer identity|This system is|Security:|Waiting for process|Updating and loading repositories:|Repositories loaded\.)/;

export function parseDnfCheckUpdate(text: string, exitCode: number | null): PendingUpdate[] {
  if (exitCode === 0) return [];
  if (exitCode !== 100) throw new UnexpectedOutputError(`dnf check-update exited with ${exitCode}`);
  const updates: PendingUpdate[] = [];
  const listed = new Set<string>();
  let section: 'upgrades' | 'obsoleting' = 'upgrades';
  let carry = '';
  let skipNext = false;
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (/^Obsoleting packages$/i.test(trimmed)) {
      section = 'obsoleting';
      carry = '';
      continue;
    }
    if (trimmed === 'Upgrades' || trimmed === '' || INFO_LINE.test(trimmed)) {
      carry = '';
      continue;
    }
    if (skipNext) {
      skipNext = false; // the wrapped rest of a replaced (obsoleted) package's row
      continue;
    }
    // Obsoleting block: an indented row is an installed package being replaced, not an update.
    if (section === 'obsoleting' && carry === '' && /^\s/.test(raw)) {
      skipNext = trimmed.split(/\s+/).length < 3;
      continue;
    }
    const line = `${carry} ${trimmed}`.trim();
    const fields = line.split(/\s+/);
    if (fields.length < 3) {
      carry = line; // the name was too long and the rest is on the next line
      continue;
    }
    carry = '';
    const [nameArch, version] = fields;
    if (!nameArch || !version || !nameArch.includes('.'))
      throw new UnexpectedOutputError(`dnf check-update line not understood: ${raw.slice(0, 120)}`);
    if (listed.has(nameArch)) continue;
    listed.add(nameArch);
    updates.push({ name: nameArch.slice(0, nameArch.lastIndexOf('.')), version, security: false });
  }
  if (updates.length === 0)
    throw new UnexpectedOutputError('dnf check-update said updates exist (exit 100) but listed none');
  return updates;
}

export interface DnfAdvisoryInfo {
  /** Advisory ids naming this package. */
  advisories: string[];
  /** ISO time of the earliest of those advisories, where dnf printed one (dnf5). */
  issuedAt?: string;
}

const DNF4_ROW = /^(\S+)\s+(\S+\/Sec\.|security)\s+(\S+)$/i;
const DNF5_HEADER = /^Name\s+Type\s+Severity\s+Package\s+Issued$/;
const DNF5_ROW = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

/** Package name → the security advisories that name it, with the earliest issue date. */
export function parseDnfSecurityList(text: string): Map<string, DnfAdvisoryInfo> {
  const byName = new Map<string, DnfAdvisoryInfo>();
  const add = (advisory: string, nvra: string, issuedAt?: string) => {
    const name = nvraName(nvra);
    const entry = byName.get(name) ?? { advisories: [] };
    if (!entry.advisories.includes(advisory)) entry.advisories.push(advisory);
    if (issuedAt && (entry.issuedAt === undefined || issuedAt < entry.issuedAt)) entry.issuedAt = issuedAt;
    byName.set(name, entry);
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || INFO_LINE.test(line) || DNF5_HEADER.test(line)) continue;
    const dnf4 = DNF4_ROW.exec(line);
    if (dnf4?.[1] && dnf4[3]) {
      add(dnf4[1], dnf4[3]);
      continue;
    }
    const dnf5 = DNF5_ROW.exec(line);
    if (dnf5?.[1] && dnf5[2] && dnf5[4]) {
      // Type is cut to the column width ("secu"); any prefix of "security" is a security advisory.
      if (!'security'.startsWith(dnf5[2].toLowerCase())) continue;
      const issued = new Date(`${dnf5[5]}T${dnf5[6]}Z`);
      add(dnf5[1], dnf5[4], Number.isNaN(issued.getTime()) ? undefined : issued.toISOString());
      continue;
    }
    throw new UnexpectedOutputError(`dnf updateinfo line not understood: ${line.slice(0, 120)}`);
  }
  return byName;
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
