/**
 * A daemon whose configuration cannot run (a schedule that queries the package manager every 5
 * minutes) exits with its code before it listens, so the service manager sees the failure: before,
 * it printed ERR_SCHEDULE_INVALID and stayed up answering `starting` for ever. A reload with such a
 * schedule is refused and the running daemon keeps its sources (posture-daemon.test.ts covers the
 * daemon object; this runs the built CLI).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, posture } from '../../helpers/cli.js';
import { daemonEnv } from './daemon-process.js';

describe('posture daemon with a configuration it cannot run', () => {
  beforeAll(assertBuilt);

  it('exits 3 with ERR_SCHEDULE_INVALID before listening on its socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), `pa-refused-${process.pid}-`));
    try {
      const env = daemonEnv(dir);
      writeFileSync(
        env.POSTURE_CONFIG as string,
        JSON.stringify({
          schedule: { entries: [{ name: 'eager', cron: '*/5 * * * *', checks: ['patch_level'] }] },
        }),
      );
      const r = await posture(['daemon'], env);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('[ERR_SCHEDULE_INVALID]');
      expect(existsSync(env.POSTURE_SOCKET as string)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
