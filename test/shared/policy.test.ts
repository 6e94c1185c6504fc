import { PolicyInvalidError } from '../../src/shared/errors.js';
import { DEFAULT_POLICY, parsePolicy, validatePolicy } from '../../src/shared/policy.js';

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyInvalidError);
    expect((error as PolicyInvalidError).code).toBe('ERR_POLICY_INVALID');
    return [...(error as PolicyInvalidError).issues];
  }
  throw new Error('expected the policy to be refused');
}

describe('policy', () => {
  it('fills defaults for a minimal policy', () => {
    const p = parsePolicy('version: 1\nrevision: r1\n');
    expect(p.revision).toBe('r1');
    expect(p.checks.disk_encryption).toEqual({
      required: true,
      allowEncryptionInProgress: false,
      requireSwap: true,
    });
    expect(p.checks.patch_level.maxSecurityUpdateAgeDays).toBe(14);
  });

  it('reads JSON and YAML alike', () => {
    const yaml = parsePolicy('version: 1\nchecks:\n  os_version:\n    macos: { min: "14.5" }\n');
    const json = parsePolicy('{"version":1,"checks":{"os_version":{"macos":{"min":"14.5"}}}}');
    expect(yaml).toEqual(json);
    expect(yaml.checks.os_version.macos?.min).toBe('14.5');
  });

  it('names every bad field', () => {
    const issues = issuesOf(() =>
      parsePolicy(
        JSON.stringify({
          version: 1,
          checks: {
            firewall: { required: 'yes' },
            os_version: { macos: { min: 'sonoma' } },
            patch_level: { maxSecurityUpdateAgeDays: -3 },
          },
        }),
      ),
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'checks.firewall.required',
      'checks.os_version.macos.min',
      'checks.patch_level.maxSecurityUpdateAgeDays',
    ]);
  });

  it('refuses unknown fields instead of ignoring them', () => {
    const issues = issuesOf(() => parsePolicy('version: 1\nchecks:\n  firewal: {}\n'));
    expect(issues[0]?.path).toBe('checks');
  });

  it.each([
    ['not YAML', 'version: [1'],
    ['a list', '- 1\n- 2'],
    ['a string', '"hello"'],
    ['empty', ''],
    ['wrong version', 'version: 2'],
  ])('refuses %s with ERR_POLICY_INVALID', (_name, text) => {
    expect(issuesOf(() => parsePolicy(text)).length).toBeGreaterThan(0);
  });

  it('the built-in default is itself valid and requires every check', () => {
    expect(validatePolicy(DEFAULT_POLICY)).toEqual(DEFAULT_POLICY);
    for (const check of Object.values(DEFAULT_POLICY.checks)) expect(check.required).toBe(true);
  });
});
