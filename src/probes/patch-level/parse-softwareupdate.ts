/**
 * `softwareupdate --list --no-scan` (cached results, no network). "No new software available."
 * goes to stderr. Two item formats, each a marker line ("*" or "-"; the marker is not read as a
 * flag) followed by a detail line indented with a tab, or with spaces in some terminals/pastes:
 *   10.15+:  * Label: macOS Ventura 13.6-22G120
 *            \tTitle: macOS Ventura 13.6, Version: 13.6, Size: 594108KiB, Recommended: YES, Action: restart,
 *            (macOS 12.1 seen with 8 spaces instead of the tab, and "K" or "KiB" sizes in one list)
 *   ≤10.14:     * Command Line Tools (macOS Sierra version 10.12) for Xcode-8.1
 *            \tCommand Line Tools (macOS Sierra version 10.12) for Xcode (8.1), 123638K [recommended] [restart]
 *            (OS X 10.9 lists items with "-" and indents details with 6 spaces)
 * The fields after Size are read by name. A detail line without "Recommended:" has no recommendation
 * (none was found in a recorded output): it is not read as "not recommended", so it can still count
 * as a security update. Header lines ("Software Update Tool", "Finding available software", XType
 * noise) are skipped.
 */
import type { PendingUpdate } from '../../shared/posture.js';
import { compareVersions, parseVersion } from '../../shared/version.js';
import { UnexpectedOutputError } from '../types.js';

export interface MacUpdate extends PendingUpdate {
  /** Apple's recommendation; null when the item's line carries none. */
  recommended: boolean | null;
}

export function parseSoftwareUpdateList(stdout: string, stderr = ''): MacUpdate[] {
  const all = `${stdout}\n${stderr}`;
  const updates: MacUpdate[] = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const label = /^\s*[*-] (?:Label: )?(.+?)\s*$/.exec(line);
    if (!label?.[1]) continue;
    const detail = lines[i + 1] ?? '';
    const modern = /^\s+Title: (.*?)(?:, Version: (.*?))?, Size: [^,]*,?(.*)$/.exec(detail);
    if (modern?.[1]) {
      const rest = modern[3] ?? '';
      const recommended = /(?:^|,)\s*Recommended: (YES|NO)\b/.exec(rest)?.[1];
      updates.push({
        name: modern[1],
        version: modern[2] ?? '',
        security: false,
        recommended: recommended === undefined ? null : recommended === 'YES',
        restartRequired: /(?:^|,)\s*Action: restart\b/.test(rest),
      });
      i++;
      continue;
    }
    const old = /^\s+(.*?)(?: \(([^)]*)\)|, ([\d.]+)),\s*\d+K(.*)$/.exec(detail);
    if (old?.[1]) {
      const flags = old[4] ?? '';
      updates.push({
        name: old[1],
        version: old[2] ?? old[3] ?? '',
        security: false,
        recommended: flags.includes('[recommended]'),
        restartRequired: flags.includes('[restart]'),
      });
      i++;
      continue;
    }
    throw new UnexpectedOutputError(`softwareupdate item "${label[1].slice(0, 60)}" has no detail line`);
  }
  if (updates.length === 0 && !/No new software available/.test(all)) {
    throw new UnexpectedOutputError(
      'softwareupdate listed no items and did not say "No new software available."',
    );
  }
  return updates;
}

/**
 * Which pending items count as security updates. Apple does not flag them, so: recommended
 * updates of macOS within the running major version, Safari, and anything titled "Security"
 * (Security Update, Background Security Improvement, Rapid Security Response). An upgrade to a
 * newer major macOS is not a pending security update. Documented in docs/checks.md.
 */
export function markMacSecurity(updates: MacUpdate[], runningVersion: string | undefined): MacUpdate[] {
  const running = runningVersion === undefined ? null : parseVersion(runningVersion);
  return updates.map((u) => {
    const isMacOs = /^macOS\b|^OS X\b/.test(u.name);
    const version = parseVersion(u.version ?? '');
    const majorUpgrade =
      isMacOs && running && version ? compareVersions([version[0] ?? 0], [running[0] ?? 0]) > 0 : false;
    // An item without a recommendation counts like a recommended one: a missing field never hides an update.
    const recommended = u.recommended !== false;
    const security =
      !majorUpgrade && ((recommended && (isMacOs || /^Safari\b/.test(u.name))) || /Security/i.test(u.name));
    return { ...u, security };
  });
}

/** `defaults read /Library/Preferences/com.apple.SoftwareUpdate LastSuccessfulDate`: "2024-02-12 07:12:07 +0000". */
export function parseDefaultsDate(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(text.trim());
  if (!m) throw new UnexpectedOutputError(`defaults printed "${text.trim().slice(0, 60)}", not a date`);
  return new Date(`${m[1]}T${m[2]}${m[3]}:${m[4]}`).toISOString();
}
