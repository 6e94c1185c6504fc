/**
 * A daemon whose configuration cannot run (a schedule that queries the package manager every 5
 * minutes) exits with its code before it listens, so the service manager sees the failure: before,
 * it printed ERR_SCHEDULE_INVALID and stayed up answering `starting` for ever. A reload with such a
 * schedule is refused and the running daemon keeps its sources (posture-daemon.test.ts covers the
 * daemon object; this runs the built CLI).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, posture } from '../../helpers/cli.js';
import { daemonEnv, startDaemon, waitFor } from './daemon-process.js';

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

  it('stops cleanly (exit 0) on SIGTERM while its start still waits for a source', async () => {
    const dir = mkdtempSync(join(tmpdir(), `pa-early-term-${process.pid}-`));
    // A "system bus" that takes the connection and never answers: the D-Bus source's start waits.
    const held = new Set<Socket>();
    const silentBus = createServer((c) => void held.add(c));
    const busPath = join(dir, 'silent-bus.sock');
    await new Promise<void>((resolve) => silentBus.listen(busPath, () => resolve()));
    try {
      const env = daemonEnv(dir, { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${busPath}` });
      const daemon = startDaemon({ env });
      await waitFor('the socket (the start goes on with the sources)', () =>
        existsSync(env.POSTURE_SOCKET as string) ? true : undefined,
      );
      await waitFor('the bus connection held', () => (held.size > 0 ? true : undefined));
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
      expect(daemon.logs.some((l) => l.event === 'stopped')).toBe(true);
    } finally {
      for (const c of held) c.destroy();
      silentBus.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
