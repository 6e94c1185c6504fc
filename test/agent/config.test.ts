import { loadConfig, managedConfigPath, userConfigPath } from '../../src/agent/config.js';
import { ConfigInvalidError } from '../../src/shared/errors.js';

function files(map: Record<string, string>) {
  return (path: string) => map[path];
}

describe('loadConfig', () => {
  const base = { platform: 'linux' as const, home: '/home/ana', uid: 1000 };

  it('uses XDG defaults for a user, /var/cache for root', () => {
    expect(loadConfig({ ...base, env: {}, readText: files({}) }).cacheDir).toBe(
      '/home/ana/.cache/posture-agent',
    );
    expect(loadConfig({ ...base, uid: 0, env: {}, readText: files({}) }).cacheDir).toBe(
      '/var/cache/posture-agent',
    );
  });

  it('managed settings win over flags, environment and the user file', () => {
    const config = loadConfig({
      ...base,
      env: { POSTURE_POLICY: '/env/policy.yaml' },
      flags: { policyFile: '/flag/policy.yaml' },
      readText: files({
        [userConfigPath('linux', {}, '/home/ana')]:
          '{"policyFile":"/user/policy.yaml","patchCacheTtlMinutes":5}',
        [managedConfigPath('linux', {})]: '{"policyFile":"/etc/posture-agent/policy.yaml"}',
      }),
    });
    expect(config.policyFile).toBe('/etc/posture-agent/policy.yaml');
    expect(config.patchCacheTtlMs).toBe(5 * 60_000);
  });

  it('flags win over environment, environment over the user file', () => {
    const userFile = userConfigPath('linux', {}, '/home/ana');
    expect(
      loadConfig({
        ...base,
        env: { POSTURE_POLICY: '/env.yaml' },
        readText: files({ [userFile]: '{"policyFile":"/user.yaml"}' }),
      }).policyFile,
    ).toBe('/env.yaml');
    expect(
      loadConfig({
        ...base,
        env: { POSTURE_POLICY: '/env.yaml' },
        flags: { policyFile: '/flag.yaml' },
        readText: files({}),
      }).policyFile,
    ).toBe('/flag.yaml');
  });

  it.each([
    ['broken JSON', '{"policyFile": '],
    ['an unknown field', '{"polcyFile": "/x"}'],
    ['a wrong type', '{"patchCacheTtlMinutes": "soon"}'],
  ])('a managed file with %s is ERR_CONFIG_INVALID, never silently ignored', (_name, text) => {
    const read = files({ [managedConfigPath('linux', {})]: text });
    expect(() => loadConfig({ ...base, env: {}, readText: read })).toThrow(ConfigInvalidError);
  });

  it('refuses a keyFile that is one of the agent’s own state files (the key would be overwritten)', () => {
    const root = { platform: 'linux' as const, home: '/root', uid: 0, readText: files({}) };
    for (const keyFile of [
      '/var/lib/posture-agent/device-key.json',
      '/var/lib/posture-agent/../posture-agent/enrollment.json',
      '/var/lib/posture-agent/pending-first-seen.json',
    ])
      expect(() =>
        loadConfig({ ...root, env: { POSTURE_KEY_STORE: 'file', POSTURE_KEY_FILE: keyFile } }),
      ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    // Another stateDir, or another name in it: fine.
    expect(
      loadConfig({
        ...root,
        env: { POSTURE_KEY_FILE: '/var/lib/posture-agent/device-key.json', POSTURE_STATE_DIR: '/srv/state' },
      }).keyFile,
    ).toBe('/var/lib/posture-agent/device-key.json');
    expect(
      loadConfig({ ...root, env: { POSTURE_KEY_FILE: '/var/lib/posture-agent/device-private-key.json' } })
        .keyFile,
    ).toBe('/var/lib/posture-agent/device-private-key.json');
  });

  it('the daemon heartbeat: 60 s by default, a file may set 10 to 3600 s, anything else is ERR_CONFIG_INVALID', () => {
    const managed = managedConfigPath('linux', {});
    expect(loadConfig({ ...base, env: {}, readText: files({}) }).heartbeatSeconds).toBe(60);
    expect(
      loadConfig({ ...base, env: {}, readText: files({ [managed]: '{"heartbeatSeconds":300}' }) })
        .heartbeatSeconds,
    ).toBe(300);
    for (const bad of ['5', '3601', '1.5', '"60"'])
      expect(() =>
        loadConfig({ ...base, env: {}, readText: files({ [managed]: `{"heartbeatSeconds":${bad}}` }) }),
      ).toThrow(ConfigInvalidError);
  });

  it('a bad environment value is ERR_CONFIG_INVALID', () => {
    expect(() =>
      loadConfig({ ...base, env: { POSTURE_PATCH_CACHE_TTL_MINUTES: 'abc' }, readText: files({}) }),
    ).toThrow(ConfigInvalidError);
  });

  it('adminGroups: none by default; the managed file wins over the user file', () => {
    expect(loadConfig({ ...base, env: {}, readText: files({}) }).adminGroups).toEqual([]);
    const config = loadConfig({
      ...base,
      env: {},
      readText: files({
        [userConfigPath('linux', {}, '/home/ana')]: '{"adminGroups":["users"]}',
        [managedConfigPath('linux', {})]: '{"adminGroups":["posture-admins","domain admins@example.com"]}',
      }),
    });
    expect(config.adminGroups).toEqual(['posture-admins', 'domain admins@example.com']);
  });

  it.each([
    ['a leading "-" (read as a getent option)', '["-s"]'],
    ['a ":"', '["adm:x"]'],
    ['a control character', '["adm\\n"]'],
    ['an empty name', '[""]'],
    ['not a list', '"adm"'],
  ])('adminGroups with %s is ERR_CONFIG_INVALID', (_name, value) => {
    const read = files({ [managedConfigPath('linux', {})]: `{"adminGroups":${value}}` });
    expect(() => loadConfig({ ...base, env: {}, readText: read })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
