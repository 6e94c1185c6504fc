/**
 * A capture's agent state drives its replay as it drove the live check: the first-seen record
 * dates the pending updates, a stored cache entry stands in for its probe, and a malformed state
 * is refused with ERR_CAPTURE_INVALID, never fed to the policy.
 */
import { replayCapture } from '../../src/agent/check.js';
import { APT_ARGS, APT_GET } from '../../src/probes/patch-level/linux.js';
import { parseCapture } from '../../src/probes/capture.js';
import { CaptureInvalidError } from '../../src/shared/errors.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import { buildCapture } from '../helpers/capture.js';
import { testConfig } from '../helpers/config.js';
import { fixture } from '../helpers/fixtures.js';

const capturedAt = '2026-11-20T10:00:00.000Z';
const day = 86_400_000;
const base = buildCapture({
  os: 'linux',
  capturedAt,
  commands: [
    {
      command: APT_GET,
      args: APT_ARGS,
      stdout: fixture('linux/apt/ubuntu-22.04-apt-get-s-upgrade-security-pockets.txt'),
    },
  ],
  stats: { '/var/lib/apt/periodic/update-success-stamp': Date.parse(capturedAt) - day },
});
const patchVerdict = async (capture: typeof base) =>
  (await replayCapture(capture, 'x.json', testConfig(), DEFAULT_POLICY)).evaluation.checks.find(
    (c) => c.check === 'patch_level',
  );

describe('replay with the captured agent state', () => {
  it('without agent state (an older capture) the age of pending updates is unknown', async () => {
    expect(await patchVerdict(base)).toMatchObject({ verdict: 'unknown', code: 'update_age_unknown' });
  });

  it('the captured first-seen record dates the updates as the live check did', async () => {
    const old = new Date(Date.parse(capturedAt) - 30 * day).toISOString();
    const seen = Object.fromEntries(
      ['bsdutils', 'gzip', 'tar', 'distro-info-data'].map((n) => [`apt:${n}`, old]),
    );
    const verdict = await patchVerdict({ ...base, agentState: { pendingFirstSeen: seen } });
    expect(verdict).toMatchObject({
      verdict: 'fail',
      code: 'security_updates_overdue',
      ageBasis: 'agent_first_seen',
    });
  });

  it('an empty record counts from the capture time, as a first live check would', async () => {
    expect(await patchVerdict({ ...base, agentState: { pendingFirstSeen: {} } })).toMatchObject({
      verdict: 'pass',
      code: 'security_updates_within_grace',
      ageBasis: 'agent_first_seen',
    });
  });

  it('a stored cache entry is served instead of the recorded outputs, as the live check served it', async () => {
    const cached = {
      check: 'patch_level' as const,
      storedAt: Date.parse(capturedAt) - 60_000,
      platform: 'linux',
      result: {
        check: 'patch_level' as const,
        status: 'observed' as const,
        observedAt: new Date(Date.parse(capturedAt) - 60_000).toISOString(),
        evidence: [{ kind: 'command' as const, command: APT_GET, args: APT_ARGS, exitCode: 0 }],
        observation: {
          manager: 'apt' as const,
          pending: 0,
          securityPending: 0,
          updates: [],
          indexRefreshedAt: new Date(Date.parse(capturedAt) - day).toISOString(),
          rebootRequired: null,
        },
      },
    };
    expect(await patchVerdict({ ...base, agentState: { probeCache: [cached] } })).toMatchObject({
      verdict: 'pass',
      code: 'up_to_date',
    });
  });

  it.each([
    ['a first-seen time that is no date', { pendingFirstSeen: { 'apt:x': 'yesterday' } }],
    [
      'a cached result that is not a patch observation',
      {
        probeCache: [
          { check: 'patch_level', storedAt: 1, platform: 'linux', result: { status: 'observed' } },
        ],
      },
    ],
    ['a cache entry for a check that is never cached', { probeCache: [{ check: 'firewall' }] }],
  ])('refuses %s with ERR_CAPTURE_INVALID', (_name, agentState) => {
    const text = JSON.stringify({ ...base, agentState });
    expect(() => parseCapture(text)).toThrow(CaptureInvalidError);
  });
});
