import type { Probe } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import type { OsRelease } from './parse-os-release.js';
import { parseOsRelease } from './parse-os-release.js';

/**
 * Rolling distributions. Some have no VERSION_ID (Arch); others carry one that is a snapshot date
 * (openSUSE Tumbleweed "20250527", Kali "2023.3") or a base-layout version (Gentoo "2.18"), which
 * says nothing about how current the system is. Their currency is judged by patch level. Besides
 * the IDs below, a codename that says so (VERSION_CODENAME=kali-rolling) or BUILD_ID=rolling (Arch)
 * marks a rolling release.
 */
const ROLLING_IDS = new Set([
  'arch',
  'manjaro',
  'endeavouros',
  'opensuse-tumbleweed',
  'opensuse-microos',
  'opensuse-slowroll',
  'gentoo',
  'void',
]);

export function isRolling(os: OsRelease): boolean {
  return (
    os.versionId === undefined ||
    os.buildId === 'rolling' ||
    ROLLING_IDS.has(os.id) ||
    /(^|-)rolling$/.test(os.versionCodename ?? '')
  );
}

/** Linux: /etc/os-release (falling back to /usr/lib/os-release as os-release(5) says) and the kernel release. */
export const linuxOsVersion: Probe<'os_version'> = {
  check: 'os_version',
  platform: 'linux',
  async collect(ctx) {
    let file = await ctx.readFile('/etc/os-release');
    if (!file.ok && file.error === 'not_found') file = await ctx.readFile('/usr/lib/os-release');
    if (!file.ok) return ctx.unknownFrom(file);
    const kernel = await ctx.readFile('/proc/sys/kernel/osrelease');
    try {
      const os = parseOsRelease(file.content);
      return ctx.observed({
        platform: 'linux',
        name: os.prettyName,
        ...(os.versionId ? { version: os.versionId } : {}),
        ...(os.buildId ? { build: os.buildId } : {}),
        distroId: os.id,
        distroLike: os.idLike,
        rolling: isRolling(os),
        ...(kernel.ok && kernel.content.trim() ? { kernel: kernel.content.trim() } : {}),
      });
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};
