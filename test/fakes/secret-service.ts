/**
 * A real Secret Service for tests: a private D-Bus session bus and gnome-keyring-daemon on it,
 * with a fresh login keyring in a temporary HOME. A process reaches it through DBUS_SESSION_BUS_ADDRESS,
 * exactly as in a desktop session; `useSecretService` points this process at it.
 *
 * The bus runs with its own configuration (dbus-session.conf beside this file), which activates no
 * service: the machine's session.conf would start its installed gnome-keyring on demand, so a "bus
 * without a Secret Service" would get one anyway, locked or not depending on the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The test buses' D-Bus configuration: no service directories, so nothing is started on demand. */
export const SESSION_BUS_CONFIG = fileURLToPath(new URL('./dbus-session.conf', import.meta.url));

export interface SecretService {
  address: string;
  stop(): Promise<void>;
}

export function secretServiceAvailable(): boolean {
  return existsSync('/usr/bin/dbus-daemon') && existsSync('/usr/bin/gnome-keyring-daemon');
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('dbus-daemon did not print its address')), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buffer.slice(0, nl).trim());
      }
    });
    child.on('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
}

export async function startSecretService(
  options: { unlock: boolean; keyring?: boolean } = { unlock: true },
): Promise<SecretService> {
  const home = mkdtempSync(join(tmpdir(), 'posture-keyring-'));
  const bus = spawn(
    '/usr/bin/dbus-daemon',
    [
      `--config-file=${SESSION_BUS_CONFIG}`,
      '--nofork',
      '--print-address=1',
      `--address=unix:path=${join(home, 'bus')}`,
    ],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const address = await firstLine(bus);
  const env = {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_RUNTIME_DIR: home,
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  if (options.keyring === false) {
    return {
      address,
      async stop() {
        bus.kill('SIGTERM');
      },
    };
  }
  const keyring = spawn(
    '/usr/bin/gnome-keyring-daemon',
    ['--foreground', '--components=secrets', ...(options.unlock ? ['--unlock'] : [])],
    {
      env,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  if (options.unlock) keyring.stdin?.end('test-password');
  else keyring.stdin?.end();
  await waitForName(address);
  return {
    address,
    async stop() {
      keyring.kill('SIGTERM');
      bus.kill('SIGTERM');
    },
  };
}

/** `dbus-send` arguments asking whether the Secret Service name is owned on the session bus. */
const NAME_HAS_OWNER = [
  '--session',
  '--print-reply',
  '--dest=org.freedesktop.DBus',
  '/org/freedesktop/DBus',
  'org.freedesktop.DBus.NameHasOwner',
  'string:org.freedesktop.secrets',
];

/** Waits until org.freedesktop.secrets is owned on the bus (gnome-keyring has started). */
async function waitForName(address: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const owned = await new Promise<boolean>((resolve) => {
      const p = spawn('/usr/bin/dbus-send', NAME_HAS_OWNER, {
        env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      p.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      p.on('exit', () => resolve(/boolean true/.test(out)));
    });
    if (owned) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gnome-keyring-daemon did not take org.freedesktop.secrets');
}

/** The names a bus would start on demand (ListActivatableNames), for checking a bus's configuration. */
export function activatableNames(address: string): string[] {
  const out = execFileSync(
    '/usr/bin/dbus-send',
    [
      '--session',
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.ListActivatableNames',
    ],
    { encoding: 'utf8', timeout: 5000, env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address } },
  );
  return [...out.matchAll(/string "([^"]*)"/g)].map((m) => m[1] as string);
}

/**
 * Whether this process runs in a D-Bus session with a Secret Service (scripts/test.sh provides one).
 * Read from the real environment: jest's process.env is a copy that native code never sees.
 */
export function sessionHasSecretService(): boolean {
  if (!sessionBusAddress()) return false;
  try {
    const out = execFileSync('/usr/bin/dbus-send', NAME_HAS_OWNER, { encoding: 'utf8', timeout: 5000 });
    return /boolean true/.test(out);
  } catch {
    return false;
  }
}

/** This process's real session bus address (jest's process.env is a copy that native code never sees). */
export function sessionBusAddress(): string | undefined {
  return execFileSync('/usr/bin/env', [], { encoding: 'utf8' }).match(
    /^DBUS_SESSION_BUS_ADDRESS=(.*)$/m,
  )?.[1];
}
