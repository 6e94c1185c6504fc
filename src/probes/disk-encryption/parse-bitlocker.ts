/**
 * BitLocker volumes, as `Get-BitLockerVolume | ConvertTo-Json` prints them (Windows PowerShell 5.1,
 * enums as numbers) and as the helper prints them from Win32_EncryptableVolume with the same numbering:
 *   "MountPoint": "C:", "VolumeType": 0 (OperatingSystem) | 1 (Data) | 2 (Removable),
 *   "VolumeStatus": 0 FullyDecrypted | 1 FullyEncrypted | 2 EncryptionInProgress | 3 DecryptionInProgress
 *                   | 4 EncryptionPaused | 5 DecryptionPaused,
 *   "ProtectionStatus": 0 Off | 1 On | 2 Unknown (locked), "EncryptionPercentage": 100, "EncryptionMethod": 6 (XtsAes128)
 * Fully encrypted with protection Off is "suspended" (or waiting for activation): the key sits in
 * the clear on the volume, so the data is not protected. Text from manage-bde is translated per
 * locale and is never parsed.
 */
import type { VolumeEncryption } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

const METHODS: Record<number, string> = {
  1: 'AES-128 with diffuser',
  2: 'AES-256 with diffuser',
  3: 'AES-128',
  4: 'AES-256',
  5: 'hardware encryption',
  6: 'XTS-AES-128',
  7: 'XTS-AES-256',
};

export function parseBitLockerVolumes(
  volumes: Record<string, unknown>[],
  systemDrive: string,
): VolumeEncryption[] {
  const system = normalizeDrive(systemDrive);
  const result: VolumeEncryption[] = [];
  for (const v of volumes) {
    const mount =
      typeof v.MountPoint === 'string'
        ? v.MountPoint
        : typeof v.DriveLetter === 'string'
          ? v.DriveLetter
          : undefined;
    const type = num(v.VolumeType);
    if (mount === undefined || type === undefined)
      throw new UnexpectedOutputError('BitLocker volume lacks MountPoint/DriveLetter or VolumeType');
    if (type === 2) continue; // removable media is not a data volume of this device
    const id = normalizeDrive(mount);
    const role = id === system || type === 0 ? 'system' : 'data';
    const status = num(v.VolumeStatus ?? v.ConversionStatus);
    const protection = num(v.ProtectionStatus);
    const percent = num(v.EncryptionPercentage);
    const method = METHODS[num(v.EncryptionMethod) ?? 0];
    const base: VolumeEncryption = {
      id,
      role,
      state: 'unknown',
      ...(method ? { method: `BitLocker ${method}` } : {}),
    };
    switch (status) {
      case 0:
        result.push({ ...base, state: 'unencrypted' });
        break;
      case 1:
        result.push(
          protection === 1
            ? { ...base, state: 'encrypted' }
            : protection === 0
              ? {
                  ...base,
                  state: 'suspended',
                  detail: 'fully encrypted but protection is off (suspended or waiting for activation)',
                }
              : {
                  ...base,
                  state: 'unknown',
                  reason: 'unexpected_output',
                  detail: `protection status ${String(v.ProtectionStatus)} (volume locked?)`,
                },
        );
        break;
      case 2:
      case 4:
        result.push({
          ...base,
          state: 'encrypting',
          ...(percent === undefined ? {} : { percent }),
          ...(status === 4 ? { detail: 'encryption paused' } : {}),
        });
        break;
      case 3:
      case 5:
        result.push({
          ...base,
          state: 'decrypting',
          ...(percent === undefined ? {} : { percent }),
          ...(status === 5 ? { detail: 'decryption paused' } : {}),
        });
        break;
      default:
        result.push({
          ...base,
          reason: 'unexpected_output',
          detail: `unknown conversion status ${String(v.VolumeStatus ?? v.ConversionStatus)}`,
        });
    }
  }
  if (!result.some((r) => r.id === system)) {
    result.unshift({
      id: system,
      role: 'system',
      state: 'unknown',
      reason: 'unexpected_output',
      detail: `the system drive ${system} was not among the encryptable volumes`,
    });
  }
  return result;
}

function normalizeDrive(d: string): string {
  const m = /^([A-Za-z]):?\\?$/.exec(d.trim());
  return m?.[1] ? `${m[1].toUpperCase()}:` : d.trim();
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}
