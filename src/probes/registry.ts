/**
 * The only place that decides which probes run on which platform. An unsupported OS gets an
 * explicit unknown/unsupported_platform answer for every check, never a hang or a guess.
 */
import type { CheckId, OsFamily } from '../shared/posture.js';
import { CHECK_IDS } from '../shared/posture.js';
import { darwinDiskEncryption } from './disk-encryption/darwin.js';
import { linuxDiskEncryption } from './disk-encryption/linux.js';
import { darwinFirewall } from './firewall/darwin.js';
import { linuxFirewall } from './firewall/linux.js';
import { darwinOsVersion } from './os-version/darwin.js';
import { linuxOsVersion } from './os-version/linux.js';
import { darwinPatchLevel } from './patch-level/darwin.js';
import { linuxPatchLevel } from './patch-level/linux.js';
import type { Probe } from './types.js';
import type { WindowsPaths } from './windows/helper.js';
import { windowsProbes } from './windows/probes.js';

/** Node's platform name → the OS family the probes know. */
export function osFamily(nodePlatform: string): OsFamily | 'unsupported' {
  if (nodePlatform === 'linux' || nodePlatform === 'darwin') return nodePlatform;
  if (nodePlatform === 'win32') return 'windows';
  return 'unsupported';
}

export interface RegistryOptions {
  windows?: WindowsPaths;
}

export function probesFor(family: OsFamily | 'unsupported', options: RegistryOptions = {}): Probe[] {
  switch (family) {
    case 'linux':
      return [linuxDiskEncryption, linuxOsVersion, linuxFirewall, linuxPatchLevel];
    case 'darwin':
      return [darwinDiskEncryption, darwinOsVersion, darwinFirewall, darwinPatchLevel];
    case 'windows':
      return windowsProbes(
        options.windows ?? {
          systemRoot: 'C:\\Windows',
          helperScript: 'C:\\Program Files\\Posture Agent\\native-probes\\windows\\posture-probe.ps1',
        },
      );
    default:
      return CHECK_IDS.map((check) => unsupportedProbe(check));
  }
}

function unsupportedProbe(check: CheckId): Probe {
  return {
    check,
    platform: 'linux',
    collect: async (ctx) =>
      ctx.unknown('unsupported_platform', `${ctx.host.platform.os} is not a supported operating system`),
  } as Probe;
}
