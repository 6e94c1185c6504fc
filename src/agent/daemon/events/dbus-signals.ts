/**
 * Sleep/resume and network changes from the D-Bus SYSTEM bus (@jellybrick/dbus-next, a
 * maintained fork of dbus-next, pinned in package.json):
 * - org.freedesktop.login1.Manager.PrepareForSleep(b start) from org.freedesktop.login1 at
 *   /org/freedesktop/login1 (logind; org.freedesktop.login1(5)): true before suspend, false after resume;
 * - org.freedesktop.NetworkManager.StateChanged(u state) from org.freedesktop.NetworkManager at
 *   /org/freedesktop/NetworkManager (NetworkManager D-Bus API; NM_STATE_CONNECTED_GLOBAL = 70).
 *
 * Signals on the system bus may be sent by any connection: a match rule names the sender, and
 * each signal's sender is compared with the current owner of the well-known name (GetNameOwner),
 * so another local user cannot forge a resume. Even a forged one could only cause a re-check.
 * The connection is re-made with a growing delay when it fails; polling covers the gap.
 */
import { Message, MessageType, sessionBus, type MessageBus } from '@jellybrick/dbus-next';
import type { EventSource, ProblemListener, Timers, Trigger, TriggerListener } from './trigger.js';
import { ALL_CHECKS, realTimers } from './trigger.js';

export const SYSTEM_BUS_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';

/**
 * The system bus's address as libdbus and sd-bus find it: DBUS_SYSTEM_BUS_ADDRESS when set (the
 * D-Bus specification, "Well-known Message Bus Instances"), else the standard socket.
 */
export function systemBusAddress(env: NodeJS.ProcessEnv): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || SYSTEM_BUS_ADDRESS;
}

interface WatchedSignal {
  sender: string;
  path: string;
  iface: string;
  member: string;
  toTrigger(body: unknown[], at: string): Trigger | undefined;
}

export const LOGIND_PREPARE_FOR_SLEEP: WatchedSignal = {
  sender: 'org.freedesktop.login1',
  path: '/org/freedesktop/login1',
  iface: 'org.freedesktop.login1.Manager',
  member: 'PrepareForSleep',
  toTrigger: (body, at) => {
    if (typeof body[0] !== 'boolean') return undefined;
    return body[0]
      ? { source: 'sleep', checks: [], at, detail: 'logind: going to sleep' }
      : { source: 'wake', checks: ALL_CHECKS, at, detail: 'logind: resumed' };
  },
};

export const NETWORKMANAGER_STATE_CHANGED: WatchedSignal = {
  sender: 'org.freedesktop.NetworkManager',
  path: '/org/freedesktop/NetworkManager',
  iface: 'org.freedesktop.NetworkManager',
  member: 'StateChanged',
  toTrigger: (body, at) => {
    if (typeof body[0] !== 'number') return undefined;
    // A new network may mean another firewall zone (firewalld) or profile.
    return { source: 'network', checks: ['firewall'], at, detail: `NetworkManager: state ${body[0]}` };
  },
};

export interface DbusSignalOptions {
  /** D-Bus address of the system bus; tests pass their own dbus-daemon's. */
  busAddress?: string;
  signals?: readonly WatchedSignal[];
  onTrigger: TriggerListener;
  onProblem?: ProblemListener;
  now?: () => Date;
  timers?: Timers;
  callTimeoutMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /**
   * How often to ask the bus whether the connection still lives (org.freedesktop.DBus.GetId).
   * The library reports a stream error but not a clean end of the connection (the bus
   * restarted), so without this a dead connection would look alive for ever.
   */
  healthMs?: number;
}

export function dbusSignalSource(options: DbusSignalOptions): EventSource & { connected(): boolean } {
  const signals = options.signals ?? [LOGIND_PREPARE_FOR_SLEEP, NETWORKMANAGER_STATE_CHANGED];
  const timers = options.timers ?? realTimers;
  const now = options.now ?? (() => new Date());
  const callTimeout = options.callTimeoutMs ?? 5_000;
  const minRetry = options.minRetryMs ?? 1_000;
  const maxRetry = options.maxRetryMs ?? 60_000;
  const healthMs = options.healthMs ?? 30_000;
  let healthTimer: unknown;
  let bus: MessageBus | undefined;
  let retryTimer: unknown;
  let delay = minRetry;
  let running = false;
  let ready = false;

  function problem(code: 'unavailable' | 'forged_signal', detail: string): void {
    options.onProblem?.({ source: 'dbus', code, detail });
  }

  async function connect(): Promise<void> {
    const current = sessionBus({
      busAddress: options.busAddress ?? SYSTEM_BUS_ADDRESS,
      authMethods: ['EXTERNAL'],
    });
    bus = current;
    // MessageBus emits 'error' (stream and handshake failures) though its typings list only
    // 'connect' and 'message'; an unheard 'error' would crash the daemon.
    (current as unknown as NodeJS.EventEmitter).on('error', (error: unknown) =>
      fail(current, `bus error: ${String(error)}`),
    );
    current.on('message', (message: Message) => void onMessage(current, message));
    try {
      for (const s of signals) {
        const rule = `type='signal',sender='${s.sender}',path='${s.path}',interface='${s.iface}',member='${s.member}'`;
        await call(current, 'AddMatch', 's', [rule]);
      }
      ready = true;
      delay = minRetry;
      scheduleHealthCheck(current);
    } catch (error) {
      fail(current, `cannot subscribe: ${String(error)}`);
    }
  }

  function scheduleHealthCheck(current: MessageBus): void {
    healthTimer = timers.setTimeout(() => {
      healthTimer = undefined;
      if (bus !== current) return;
      call(current, 'GetId', '', []).then(
        () => scheduleHealthCheck(current),
        (error: unknown) => fail(current, `bus not answering: ${String(error)}`),
      );
    }, healthMs);
  }

  function fail(which: MessageBus, detail: string): void {
    if (bus !== which) return; // an old connection's late error
    if (healthTimer !== undefined) timers.clearTimeout(healthTimer);
    healthTimer = undefined;
    ready = false;
    bus = undefined;
    which.disconnect();
    if (!running) return;
    problem('unavailable', `${detail}; retrying in ${delay} ms`);
    retryTimer = timers.setTimeout(() => {
      retryTimer = undefined;
      if (running) void connect();
    }, delay);
    delay = Math.min(maxRetry, delay * 2);
  }

  async function onMessage(current: MessageBus, message: Message): Promise<void> {
    if (message.type !== MessageType.SIGNAL) return;
    const watched = signals.find(
      (s) => s.path === message.path && s.iface === message.interface && s.member === message.member,
    );
    if (!watched) return;
    const sender = (message as Message & { sender?: string }).sender;
    let owner: unknown;
    try {
      owner = (await call(current, 'GetNameOwner', 's', [watched.sender]))[0];
    } catch {
      owner = undefined; // nobody owns the name: the signal cannot be genuine
    }
    if (owner === undefined || owner !== sender) {
      problem(
        'forged_signal',
        `${watched.member} from ${String(sender)}, not the owner of ${watched.sender}`,
      );
      return;
    }
    const trigger = watched.toTrigger(message.body as unknown[], now().toISOString());
    if (trigger) options.onTrigger(trigger);
  }

  async function call(
    current: MessageBus,
    member: string,
    signature: string,
    body: unknown[],
  ): Promise<unknown[]> {
    const message = new Message({
      type: MessageType.METHOD_CALL,
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    });
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = timers.setTimeout(() => reject(new Error(`${member} timed out`)), callTimeout);
    });
    try {
      const reply = await Promise.race([current.call(message), timeout]);
      return (reply?.body as unknown[] | undefined) ?? [];
    } finally {
      timers.clearTimeout(timer);
    }
  }

  return {
    name: 'dbus',
    connected: () => ready,
    async start() {
      if (running) return;
      running = true;
      await connect();
    },
    async stop() {
      running = false;
      ready = false;
      if (retryTimer !== undefined) timers.clearTimeout(retryTimer);
      if (healthTimer !== undefined) timers.clearTimeout(healthTimer);
      retryTimer = undefined;
      healthTimer = undefined;
      bus?.disconnect();
      bus = undefined;
    },
  };
}
