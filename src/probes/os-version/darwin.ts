import type { Probe } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseSwVers } from './parse-sw-vers.js';

export const SW_VERS = '/usr/bin/sw_vers';

export const darwinOsVersion: Probe<'os_version'> = {
  check: 'os_version',
  platform: 'darwin',
  async collect(ctx) {
    const out = await ctx.run({ command: SW_VERS, args: [] });
    if (!out.ok) return ctx.unknownFrom(out);
    try {
      const v = parseSwVers(out.stdout);
      const kernel = await ctx.run({ command: '/usr/bin/uname', args: ['-r'] });
      return ctx.observed({
        platform: 'darwin',
        name: v.productName === 'Mac OS X' ? 'Mac OS X' : 'macOS',
        version: v.productVersion,
        ...(v.buildVersion ? { build: v.buildVersion } : {}),
        ...(v.productVersionExtra ? { rapidSecurityResponse: v.productVersionExtra } : {}),
        ...(kernel.ok && kernel.exitCode === 0 ? { kernel: kernel.stdout.trim() } : {}),
      });
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};
