/**
 * Linux patch level through the package manager present: apt, dnf/yum, zypper or pacman. Every
 * query works from local metadata (no network, no lock): apt-get -s, dnf -C, zypper --no-refresh,
 * pacman -Qu. How fresh that metadata is, is reported too: a stale list hides pending updates.
 */
import type { PatchLevelObservation, PendingUpdate } from '../../shared/posture.js';
import type { Probe, ProbeContext } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseAptSimulation } from './parse-apt.js';
import { parseDnfCheckUpdate, parseDnfSecurityList, parseNeedsRestarting } from './parse-dnf.js';
import { isRolling } from '../os-version/linux.js';
import { parseOsRelease } from '../os-version/parse-os-release.js';
import type { SourceProblem } from '../source-problem.js';
import { problemFrom, readOrNote } from '../source-problem.js';
import { parsePacmanUpgradable } from './parse-pacman.js';
import { parseZypperUpdates, zypperPending } from './parse-zypper.js';

const PATCH_TIMEOUT_MS = 45_000;
export const APT_GET = '/usr/bin/apt-get';
export const APT_ARGS = ['-s', '-o', 'Debug::NoLocking=1', 'dist-upgrade'];

type Result = Omit<PatchLevelObservation, 'updates'> & { updates: PendingUpdate[] };

export const linuxPatchLevel: Probe<'patch_level'> = {
  check: 'patch_level',
  platform: 'linux',
  deadlineMs: 60_000,
  async collect(ctx) {
    try {
      for (const manager of [apt, dnf, zypper, pacman]) {
        const result = await manager(ctx);
        if (result === 'absent') continue;
        if ('unknown' in result) return result.unknown;
        return ctx.observed(finish(await withoutSecurityOnRolling(ctx, result)));
      }
      return ctx.unknown(
        'command_missing',
        'no supported package manager (apt, dnf, yum, zypper, pacman) was found',
      );
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};

type ManagerResult = Result | 'absent' | { unknown: ReturnType<ProbeContext['unknown']> };

/**
 * A rolling distribution publishes fixes as ordinary package updates: Kali (kali-rolling) and
 * Debian sid have no -security suite, openSUSE Tumbleweed no security patches. apt or zypper then
 * call nothing "security", which would read as "no security updates pending". On a rolling
 * release (os-release ID, codename or missing VERSION_ID, as the OS-version probe decides) which
 * updates are security is therefore not known, and every pending update counts.
 */
async function withoutSecurityOnRolling(ctx: ProbeContext, r: Result): Promise<Result> {
  if (r.manager !== 'apt' && r.manager !== 'zypper') return r;
  let file = await ctx.readFile('/etc/os-release');
  if (!file.ok && file.error === 'not_found') file = await ctx.readFile('/usr/lib/os-release');
  if (!file.ok) return r;
  const os = readOrNote([], '/etc/os-release', () => parseOsRelease(file.content));
  if (!os || !isRolling(os)) return r;
  return { ...r, securityPending: null, updates: r.updates.map((u) => ({ ...u, security: false })) };
}

function finish(r: Result): PatchLevelObservation {
  const updates = [...r.updates].sort((a, b) => Number(b.security) - Number(a.security)).slice(0, 100);
  return { ...r, updates };
}

async function mtime(ctx: ProbeContext, path: string): Promise<string | undefined> {
  const s = await ctx.stat(path);
  return s.ok ? new Date(s.mtimeMs).toISOString() : undefined;
}

async function exists(ctx: ProbeContext, path: string): Promise<boolean | undefined> {
  const s = await ctx.stat(path);
  if (s.ok) return true;
  return s.error === 'not_found' ? false : undefined;
}

async function apt(ctx: ProbeContext): Promise<ManagerResult> {
  const out = await ctx.runFirst([APT_GET], APT_ARGS, { timeoutMs: PATCH_TIMEOUT_MS });
  if (!out.ok && out.error === 'command_missing') return 'absent';
  if (!out.ok) return { unknown: ctx.unknownFrom(out) };
  if (out.exitCode !== 0)
    return {
      unknown: ctx.unknown(
        'unexpected_output',
        `apt-get -s exited with ${out.exitCode}: ${out.stderr.trim().slice(0, 200)}`,
      ),
    };
  const updates = parseAptSimulation(out.stdout);
  // update-success-stamp is touched by APT::Periodic after a successful `apt update`; without it the
  // lists directory's own time is the best available sign of the last refresh.
  const indexRefreshedAt =
    (await mtime(ctx, '/var/lib/apt/periodic/update-success-stamp')) ??
    (await mtime(ctx, '/var/lib/apt/lists'));
  const lastInstallAt = await mtime(ctx, '/var/log/apt/history.log');
  // /run/reboot-required is written by update-notifier's hook; where that hook is absent its absence proves nothing.
  const flag = await exists(ctx, '/run/reboot-required');
  const hook = await exists(ctx, '/usr/share/update-notifier/notify-reboot-required');
  const rebootRequired = flag === true ? true : flag === false && hook === true ? false : null;
  return {
    manager: 'apt',
    pending: updates.length,
    securityPending: updates.filter((u) => u.security).length,
    updates,
    ...(indexRefreshedAt ? { indexRefreshedAt } : {}),
    ...(lastInstallAt ? { lastInstallAt } : {}),
    rebootRequired,
  };
}

async function dnf(ctx: ProbeContext): Promise<ManagerResult> {
  const candidates = ['/usr/bin/dnf', '/usr/bin/yum'];
  const out = await ctx.runFirst(candidates, ['-C', '-q', 'check-update'], { timeoutMs: PATCH_TIMEOUT_MS });
  if (!out.ok && out.error === 'command_missing') return 'absent';
  if (!out.ok) return { unknown: ctx.unknownFrom(out) };
  if (out.exitCode === 1) {
    return {
      unknown: ctx.unknown(
        'unexpected_output',
        `dnf check-update failed (is the metadata cache empty? run \`dnf makecache\`): ${out.stderr.trim().slice(0, 160)}`,
      ),
    };
  }
  const command = ctx.evidence[ctx.evidence.length - 1];
  const binary = command?.kind === 'command' ? command.command : '/usr/bin/dnf';
  const updates = parseDnfCheckUpdate(out.stdout, out.exitCode);
  const sec = await ctx.run({
    command: binary,
    args: ['-C', '-q', 'updateinfo', 'list', '--security'],
    timeoutMs: PATCH_TIMEOUT_MS,
  });
  let securityPending: number | null = null;
  const unreadable: SourceProblem[] = [];
  if (sec.ok && sec.exitCode === 0) {
    // A table dnf prints differently costs only the security flags, never the list of updates.
    const advisories = readOrNote(unreadable, 'dnf updateinfo list --security', () =>
      parseDnfSecurityList(sec.stdout),
    );
    if (advisories) {
      for (const u of updates) {
        const info = advisories.get(u.name);
        u.security = info !== undefined;
        if (info?.issuedAt) u.releasedAt = info.issuedAt;
      }
      securityPending = updates.filter((u) => u.security).length;
    }
  } else {
    unreadable.push(problemFrom('dnf updateinfo list --security', sec));
  }
  const restart = await ctx.runFirst(['/usr/bin/needs-restarting'], ['-r'], { timeoutMs: PATCH_TIMEOUT_MS });
  const rebootRequired = restart.ok
    ? (readOrNote(unreadable, 'needs-restarting -r', () =>
        parseNeedsRestarting(restart.stdout, restart.exitCode),
      ) ?? null)
    : null;
  const indexRefreshedAt =
    (await mtime(ctx, '/var/cache/dnf/last_makecache')) ??
    (await mtime(ctx, '/var/cache/libdnf5')) ??
    (await mtime(ctx, '/var/cache/yum'));
  const lastInstallAt =
    (await mtime(ctx, '/var/lib/dnf/history.sqlite')) ?? (await mtime(ctx, '/var/lib/rpm'));
  return {
    manager: binary.endsWith('yum') ? 'yum' : 'dnf',
    pending: updates.length,
    securityPending,
    updates,
    ...(indexRefreshedAt ? { indexRefreshedAt } : {}),
    ...(lastInstallAt ? { lastInstallAt } : {}),
    rebootRequired,
    ...(unreadable.length ? { unreadable } : {}),
  };
}

async function zypper(ctx: ProbeContext): Promise<ManagerResult> {
  const base = ['--non-interactive', '--no-refresh', '-x'];
  const lu = await ctx.runFirst(['/usr/bin/zypper'], [...base, 'list-updates'], {
    timeoutMs: PATCH_TIMEOUT_MS,
  });
  if (!lu.ok && lu.error === 'command_missing') return 'absent';
  if (!lu.ok) return { unknown: ctx.unknownFrom(lu) };
  const lp = await ctx.run({
    command: '/usr/bin/zypper',
    args: [...base, 'list-patches', '--category', 'security'],
    timeoutMs: PATCH_TIMEOUT_MS,
  });
  if (!lp.ok) return { unknown: ctx.unknownFrom(lp) };
  const pending = zypperPending(parseZypperUpdates(lu.stdout), parseZypperUpdates(lp.stdout));
  const indexRefreshedAt = await mtime(ctx, '/var/cache/zypp/raw');
  const lastInstallAt = await mtime(ctx, '/var/log/zypp/history');
  const packages = pending.updates.filter((u) => !u.security).length;
  return {
    manager: 'zypper',
    pending: packages + pending.securityPending,
    securityPending: pending.securityPending,
    updates: pending.updates,
    ...(indexRefreshedAt ? { indexRefreshedAt } : {}),
    ...(lastInstallAt ? { lastInstallAt } : {}),
    rebootRequired: pending.rebootRequired ? true : null,
  };
}

async function pacman(ctx: ProbeContext): Promise<ManagerResult> {
  const out = await ctx.runFirst(['/usr/bin/pacman'], ['-Qu'], { timeoutMs: PATCH_TIMEOUT_MS });
  if (!out.ok && out.error === 'command_missing') return 'absent';
  if (!out.ok) return { unknown: ctx.unknownFrom(out) };
  // pacman -Qu exits 1 with no output when nothing is upgradable.
  if (out.exitCode !== 0 && !(out.exitCode === 1 && out.stdout.trim() === '')) {
    return {
      unknown: ctx.unknown(
        'unexpected_output',
        `pacman -Qu exited with ${out.exitCode}: ${out.stderr.trim().slice(0, 160)}`,
      ),
    };
  }
  const updates = parsePacmanUpgradable(out.stdout);
  const indexRefreshedAt = await mtime(ctx, '/var/lib/pacman/sync/core.db');
  const lastInstallAt = await mtime(ctx, '/var/log/pacman.log');
  return {
    manager: 'pacman',
    pending: updates.length,
    securityPending: null,
    updates,
    ...(indexRefreshedAt ? { indexRefreshedAt } : {}),
    ...(lastInstallAt ? { lastInstallAt } : {}),
    rebootRequired: null,
  };
}
