/** The four Windows probes, each one run of the PowerShell helper and a pure parser. */
import type { Probe } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseBitLockerVolumes } from '../disk-encryption/parse-bitlocker.js';
import { parseNetFirewallProfiles } from '../firewall/parse-netfirewallprofile.js';
import { parseWindowsCurrentVersion } from '../os-version/parse-windows-version.js';
import { parseWindowsUpdates } from '../patch-level/parse-windows-update.js';
import type { WindowsPaths } from './helper.js';
import { runHelper } from './helper.js';
import { asArray } from '../../host/native-protocol.js';

export function windowsProbes(paths: WindowsPaths): Probe[] {
  const guard = <T>(ctx: Parameters<Probe['collect']>[0], f: () => T) => {
    try {
      return f();
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  };
  const disk: Probe<'disk_encryption'> = {
    check: 'disk_encryption',
    platform: 'windows',
    async collect(ctx) {
      const r = await runHelper(ctx, paths, 'bitlocker');
      if ('unknown' in r) return r.unknown;
      return guard(ctx, () => {
        if (typeof r.data.systemDrive !== 'string')
          throw new UnexpectedOutputError('the bitlocker helper printed no systemDrive');
        return ctx.observed({ volumes: parseBitLockerVolumes(asArray(r.data.volumes), r.data.systemDrive) });
      });
    },
  };
  const firewall: Probe<'firewall'> = {
    check: 'firewall',
    platform: 'windows',
    async collect(ctx) {
      const r = await runHelper(ctx, paths, 'firewall');
      if ('unknown' in r) return r.unknown;
      return guard(ctx, () => {
        const components = parseNetFirewallProfiles(asArray(r.data.profiles));
        return ctx.observed({ enabled: components.some((c) => c.enabled === true), components });
      });
    },
  };
  const os: Probe<'os_version'> = {
    check: 'os_version',
    platform: 'windows',
    async collect(ctx) {
      const r = await runHelper(ctx, paths, 'os_version');
      if ('unknown' in r) return r.unknown;
      return guard(ctx, () => ctx.observed(parseWindowsCurrentVersion(r.data)));
    },
  };
  const patch: Probe<'patch_level'> = {
    check: 'patch_level',
    platform: 'windows',
    deadlineMs: 150_000,
    async collect(ctx) {
      const r = await runHelper(ctx, paths, 'updates', 120_000);
      if ('unknown' in r) return r.unknown;
      return guard(ctx, () => ctx.observed(parseWindowsUpdates(r.data)));
    },
  };
  return [disk, firewall, os, patch];
}
