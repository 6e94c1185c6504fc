/** macOS: the application firewall (socketfilterfw) decides; pf is reported when readable (root). */
import type { FirewallComponent } from '../../shared/posture.js';
import type { Probe } from '../types.js';
import { looksLikePermissionDenied, UnexpectedOutputError } from '../types.js';
import { parseBlockAll, parseGlobalState, parsePfInfo, parseStealthMode } from './parse-socketfilterfw.js';

export const SOCKETFILTERFW = '/usr/libexec/ApplicationFirewall/socketfilterfw';
const PFCTL = '/sbin/pfctl';

export const darwinFirewall: Probe<'firewall'> = {
  check: 'firewall',
  platform: 'darwin',
  async collect(ctx) {
    const [global, stealth, blockAll, pf] = await Promise.all([
      ctx.run({ command: SOCKETFILTERFW, args: ['--getglobalstate'] }),
      ctx.run({ command: SOCKETFILTERFW, args: ['--getstealthmode'] }),
      ctx.run({ command: SOCKETFILTERFW, args: ['--getblockall'] }),
      ctx.run({ command: PFCTL, args: ['-s', 'info'] }),
    ]);
    if (!global.ok) return ctx.unknownFrom(global);
    try {
      const state = parseGlobalState(global.stdout);
      const components: FirewallComponent[] = [
        {
          name: 'application_firewall',
          enabled: state !== 'off',
          detail: state === 'block_all' ? 'on, blocking all incoming connections' : state,
        },
      ];
      const optional = <T>(o: typeof stealth, parse: (s: string) => T): T | undefined => {
        if (!o.ok || o.exitCode !== 0) return undefined;
        try {
          return parse(o.stdout);
        } catch {
          return undefined; // stealth and block-all only add detail; an odd answer must not hide the global state
        }
      };
      const stealthOn = optional(stealth, parseStealthMode);
      const blockAllOn = optional(blockAll, parseBlockAll);
      if (pf.ok && pf.exitCode === 0) {
        const enabled = parsePfInfo(pf.stdout);
        components.push({ name: 'pf', enabled, detail: enabled ? 'enabled' : 'disabled' });
      } else if (pf.ok && looksLikePermissionDenied(pf.stderr)) {
        components.push({
          name: 'pf',
          enabled: null,
          reason: 'insufficient_privilege',
          detail: 'pf state needs root (not required for the verdict)',
        });
      }
      return ctx.observed({
        enabled: state !== 'off',
        ...(stealthOn === undefined ? {} : { stealth: stealthOn }),
        blockAll: state === 'block_all' || blockAllOn === true,
        components,
      });
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};
