/**
 * A real dbus-daemon as a stand-in for the system bus, with its own configuration: one socket in
 * the test's temp folder, EXTERNAL auth, everything allowed, and no service folders at all (no
 * <servicedir>, no <standard_system_servicedirs/>, no <includedir>), so it can never activate
 * the machine's own services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DBUS_DAEMON = '/usr/bin/dbus-daemon';

export function systemBusConfig(socketPath: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`;
}

export interface TestBus {
  address: string;
  stop(): Promise<void>;
}

/** Starts dbus-daemon with the config above in `dir`; resolves once it prints its address. */
export async function startSystemBus(dir: string): Promise<TestBus> {
  const socketPath = join(dir, 'system_bus_socket');
  const configPath = join(dir, 'system-bus.conf');
  await writeFile(configPath, systemBusConfig(socketPath));
  const child: ChildProcess = spawn(
    DBUS_DAEMON,
    ['--config-file', configPath, '--nofork', '--nosyslog', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve(out.trim());
    });
    child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error('dbus-daemon did not start')), 10_000);
  });
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
