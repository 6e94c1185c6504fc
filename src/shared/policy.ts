/**
 * The posture policy: what the organisation requires. Validated strictly: an unknown or
 * mistyped field is an error that names the field, never silently ignored.
 * Documented in docs/policy.md; the built-in default is DEFAULT_POLICY.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PolicyInvalidError } from './errors.js';
import { parseVersion } from './version.js';

const versionString = z.string().refine((s) => parseVersion(s) !== null, {
  message: 'must be a dotted version such as "14.5" or "10.0.22631"',
});

const checkBase = {
  /** false: the check is reported but never blocks access (verdict not_applicable). */
  required: z.boolean().default(true),
};

export const policySchema = z
  .object({
    version: z.literal(1, { message: 'must be 1 (the only policy format so far)' }),
    /** Free text naming this revision; every decision carries it. */
    revision: z.string().min(1).max(200).default('builtin-default'),
    checks: z
      .object({
        disk_encryption: z
          .object({
            ...checkBase,
            /** Whether a volume that is still encrypting counts as encrypted. */
            allowEncryptionInProgress: z.boolean().default(false),
            /** Whether swap must be encrypted too (it holds pages of memory at rest). */
            requireSwap: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        firewall: z
          .object({
            ...checkBase,
            /** Windows: every profile (domain, private, public) must be on, not only the active one. */
            requireAllProfiles: z.boolean().default(true),
            /** Linux: IPv6 must be filtered too. */
            requireIpv6: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        os_version: z
          .object({
            ...checkBase,
            macos: z.object({ min: versionString }).strict().optional(),
            /** Compared against "10.0.<build>.<ubr>". */
            windows: z.object({ min: versionString }).strict().optional(),
            linux: z
              .object({
                /** Minimum VERSION_ID per os-release ID, e.g. { "ubuntu": "22.04" }. */
                distros: z.record(z.string().min(1), versionString).default({}),
                /** Distros without VERSION_ID (Arch, Tumbleweed…) are judged by patch level alone. */
                allowRolling: z.boolean().default(true),
                /** Whether a distro missing from `distros` passes. */
                allowUnlisted: z.boolean().default(false),
                minKernel: versionString.optional(),
              })
              .strict()
              .optional(),
          })
          .strict()
          .prefault({}),
        patch_level: z
          .object({
            ...checkBase,
            /** A security update may stay pending at most this many days. */
            maxSecurityUpdateAgeDays: z.number().int().min(0).max(365).default(14),
            /** The update list must have been refreshed within this many days, or "none pending" proves nothing. */
            maxIndexAgeDays: z.number().int().min(1).max(365).default(7),
            /** A pending reboot for installed updates fails after this many days; absent: a pending reboot never fails. */
            maxRebootPendingDays: z.number().int().min(0).max(365).optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

/**
 * The built-in default mirrors a common access policy: every data volume encrypted, firewall on,
 * a supported OS, no security update pending for more than 14 days.
 */
export const DEFAULT_POLICY: Policy = validatePolicy({
  version: 1,
  revision: 'builtin-default-2026-11',
  checks: {
    disk_encryption: {},
    firewall: {},
    os_version: {
      macos: { min: '15.0' },
      windows: { min: '10.0.26100' },
      linux: {
        distros: {
          debian: '12',
          ubuntu: '22.04',
          fedora: '42',
          rhel: '9',
          rocky: '9',
          almalinux: '9',
          centos: '9',
          'opensuse-leap': '15.6',
          sles: '15.6',
        },
      },
    },
    patch_level: {},
  },
});

/** Validates a parsed policy object. Throws PolicyInvalidError (ERR_POLICY_INVALID) naming each bad field. */
export function validatePolicy(input: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(input);
  if (result.success) return result.data;
  throw new PolicyInvalidError(
    result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
    source,
  );
}

/** Parses policy text (JSON or YAML; JSON is YAML) and validates it. */
export function parsePolicy(text: string, source = 'policy'): Policy {
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 50 });
  } catch (cause) {
    const message = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : String(cause);
    throw new PolicyInvalidError([{ path: '', message: `not valid YAML or JSON: ${message}` }], source);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new PolicyInvalidError(
      [{ path: '', message: 'must be an object with "version" and "checks"' }],
      source,
    );
  }
  return validatePolicy(data, source);
}
