/**
 * macOS: FileVault protects the Data volume, where all user data lives. APFS volumes report
 * "encrypted" on every Apple-silicon Mac whether FileVault is on or not, so that proves nothing;
 * fdesetup is the authority.
 */
import type { Probe } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseFdesetupStatus } from './parse-fdesetup.js';

export const FDESETUP = '/usr/bin/fdesetup';

export const darwinDiskEncryption: Probe<'disk_encryption'> = {
  check: 'disk_encryption',
  platform: 'darwin',
  async collect(ctx) {
    const out = await ctx.run({ command: FDESETUP, args: ['status'] });
    if (!out.ok) return ctx.unknownFrom(out);
    // The text decides, whatever the exit status (fdesetup(8) gives status 2 for "On but busy",
    // i.e. converting); text that names no state is unknown, with the exit status in the reason.
    try {
      const status = parseFdesetupStatus(out.stdout);
      return ctx.observed({
        volumes: [{ id: '/', role: 'system', device: 'Data volume', method: 'FileVault', ...status }],
      });
    } catch (error) {
      if (!(error instanceof UnexpectedOutputError)) throw error;
      const exit = out.exitCode === 0 ? '' : ` (exit ${out.exitCode}: ${out.stderr.trim().slice(0, 120)})`;
      return ctx.unknown('unexpected_output', `${error.message}${exit}`);
    }
  },
};
