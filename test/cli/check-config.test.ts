/**
 * `posture check --policy`: the flag is a setting like any other, so a managed policy (IT's) wins over
 * it, and the user is told that the flag was not used.
 */
import { managedConfigPath, userConfigPath } from '../../src/agent/config.js';
import { checkConfig } from '../../src/cli/posture.js';

const base = { platform: 'linux' as const, home: '/home/ana', uid: 1000, env: {} };
const files = (map: Record<string, string>) => (path: string) => map[path];

describe('posture check --policy and managed settings', () => {
  it('a managed policy wins over --policy, and a notice names both', () => {
    const { config, notices } = checkConfig(
      { policy: '/home/ana/lenient.yaml' },
      {
        ...base,
        readText: files({
          [managedConfigPath('linux', {})]: '{"policyFile":"/etc/posture-agent/policy.yaml"}',
        }),
      },
    );
    expect(config.policyFile).toBe('/etc/posture-agent/policy.yaml');
    expect(config.sources.managed).toEqual(['policyFile']);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('/home/ana/lenient.yaml');
    expect(notices[0]).toContain('/etc/posture-agent/policy.yaml');
  });

  it('without a managed policy, --policy wins over the user file and says nothing', () => {
    const { config, notices } = checkConfig(
      { policy: '/home/ana/mine.yaml' },
      {
        ...base,
        readText: files({
          [userConfigPath('linux', {}, '/home/ana')]: '{"policyFile":"/home/ana/user.yaml"}',
          [managedConfigPath('linux', {})]: '{"patchCacheTtlMinutes":30}',
        }),
      },
    );
    expect(config.policyFile).toBe('/home/ana/mine.yaml');
    expect(notices).toEqual([]);
  });
});
