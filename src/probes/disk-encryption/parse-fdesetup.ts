/**
 * `/usr/bin/fdesetup status` (macOS 10.8+; no root needed). The whole output is read, not only the
 * first line: a Mac that is still converting prints a progress line after (or instead of) the
 * headline, and the progress line decides.
 *   FileVault is On.                                                   (encrypted, nothing else printed)
 *   FileVault is Off.
 *   FileVault is Off, but needs to be restarted to finish.             (10.12, deferred enablement)
 *   Deferred enablement appears to be active for user 'USERNAME'       (10.12; 13.2.1 prints it without "for user…")
 *   Encryption in progress: Percent completed = 45                     (fdesetup(8); alone or after "FileVault is On.")
 *   Decryption in progress: Percent completed = 12                     (alone or after "FileVault is On." / "Off.")
 * Encrypting or decrypting is never "encrypted": the policy (allowEncryptionInProgress) decides what
 * encrypting is worth, and decrypting always fails. A line in any other wording makes an "On"
 * headline unknown (it could be a new progress or paused wording); it cannot make "Off" any better.
 */
import type { VolumeEncryption } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export type FdesetupStatus = Pick<VolumeEncryption, 'state' | 'percent' | 'detail' | 'reason'>;

const ON = /^FileVault is On\.$/;
const OFF = /^FileVault is Off\.$/;
const OFF_PENDING = /^FileVault is Off, but .*restart/;
const PROGRESS = /^(Encryption|Decryption) in progress: Percent completed = (\d+(?:\.\d+)?)\s*%?\.?$/;
/** Lines that add to the headline without changing it. */
const INFORMATIONAL = [
  /^Deferred enablement appears to be active/,
  // Printed on CoreStorage Macs with an institutional recovery key (10.8–10.12).
  /^FileVault master keychain appears to be installed\.?$/,
];

export function parseFdesetupStatus(text: string): FdesetupStatus {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  let on = false;
  let off = false;
  let pending: string | undefined;
  let deferred: string | undefined;
  let progress: { state: 'encrypting' | 'decrypting'; percent: number } | undefined;
  const unrecognised: string[] = [];
  for (const line of lines) {
    const p = PROGRESS.exec(line);
    if (p?.[1] && p[2]) {
      if (progress)
        unrecognised.push(line); // two progress lines: not a shape fdesetup is known to print
      else progress = { state: p[1] === 'Encryption' ? 'encrypting' : 'decrypting', percent: Number(p[2]) };
    } else if (ON.test(line)) on = true;
    else if (OFF.test(line)) off = true;
    else if (OFF_PENDING.test(line)) {
      off = true;
      pending = line;
    } else if (INFORMATIONAL[0]?.test(line)) deferred = line;
    else if (!INFORMATIONAL.some((r) => r.test(line))) unrecognised.push(line);
  }
  if (!on && !off && !progress) {
    throw new UnexpectedOutputError(
      `fdesetup status printed no FileVault state: "${(lines[0] ?? '').slice(0, 80)}"`,
    );
  }
  const odd = unrecognised.length
    ? `fdesetup status also printed "${unrecognised.join(' / ').slice(0, 120)}"`
    : undefined;
  if (on && off) {
    return { state: 'unknown', reason: 'unexpected_output', detail: 'fdesetup status said both On and Off' };
  }
  if (progress) {
    // Decrypting is reported whatever else was printed; encrypting with an unknown extra line is unknown.
    if (progress.state === 'encrypting' && odd)
      return { state: 'unknown', reason: 'unexpected_output', detail: odd };
    return { ...progress, ...(odd || deferred ? { detail: odd ?? deferred } : {}) };
  }
  if (off) {
    const detail = [pending, deferred, odd].filter(Boolean).join('; ');
    return { state: 'unencrypted', ...(detail ? { detail } : {}) };
  }
  if (odd) return { state: 'unknown', reason: 'unexpected_output', detail: odd };
  // "On" while enablement is still deferred is not a shape seen in any capture: do not call it encrypted.
  if (deferred)
    return { state: 'unknown', reason: 'unexpected_output', detail: `FileVault is On, but ${deferred}` };
  return { state: 'encrypted' };
}
