/**
 * Triggers through the whole built daemon (`node dist/cli/main.js daemon`), the poll set to once a
 * year so a re-check seen here cannot be the poll's:
 * - a real dbus-daemon standing in for the system bus (DBUS_SYSTEM_BUS_ADDRESS): logind's
 *   PrepareForSleep(false) → a re-check with trigger `wake`; NetworkManager's StateChanged →
 *   `network`; the same signals from a connection that owns neither name → nothing;
 * - the daemon's wall clock moved forward by libfaketime (monotonic left real) → `clock_jump`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message, MessageType, sessionBus, type MessageBus } from '@jellybrick/dbus-next';
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import { daemonEnv, rechecks, startDaemon, waitFor, type RunningDaemon } from './daemon-process.js';
import { executable } from './real-parts.js';
import { DBUS_DAEMON, startSystemBus, type TestBus } from './system-bus.js';

/** libfaketime (Debian package libfaketime, pulled by `faketime`); the MT build for Node's threads. */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

const sleepSignal = (start: boolean) =>
  new Message({
    type: MessageType.SIGNAL,
    path: '/org/freedesktop/login1',
    interface: 'org.freedesktop.login1.Manager',
    member: 'PrepareForSleep',
    signature: 'b',
    body: [start],
  });
const networkSignal = (state: number) =>
  new Message({
    type: MessageType.SIGNAL,
    path: '/org/freedesktop/NetworkManager',
    interface: 'org.freedesktop.NetworkManager',
    member: 'StateChanged',
    signature: 'u',
    body: [state],
  });

async function connected(address: string, owns?: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address, authMethods: ['EXTERNAL'] });
  await new Promise<void>((resolve) => bus.once('connect', () => resolve()));
  if (owns) await bus.requestName(owns, 0);
  return bus;
}

/** A round trip to the bus: every message this connection sent before is processed by then. */
async function flushed(bus: MessageBus): Promise<void> {
  await bus.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
    }),
  );
}

const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

describeWith(DBUS_DAEMON, executable(DBUS_DAEMON))(
  'posture daemon: D-Bus triggers on a stand-in system bus',
  () => {
    beforeAll(assertBuilt);
    let dir: string;
    let bus: TestBus | undefined;
    let daemon: RunningDaemon | undefined;
    const clients: MessageBus[] = [];

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), `pa-dtrig-${unique()}-`));
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.disconnect();
      await daemon?.kill9();
      await bus?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('re-checks on resume and on a network change, and ignores the same signals from a non-owner', async () => {
      bus = await startSystemBus(dir);
      const env = daemonEnv(dir, { DBUS_SYSTEM_BUS_ADDRESS: bus.address });
      daemon = startDaemon({ env });
      await daemon.waitForLog('the startup re-check', (l) => l.event === 'recheck');

      const logind = await connected(bus.address, 'org.freedesktop.login1');
      const nm = await connected(bus.address, 'org.freedesktop.NetworkManager');
      const forger = await connected(bus.address);
      clients.push(logind, nm, forger);

      // The daemon subscribes a moment after it starts: resume until a `wake` re-check is logged.
      await waitFor('a wake re-check', async () => {
        if (rechecks(daemon!.logs).some((l) => l.trigger?.includes('wake'))) return true;
        logind.send(sleepSignal(false));
        await new Promise((r) => setTimeout(r, 1000));
        return undefined;
      });
      const woke = await waitFor('status after the wake', async () => {
        const s = await daemon!.status();
        return s?.status.lastRecheck?.trigger === 'wake' ? s : undefined;
      });
      expect(woke.status.lastRecheck?.checks).toEqual(
        expect.arrayContaining(['firewall', 'disk_encryption', 'os_version', 'patch_level']),
      );
      // Going to sleep queues no re-check.
      logind.send(sleepSignal(true));
      await flushed(logind);

      // Forged: the same signals from a connection that owns neither name, processed by the bus
      // before the genuine network change below.
      const seen = daemon.logs.length;
      forger.send(sleepSignal(false));
      forger.send(networkSignal(70));
      await flushed(forger);
      nm.send(networkSignal(70));
      await flushed(nm);
      const network = await daemon.waitForLog(
        'a network re-check',
        (l) => l.event === 'recheck' && !!l.trigger?.includes('network'),
        seen,
      );
      expect(network.checks).toEqual(['firewall']);
      const status = await waitFor('status after the network change', async () => {
        const s = await daemon!.status();
        return s?.status.lastRecheck?.trigger === 'network' ? s : undefined;
      });
      expect(status.status.lastRecheck?.checks).toEqual(['firewall']);
      // Whatever came after the wake: never a wake again (neither the forged one nor sleep), and one network change.
      await new Promise((r) => setTimeout(r, 3000));
      const later = rechecks(daemon.logs.slice(seen));
      expect(later.filter((l) => l.trigger?.includes('wake'))).toHaveLength(0);
      expect(later.filter((l) => l.trigger?.includes('network'))).toHaveLength(1);
    }, 120_000);
  },
);

describeWith(`libfaketime (${LIBFAKETIME})`, existsSync(LIBFAKETIME))(
  'posture daemon: a wall-clock jump',
  () => {
    beforeAll(assertBuilt);

    it('re-checks everything with trigger clock_jump when its wall clock moves forward', async () => {
      const dir = mkdtempSync(join(tmpdir(), `pa-dclock-${unique()}-`));
      const offset = join(dir, 'faketime-offset');
      writeFileSync(offset, '+0\n');
      // libfaketime reads the offset file at every call (no cache) and leaves the monotonic clock
      // real: the wall clock alone jumps, as when the time is set or the machine wakes.
      const env = daemonEnv(dir, {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: offset,
        FAKETIME_NO_CACHE: '1',
        FAKETIME_DONT_FAKE_MONOTONIC: '1',
      });
      const daemon = startDaemon({ env });
      try {
        await daemon.waitForLog('the startup re-check', (l) => l.event === 'recheck');
        const seen = daemon.logs.length;
        expect(rechecks(daemon.logs).some((l) => l.trigger?.includes('clock_jump'))).toBe(false);
        writeFileSync(offset, '+2h\n');
        const jumped = await daemon.waitForLog(
          'a clock_jump re-check',
          (l) => l.event === 'recheck' && !!l.trigger?.includes('clock_jump'),
          seen,
        );
        expect(jumped.checks).toEqual(
          expect.arrayContaining(['firewall', 'disk_encryption', 'os_version', 'patch_level']),
        );
        const status = await waitFor('status after the jump', async () => {
          const s = await daemon.status();
          return s?.status.lastRecheck?.trigger === 'clock_jump' ? s : undefined;
        });
        // The daemon's clock is two hours ahead of this process's: its re-check says so.
        expect(Date.parse(status.status.lastRecheck?.finishedAt ?? '')).toBeGreaterThan(
          Date.now() + 3_600_000,
        );
      } finally {
        await daemon.kill9();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  },
);
