/**
 * One evaluation function, shared by the agent (so the tray shows what the proxy will decide)
 * and the verifier (to decide). Observations in, verdicts out. Unknown never passes.
 */
import type { Policy } from './policy.js';
import type {
  CheckId,
  CheckResult,
  DiskEncryptionObservation,
  FirewallObservation,
  OsFamily,
  OsVersionObservation,
  PatchLevelObservation,
  PostureChecks,
} from './posture.js';
import { CHECK_IDS } from './posture.js';
import { remediation } from './remediation.js';
import { compareVersions, parseVersion } from './version.js';

export type Verdict = 'pass' | 'fail' | 'unknown' | 'not_applicable';

export interface CheckVerdict {
  check: CheckId;
  verdict: Verdict;
  /** Stable code, documented in docs/policy.md: "volume_unencrypted", "firewall_off", … */
  code: string;
  /** What was decided and why, for a person. */
  reason: string;
  /** What the person can do about it; present on fail and unknown. */
  remediation?: string;
  /**
   * patch_level with pending security updates: which clock gave the age that was judged (the
   * earliest available): the OS's publication date, this agent's first sighting, or the verifier's.
   */
  ageBasis?: AgeBasis;
}

export type AgeBasis = 'published' | 'agent_first_seen' | 'verifier_first_seen';

/** Clocks kept outside the device, which the device cannot reset. */
export interface ExternalClocks {
  /**
   * When the verifier first saw this device report pending security updates (ISO 8601), kept until
   * it reports none. The age limit counts from the earliest of this and the device's own dates.
   */
  securityPendingSince?: string;
}

export interface Evaluation {
  overall: Exclude<Verdict, 'not_applicable'>;
  policyRevision: string;
  evaluatedAt: string;
  checks: CheckVerdict[];
}

const DAY_MS = 86_400_000;

/** Evaluates observations against the policy at time `now`. Pure. */
export function evaluatePosture(
  checks: PostureChecks,
  policy: Policy,
  platform: OsFamily | 'unsupported',
  now: Date,
  clocks: ExternalClocks = {},
): Evaluation {
  const verdicts = CHECK_IDS.map((id) => evaluateCheck(id, checks, policy, platform, now, clocks));
  const overall = verdicts.some((v) => v.verdict === 'fail')
    ? 'fail'
    : verdicts.some((v) => v.verdict === 'unknown')
      ? 'unknown'
      : 'pass';
  return { overall, policyRevision: policy.revision, evaluatedAt: now.toISOString(), checks: verdicts };
}

function evaluateCheck(
  id: CheckId,
  checks: PostureChecks,
  policy: Policy,
  platform: OsFamily | 'unsupported',
  now: Date,
  clocks: ExternalClocks,
): CheckVerdict {
  if (!policy.checks[id].required) {
    return { check: id, verdict: 'not_applicable', code: 'not_required', reason: 'Not required by policy.' };
  }
  const result = checks[id] as CheckResult<unknown> | undefined;
  if (!result) {
    return {
      check: id,
      verdict: 'unknown',
      code: 'not_collected',
      reason: 'This check was not collected.',
      remediation: 'Run the agent again; if it persists, send `posture capture` output to IT.',
    };
  }
  if (result.status === 'unknown') {
    return {
      check: id,
      verdict: 'unknown',
      code: `observation_${result.reason}`,
      reason: result.detail,
      remediation: remediation.unknown(result.reason),
    };
  }
  switch (id) {
    case 'disk_encryption':
      return diskEncryption(result.observation as DiskEncryptionObservation, policy, platform);
    case 'firewall':
      return firewall(result.observation as FirewallObservation, policy, platform);
    case 'os_version':
      return osVersion(result.observation as OsVersionObservation, policy);
    case 'patch_level':
      return patchLevel(result.observation as PatchLevelObservation, policy, platform, now, clocks);
  }
}

function verdict(check: CheckId, v: Verdict, code: string, reason: string, fix?: string): CheckVerdict {
  return fix === undefined
    ? { check, verdict: v, code, reason }
    : { check, verdict: v, code, reason, remediation: fix };
}

function diskEncryption(
  o: DiskEncryptionObservation,
  policy: Policy,
  platform: OsFamily | 'unsupported',
): CheckVerdict {
  const rules = policy.checks.disk_encryption;
  const volumes = o.volumes.filter(
    (v) => v.state !== 'not_persistent' && (rules.requireSwap || v.role !== 'swap'),
  );
  const c = 'disk_encryption' as const;
  if (volumes.length === 0) {
    return verdict(
      c,
      'unknown',
      'no_volumes',
      'No data volume was found to judge.',
      remediation.unknown('unexpected_output'),
    );
  }
  const name = (v: { id: string }) => v.id;
  const bad = (states: string[]) => volumes.filter((v) => states.includes(v.state));
  const unencrypted = bad(['unencrypted', 'decrypting']);
  if (unencrypted.length > 0) {
    const detail = unencrypted
      .map((v) => (v.state === 'decrypting' ? `${name(v)} (decrypting${pct(v.percent)})` : name(v)))
      .join(', ');
    return verdict(
      c,
      'fail',
      'volume_unencrypted',
      `Not encrypted: ${detail}.`,
      remediation.encrypt(platform),
    );
  }
  const suspended = bad(['suspended']);
  if (suspended.length > 0) {
    return verdict(
      c,
      'fail',
      'protection_suspended',
      `Encryption is suspended on ${suspended.map(name).join(', ')}: the key is stored unprotected on the disk.`,
      remediation.resumeBitLocker,
    );
  }
  const encrypting = bad(['encrypting']);
  if (encrypting.length > 0 && !rules.allowEncryptionInProgress) {
    const detail = encrypting.map((v) => `${name(v)}${pct(v.percent)}`).join(', ');
    return verdict(
      c,
      'fail',
      'volume_encrypting',
      `Encryption is still in progress: ${detail}.`,
      remediation.waitForEncryption,
    );
  }
  const unknown = bad(['unknown']);
  if (unknown.length > 0) {
    const first = unknown[0];
    const detail = unknown.map((v) => `${name(v)}${v.detail ? ` (${v.detail})` : ''}`).join(', ');
    return verdict(
      c,
      'unknown',
      'volume_unknown',
      `Could not tell whether these are encrypted: ${detail}.`,
      remediation.unknown(first?.reason ?? 'unexpected_output'),
    );
  }
  const label = (v: (typeof volumes)[number]) =>
    `${name(v)}${v.method ? ` (${v.method})` : ''}${v.state === 'encrypting' ? ` still encrypting${pct(v.percent)}` : ''}`;
  // Encrypting passes only because the policy allows it; the code says so, never "all_encrypted".
  return verdict(
    c,
    'pass',
    encrypting.length > 0 ? 'encryption_in_progress_allowed' : 'all_encrypted',
    `${encrypting.length > 0 ? 'Encrypted or encrypting (the policy allows encryption in progress)' : 'Encrypted'}: ${volumes.map(label).join(', ')}.`,
  );
}

function pct(percent: number | undefined): string {
  return percent === undefined ? '' : ` ${percent}%`;
}

function firewall(o: FirewallObservation, policy: Policy, platform: OsFamily | 'unsupported'): CheckVerdict {
  const rules = policy.checks.firewall;
  const c = 'firewall' as const;
  if (platform === 'windows') {
    const off = o.components.filter((p) => p.enabled === false);
    const unknown = o.components.filter((p) => p.enabled === null);
    if (rules.requireAllProfiles && off.length > 0) {
      return verdict(
        c,
        'fail',
        'firewall_profile_off',
        `Firewall is off for the ${off.map((p) => p.name).join(', ')} profile.`,
        remediation.firewallOn(platform),
      );
    }
    if (rules.requireAllProfiles && unknown.length > 0) {
      return verdict(
        c,
        'unknown',
        'firewall_state_unknown',
        `Could not read the ${unknown.map((p) => p.name).join(', ')} profile.`,
        remediation.unknown(unknown[0]?.reason ?? 'unexpected_output'),
      );
    }
  }
  if (!o.enabled) {
    const unknown = o.components.filter((p) => p.enabled === null);
    if (unknown.length > 0 && platform === 'linux') {
      return verdict(
        c,
        'unknown',
        'firewall_state_unknown',
        `No active inbound filter was seen, and these could not be read: ${unknown.map((p) => `${p.name} (${p.detail})`).join('; ')}.`,
        remediation.unknown(unknown[0]?.reason ?? 'unexpected_output'),
      );
    }
    return verdict(
      c,
      'fail',
      'firewall_off',
      'The firewall does not filter incoming connections.',
      remediation.firewallOn(platform),
    );
  }
  if (platform === 'linux' && rules.requireIpv6 && o.ipv6 === false) {
    return verdict(
      c,
      'fail',
      'ipv6_unfiltered',
      'Incoming IPv4 is filtered but IPv6 is not.',
      remediation.firewallOn(platform),
    );
  }
  const on = o.components.filter((p) => p.enabled === true).map((p) => p.name);
  return verdict(
    c,
    'pass',
    'firewall_on',
    `Incoming connections are filtered${on.length ? ` (${on.join(', ')})` : ''}.`,
  );
}

function osVersion(o: OsVersionObservation, policy: Policy): CheckVerdict {
  const rules = policy.checks.os_version;
  const c = 'os_version' as const;
  const label = `${o.name}${o.version && !o.name.includes(o.version) ? ` ${o.version}` : ''}`;
  const compare = (actual: string | undefined, min: string, what: string): CheckVerdict => {
    const a = actual === undefined ? null : parseVersion(actual);
    const m = parseVersion(min);
    if (!a || !m) {
      return verdict(
        c,
        'unknown',
        'version_unparsable',
        `Could not read a version number from "${actual ?? ''}".`,
        remediation.unknown('unexpected_output'),
      );
    }
    if (compareVersions(a, m) < 0) {
      return verdict(
        c,
        'fail',
        'os_too_old',
        `${label} is older than the required ${what} ${min}.`,
        remediation.updateOs(o.platform),
      );
    }
    return verdict(c, 'pass', 'os_supported', `${label} meets the required ${what} ${min}.`);
  };
  if (o.platform === 'darwin') {
    return rules.macos ? compare(o.version, rules.macos.min, 'macOS') : noMinimum(label);
  }
  if (o.platform === 'windows') {
    return rules.windows ? compare(o.version, rules.windows.min, 'Windows version') : noMinimum(label);
  }
  const linux = rules.linux;
  if (!linux) return noMinimum(label);
  if (linux.minKernel && o.kernel) {
    const kernel = compare(o.kernel, linux.minKernel, 'kernel');
    if (kernel.verdict !== 'pass')
      return { ...kernel, code: kernel.code === 'os_too_old' ? 'kernel_too_old' : kernel.code };
  }
  const id = o.distroId ?? '';
  const min = linux.distros[id];
  if (o.rolling) {
    return linux.allowRolling
      ? verdict(
          c,
          'pass',
          'rolling_release',
          `${label} is a rolling release; it is judged by its patch level.`,
        )
      : verdict(
          c,
          'fail',
          'distro_not_allowed',
          `${label} is a rolling release, which the policy does not allow.`,
          remediation.distroNotAllowed,
        );
  }
  if (min === undefined) {
    return linux.allowUnlisted
      ? verdict(
          c,
          'pass',
          'distro_unlisted_allowed',
          `${label} has no minimum in the policy; unlisted distributions are allowed.`,
        )
      : verdict(
          c,
          'fail',
          'distro_not_allowed',
          `${label} (ID "${id}") is not a distribution the policy lists.`,
          remediation.distroNotAllowed,
        );
  }
  return compare(o.version, min, `${id} version`);
}

function noMinimum(label: string): CheckVerdict {
  return verdict(
    'os_version',
    'pass',
    'no_minimum',
    `${label}; the policy sets no minimum for this platform.`,
  );
}

function patchLevel(
  o: PatchLevelObservation,
  policy: Policy,
  platform: OsFamily | 'unsupported',
  now: Date,
  clocks: ExternalClocks,
): CheckVerdict {
  const rules = policy.checks.patch_level;
  const c = 'patch_level' as const;
  const days = (iso: string | undefined) =>
    iso === undefined ? undefined : (now.getTime() - Date.parse(iso)) / DAY_MS;
  const indexAge = days(o.indexRefreshedAt);
  // A stale update list makes "nothing pending" meaningless, so it is judged first.
  if (indexAge !== undefined && indexAge > rules.maxIndexAgeDays) {
    return verdict(
      c,
      'fail',
      'update_index_stale',
      `The list of available updates was last refreshed ${Math.floor(indexAge)} days ago (limit ${rules.maxIndexAgeDays}).`,
      remediation.refreshIndex(o.manager),
    );
  }
  // When the package manager cannot say which updates are security updates, every pending one counts.
  const security = o.updates.filter((u) => u.security || o.securityPending === null);
  const securityCount = o.securityPending ?? o.pending;
  if (securityCount > 0) {
    const kind =
      o.securityPending === null
        ? 'updates (which are security updates is not known, so all count)'
        : 'security updates';
    const oldest = oldestPending(security, clocks, days);
    if (oldest === undefined) {
      return verdict(
        c,
        'unknown',
        'update_age_unknown',
        `${securityCount} ${kind} pending; how long is not known (no publication date, and no earlier observation by this agent or the verifier).`,
        remediation.installUpdates(platform, o.manager),
      );
    }
    const since = `the oldest ${BASIS_WORDS[oldest.basis]} ${Math.floor(oldest.days)} days ago (limit ${rules.maxSecurityUpdateAgeDays})`;
    if (oldest.days > rules.maxSecurityUpdateAgeDays) {
      return {
        ...verdict(
          c,
          'fail',
          'security_updates_overdue',
          `${securityCount} ${kind} pending, ${since}.`,
          remediation.installUpdates(platform, o.manager),
        ),
        ageBasis: oldest.basis,
      };
    }
    const reboot = rebootVerdict(o, rules.maxRebootPendingDays, now);
    if (reboot) return reboot;
    return {
      ...verdict(
        c,
        'pass',
        'security_updates_within_grace',
        `${securityCount} ${kind} pending, ${since}.`,
        remediation.installUpdates(platform, o.manager),
      ),
      ageBasis: oldest.basis,
    };
  }
  const reboot = rebootVerdict(o, rules.maxRebootPendingDays, now);
  if (reboot) return reboot;
  if (indexAge === undefined) {
    // "Nothing pending" from a list of unknown age proves nothing.
    return verdict(
      c,
      'unknown',
      'index_age_unknown',
      'No security updates are listed, but when the list of available updates was last refreshed is not known.',
      remediation.refreshIndex(o.manager),
    );
  }
  return verdict(
    c,
    'pass',
    'up_to_date',
    o.pending > 0 ? `No security updates pending (${o.pending} other updates).` : 'No updates pending.',
  );
}

const BASIS_WORDS: Record<AgeBasis, string> = {
  published: 'published',
  agent_first_seen: 'first seen by this agent',
  verifier_first_seen: 'first reported to the verifier',
};

/**
 * The age of the oldest pending security update, from the earliest clock available for each: its
 * publication date (where the OS gives one), this agent's first sighting, and the verifier's own
 * record for the device (which a device cannot reset by deleting a file). Ties go to the clock
 * listed first, so a real publication date is named whenever it decides.
 */
function oldestPending(
  security: PatchLevelObservation['updates'],
  clocks: ExternalClocks,
  days: (iso: string | undefined) => number | undefined,
): { days: number; basis: AgeBasis } | undefined {
  const candidates: { days: number | undefined; basis: AgeBasis }[] = [
    ...security.flatMap((u) => [
      { days: days(u.releasedAt), basis: 'published' as const },
      { days: days(u.firstSeenAt), basis: 'agent_first_seen' as const },
    ]),
    { days: days(clocks.securityPendingSince), basis: 'verifier_first_seen' },
  ];
  let oldest: { days: number; basis: AgeBasis } | undefined;
  for (const a of candidates) {
    if (a.days === undefined || Number.isNaN(a.days)) continue;
    if (oldest === undefined || a.days > oldest.days) oldest = { days: a.days, basis: a.basis };
  }
  return oldest;
}

function rebootVerdict(
  o: PatchLevelObservation,
  maxDays: number | undefined,
  now: Date,
): CheckVerdict | undefined {
  if (maxDays === undefined || o.rebootRequired !== true) return undefined;
  const since =
    o.lastInstallAt === undefined ? undefined : (now.getTime() - Date.parse(o.lastInstallAt)) / DAY_MS;
  if (since === undefined || since > maxDays) {
    return verdict(
      'patch_level',
      'fail',
      'reboot_pending',
      `A restart is needed to finish installing updates${since === undefined ? '' : ` (installed ${Math.floor(since)} days ago)`}.`,
      remediation.reboot,
    );
  }
  return undefined;
}
