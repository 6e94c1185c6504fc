/** The pure steps of a re-check: merging, verdict changes, observation changes, when to attest. */
import {
  attestationDue,
  mergeReport,
  observationsChanged,
  renewBeforeMs,
  verdictChanges,
} from '../../../src/agent/daemon/posture-state.js';
import type { PostureReport } from '../../../src/shared/posture.js';

const fw = (enabled: boolean, at: string) => ({
  check: 'firewall',
  status: 'observed',
  observedAt: at,
  evidence: [],
  observation: { enabled },
});
const report = (checks: Record<string, unknown>): PostureReport =>
  ({
    schema: 'posture-report/v1',
    collectedAt: '2026-01-01T00:00:00.000Z',
    platform: 'linux',
    agent: { name: 'posture-agent', version: 't' },
    device: {},
    checks,
  }) as unknown as PostureReport;

describe('re-check steps', () => {
  it('a partial re-probe replaces only its checks', () => {
    const before = report({
      firewall: fw(true, 'a'),
      os_version: { check: 'os_version', status: 'unknown' },
    });
    const merged = mergeReport(before, report({ firewall: fw(false, 'b') }));
    expect(merged.checks.firewall).toEqual(fw(false, 'b'));
    expect(merged.checks.os_version).toEqual(before.checks.os_version);
  });

  it('an observation that only got newer is no change; a different one is', () => {
    const before = report({ firewall: fw(true, 'a') });
    expect(observationsChanged(before, report({ firewall: fw(true, 'b') }), ['firewall'])).toBe(false);
    expect(observationsChanged(before, report({ firewall: fw(false, 'b') }), ['firewall'])).toBe(true);
    expect(observationsChanged(undefined, before, ['firewall'])).toBe(true);
  });

  it('verdict changes name from and to', () => {
    const check = (verdict: 'pass' | 'fail', code: string) => ({
      check: 'firewall' as const,
      verdict,
      code,
      reason: '',
      observedAt: '2026-01-01T00:00:00.000Z',
    });
    const posture = (c: ReturnType<typeof check>) => ({
      overall: c.verdict,
      policyRevision: 'r',
      evaluatedAt: '2026-01-01T00:00:00.000Z',
      checks: [c],
    });
    expect(
      verdictChanges(posture(check('pass', 'firewall_on')), posture(check('fail', 'firewall_off'))),
    ).toEqual([{ check: 'firewall', from: 'pass:firewall_on', to: 'fail:firewall_off' }]);
    expect(
      verdictChanges(posture(check('pass', 'firewall_on')), posture(check('pass', 'firewall_on'))),
    ).toEqual([]);
    expect(verdictChanges(null, posture(check('pass', 'firewall_on')))[0]?.from).toBeNull();
  });

  it('attests when there is none, on change, and near expiry only', () => {
    const lead = renewBeforeMs(600);
    expect(lead).toBe(120_000);
    expect(renewBeforeMs(60)).toBe(30_000);
    expect(attestationDue({ current: undefined, changed: false, nowMs: 0, renewBeforeMs: lead })).toBe(true);
    expect(
      attestationDue({ current: { expiresAt: 600_000 }, changed: true, nowMs: 0, renewBeforeMs: lead }),
    ).toBe(true);
    expect(
      attestationDue({ current: { expiresAt: 600_000 }, changed: false, nowMs: 0, renewBeforeMs: lead }),
    ).toBe(false);
    expect(
      attestationDue({
        current: { expiresAt: 600_000 },
        changed: false,
        nowMs: 480_000,
        renewBeforeMs: lead,
      }),
    ).toBe(true);
  });
});
