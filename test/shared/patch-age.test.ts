/**
 * The age of pending security updates: the earliest of the publication date, this agent's first
 * sighting and the verifier's record, with the verdict naming which one decided.
 */
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import type { PatchLevelObservation, PendingUpdate, PostureChecks } from '../../src/shared/posture.js';

const now = new Date('2026-06-30T00:00:00Z');
const ago = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

function patch(updates: PendingUpdate[], extra: Partial<PatchLevelObservation> = {}): PostureChecks {
  return {
    patch_level: {
      check: 'patch_level',
      status: 'observed',
      observedAt: now.toISOString(),
      evidence: [],
      observation: {
        manager: 'dnf',
        pending: updates.length,
        securityPending: updates.filter((u) => u.security).length,
        updates,
        indexRefreshedAt: ago(1),
        rebootRequired: false,
        ...extra,
      },
    },
  };
}

const verdict = (checks: PostureChecks, securityPendingSince?: string) =>
  evaluatePosture(
    checks,
    DEFAULT_POLICY,
    'linux',
    now,
    securityPendingSince ? { securityPendingSince } : {},
  ).checks.find((c) => c.check === 'patch_level');

describe('age of pending security updates', () => {
  it('a deleted first-seen file does not reset the age when the verifier saw the updates earlier', () => {
    // The agent's own record is fresh (file deleted yesterday); the verifier first saw them 40 days ago.
    const checks = patch([{ name: 'openssl', security: true, firstSeenAt: ago(1) }]);
    expect(verdict(checks)).toMatchObject({ verdict: 'pass', ageBasis: 'agent_first_seen' });
    expect(verdict(checks, ago(40))).toMatchObject({
      verdict: 'fail',
      code: 'security_updates_overdue',
      ageBasis: 'verifier_first_seen',
    });
  });

  it('a publication date older than both sightings decides and is named', () => {
    const checks = patch([{ name: 'kernel', security: true, releasedAt: ago(30), firstSeenAt: ago(2) }]);
    expect(verdict(checks, ago(3))).toMatchObject({ verdict: 'fail', ageBasis: 'published' });
  });

  it('the agent sighting decides when it is the earliest', () => {
    const checks = patch([{ name: 'kernel', security: true, releasedAt: ago(3), firstSeenAt: ago(20) }]);
    expect(verdict(checks, ago(5))).toMatchObject({ verdict: 'fail', ageBasis: 'agent_first_seen' });
  });

  it('with no date on the device, the verifier clock alone gives the age', () => {
    const checks = patch([{ name: 'kernel', security: true }]);
    expect(verdict(checks)).toMatchObject({ verdict: 'unknown', code: 'update_age_unknown' });
    expect(verdict(checks, ago(2))).toMatchObject({
      verdict: 'pass',
      code: 'security_updates_within_grace',
      ageBasis: 'verifier_first_seen',
    });
  });

  it('the verifier clock is irrelevant when nothing security is pending', () => {
    const checks = patch([{ name: 'vim', security: false }]);
    expect(verdict(checks, ago(100))).toMatchObject({ verdict: 'pass', code: 'up_to_date' });
    expect(verdict(checks, ago(100))?.ageBasis).toBeUndefined();
  });

  it('an unparsable clock is ignored, never read as "now"', () => {
    const checks = patch([{ name: 'kernel', security: true, firstSeenAt: 'not a date' }]);
    expect(verdict(checks, 'garbage')).toMatchObject({ verdict: 'unknown', code: 'update_age_unknown' });
  });
});
