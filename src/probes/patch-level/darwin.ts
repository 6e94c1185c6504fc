/** macOS patch level: cached softwareupdate results (never a network scan here) and the last successful check. */
import type { Probe } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseSwVers } from '../os-version/parse-sw-vers.js';
import { SW_VERS } from '../os-version/darwin.js';
import { markMacSecurity, parseDefaultsDate, parseSoftwareUpdateList } from './parse-softwareupdate.js';
import type { SourceProblem } from '../source-problem.js';
import { problemFrom, readOrNote } from '../source-problem.js';

export const SOFTWAREUPDATE = '/usr/sbin/softwareupdate';
const DEFAULTS = '/usr/bin/defaults';

export const darwinPatchLevel: Probe<'patch_level'> = {
  check: 'patch_level',
  platform: 'darwin',
  deadlineMs: 60_000,
  async collect(ctx) {
    const list = await ctx.run({ command: SOFTWAREUPDATE, args: ['--list', '--no-scan'], timeoutMs: 45_000 });
    if (!list.ok) return ctx.unknownFrom(list);
    const unreadable: SourceProblem[] = [];
    let listed: ReturnType<typeof parseSoftwareUpdateList>;
    try {
      listed = parseSoftwareUpdateList(list.stdout, list.stderr);
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
    // The running version only tells a major upgrade from a security update; without it every macOS
    // item counts as security (the stricter reading), and the reason is kept.
    const vers = await ctx.run({ command: SW_VERS, args: [] });
    const running = vers.ok
      ? readOrNote(unreadable, 'sw_vers', () => parseSwVers(vers.stdout).productVersion)
      : (unreadable.push(problemFrom('sw_vers', vers)), undefined);
    const updates = markMacSecurity(listed, running);
    const last = await ctx.run({
      command: DEFAULTS,
      args: ['read', '/Library/Preferences/com.apple.SoftwareUpdate', 'LastSuccessfulDate'],
    });
    // A missing key (exit 1) leaves the index age unknown; a value in another shape is noted.
    const indexRefreshedAt =
      last.ok && last.exitCode === 0
        ? readOrNote(unreadable, 'defaults read … LastSuccessfulDate', () => parseDefaultsDate(last.stdout))
        : undefined;
    return ctx.observed({
      manager: 'softwareupdate',
      pending: updates.length,
      securityPending: updates.filter((u) => u.security).length,
      updates: updates.map(({ recommended: _r, ...u }) => u),
      ...(indexRefreshedAt ? { indexRefreshedAt } : {}),
      rebootRequired: null,
      ...(unreadable.length ? { unreadable } : {}),
    });
  },
};
