/**
 * `/usr/bin/fdesetup status` (macOS 10.8+; no root needed). First line decides:
 *   FileVault is On.
 *   FileVault is Off.
 *   FileVault is Off, but needs to be restarted to finish.          (10.12, deferred enablement)
 *   Encryption in progress: Percent completed = 45
 *   Decryption in progress: Percent completed = 12
 * Later lines ("Deferred enablement appears to be active for user 'x'") are informational.
 */
import type { VolumeEncryption } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export function parseFdesetupStatus(text: string): Pick<VolumeEncryption, 'state' | 'percent' | 'detail'> {
  const first =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? '';
  if (first === 'FileVault is On.') return { state: 'encrypted' };
  if (first === 'FileVault is Off.') return { state: 'unencrypted' };
  if (/^FileVault is Off, but/.test(first)) return { state: 'unencrypted', detail: first };
  const progress = /^(Encryption|Decryption) in progress: Percent completed = (\d+(?:\.\d+)?)/.exec(first);
  if (progress?.[1] && progress[2]) {
    return {
      state: progress[1] === 'Encryption' ? 'encrypting' : 'decrypting',
      percent: Number(progress[2]),
    };
  }
  throw new UnexpectedOutputError(`fdesetup status printed "${first.slice(0, 80)}"`);
}
