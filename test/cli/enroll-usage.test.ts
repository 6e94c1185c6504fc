/**
 * `posture enroll --server` that is not an http(s) URL (a host name alone, a typo) is bad usage,
 * exit 3 ERR_USAGE, found before a key is made or a probe runs: not ERR_SERVER_UNREACHABLE (exit 7,
 * "retry later"), which no retry would fix.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnv, assertBuilt, posture } from '../helpers/cli.js';

beforeAll(() => assertBuilt());

describe('posture enroll --server, checked before anything is done', () => {
  it.each(['posture.example.com', 'localhost:8443', 'ftp://posture.example.com', ''])(
    '--server "%s" exits 3 with ERR_USAGE and makes no key',
    async (server) => {
      const { dir, env } = agentEnv();
      const out = await posture(['enroll', '--server', server, '--token', 'unused', '--json'], env);
      expect(out.code).toBe(3);
      expect(JSON.parse(out.stdout)).toMatchObject({ error: { code: 'ERR_USAGE', exitCode: 3 } });
      expect(existsSync(join(dir, 'device-key.json'))).toBe(false);
      expect(existsSync(join(dir, 'state')) ? readdirSync(join(dir, 'state')) : []).toEqual([]);
    },
    60_000,
  );
});
