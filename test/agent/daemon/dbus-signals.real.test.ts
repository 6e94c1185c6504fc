/**
 * The D-Bus event source against a real dbus-daemon standing in for the system bus: test
 * connections own org.freedesktop.login1 and org.freedesktop.NetworkManager and emit
 * PrepareForSleep and StateChanged; a connection that owns neither emits the same signals and
 * must be ignored; the bus goes away and comes back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message, MessageType, sessionBus, type MessageBus } from '@jellybrick/dbus-next';
import { dbusSignalSource } from '../../../src/agent/daemon/events/dbus-signals.js';
import type { SourceProblem, Trigger } from '../../../src/agent/daemon/events/trigger.js';
import { ALL_CHECKS } from '../../../src/agent/daemon/events/trigger.js';
import { describeWithPart, executable } from './real-parts.js';
import { DBUS_DAEMON, startSystemBus, type TestBus } from './system-bus.js';

const describeReal = describeWithPart(executable(DBUS_DAEMON), DBUS_DAEMON);

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

async function connected(address: string): Promise<MessageBus> {
  const bus = sessionBus({ busAddress: address, authMethods: ['EXTERNAL'] });
  await new Promise<void>((resolve) => bus.once('connect', () => resolve()));
  return bus;
}

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeReal('dbusSignalSource on a stand-in system bus', () => {
  let dir: string;
  let bus: TestBus;
  const clients: MessageBus[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `pa-dbus-${process.pid}-`));
    bus = await startSystemBus(dir);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('logind PrepareForSleep and NetworkManager StateChanged from their owners trigger; forgeries do not', async () => {
    const triggers: Trigger[] = [];
    const problems: SourceProblem[] = [];
    const source = dbusSignalSource({
      busAddress: bus.address,
      onTrigger: (t) => triggers.push(t),
      onProblem: (p) => problems.push(p),
    });
    await source.start();
    expect(source.connected()).toBe(true);
    try {
      const logind = await connected(bus.address);
      const nm = await connected(bus.address);
      const forger = await connected(bus.address);
      clients.push(logind, nm, forger);
      await logind.requestName('org.freedesktop.login1', 0);
      await nm.requestName('org.freedesktop.NetworkManager', 0);

      forger.send(sleepSignal(false));
      forger.send(networkSignal(70));
      // a unicast signal reaches its destination whatever the match rules: aim one at every peer
      const names = await forger.call(
        new Message({
          destination: 'org.freedesktop.DBus',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'ListNames',
        }),
      );
      for (const name of (names?.body[0] as string[]).filter((n) => n.startsWith(':') && n !== forger.name)) {
        const aimed = sleepSignal(false);
        aimed.destination = name;
        forger.send(aimed);
      }
      await waitFor(() => problems.some((p) => p.code === 'forged_signal'));
      logind.send(sleepSignal(true));
      await waitFor(() => triggers.length >= 1);
      logind.send(sleepSignal(false));
      nm.send(networkSignal(70));
      await waitFor(() => triggers.length >= 3);
      await new Promise((r) => setTimeout(r, 200)); // room for a forgery to arrive, were it let through

      expect(triggers.map((t) => t.source)).toEqual(['sleep', 'wake', 'network']);
      expect(triggers[0]?.checks).toEqual([]);
      expect(triggers[1]?.checks).toEqual(ALL_CHECKS);
      expect(triggers[2]).toMatchObject({ checks: ['firewall'], detail: expect.stringContaining('70') });
      expect(problems.filter((p) => p.code === 'unavailable')).toEqual([]);
    } finally {
      await source.stop();
    }
  });

  it('a bus that goes away is reported, and the source reconnects when it is back', async () => {
    const triggers: Trigger[] = [];
    const problems: SourceProblem[] = [];
    const source = dbusSignalSource({
      busAddress: bus.address,
      onTrigger: (t) => triggers.push(t),
      onProblem: (p) => problems.push(p),
      minRetryMs: 100,
      maxRetryMs: 200,
      callTimeoutMs: 1_000,
      healthMs: 200,
    });
    await source.start();
    try {
      await bus.stop();
      await waitFor(() => problems.some((p) => p.code === 'unavailable'));
      bus = await startSystemBus(dir);
      await waitFor(() => source.connected());
      const logind = await connected(bus.address);
      clients.push(logind);
      await logind.requestName('org.freedesktop.login1', 0);
      logind.send(sleepSignal(false));
      await waitFor(() => triggers.length >= 1);
      expect(triggers[0]?.source).toBe('wake');
    } finally {
      await source.stop();
    }
  });
});
