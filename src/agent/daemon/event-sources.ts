/**
 * Which event sources the daemon starts on each OS (docs/daemon.md). The schedule, the clock-jump
 * watch and the file watches run everywhere; nftables and the system bus (logind,
 * NetworkManager) on Linux; the native event helper (sleep/wake, network) on macOS and Windows.
 * Polling (the schedule) is always on, whatever the events.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { powershellScript } from '../../host/powershell.js';
import type { ScheduleConfig } from './schedule.js';
import { scheduleSource } from './schedule.js';
import { clockJumpSource } from './events/clock-jump.js';
import { dbusSignalSource, systemBusAddress } from './events/dbus-signals.js';
import { DEFAULT_WATCHED_PATHS, fileWatchSource } from './events/file-watch.js';
import { nativeEventSource } from './events/native-events.js';
import { nftMonitorSource } from './events/nft-monitor.js';
import type { EventSource, ProblemListener, TriggerListener } from './events/trigger.js';

/**
 * The package root, where native-probes/ is installed (as agent.ts's INSTALL_DIR; not imported
 * from there, so the daemon does not load the agent core to build its sources). From
 * dist/agent/daemon/ or src/agent/daemon/, three levels up.
 */
export const DAEMON_INSTALL_DIR = fileURLToPath(new URL('../../../', import.meta.url));

/** The native event helper for this OS, or undefined where there is none (Linux uses D-Bus). */
export function nativeEventHelper(
  platform: NodeJS.Platform,
  installDir: string,
  env: NodeJS.ProcessEnv,
): { command: string; args: string[] } | undefined {
  if (platform === 'darwin') {
    return { command: join(installDir, 'native-probes', 'darwin', 'posture-events'), args: [] };
  }
  if (platform === 'win32') {
    // The same launcher and SystemRoot default as the probes (config.ts, host/powershell.ts).
    const systemRoot = env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows';
    const script = join(installDir, 'native-probes', 'windows', 'posture-events.ps1');
    return powershellScript(systemRoot, script, []);
  }
  return undefined;
}

export function eventSourcesFor(options: {
  platform: NodeJS.Platform;
  schedule: ScheduleConfig;
  onTrigger: TriggerListener;
  onProblem: ProblemListener;
  /** Where DBUS_SYSTEM_BUS_ADDRESS and SystemRoot are read; default the process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Where native-probes/ is; default the package root. */
  installDir?: string;
}): EventSource[] {
  const { onTrigger, onProblem } = options;
  const env = options.env ?? process.env;
  const sources: EventSource[] = [
    scheduleSource({ config: options.schedule, onTrigger }),
    clockJumpSource({ onTrigger }),
    fileWatchSource({ paths: DEFAULT_WATCHED_PATHS, onTrigger, onProblem }),
  ];
  if (options.platform === 'linux') {
    sources.push(
      nftMonitorSource({ onTrigger, onProblem }),
      dbusSignalSource({ busAddress: systemBusAddress(env), onTrigger, onProblem }),
    );
  }
  const helper = nativeEventHelper(options.platform, options.installDir ?? DAEMON_INSTALL_DIR, env);
  if (helper) sources.push(nativeEventSource({ ...helper, onTrigger, onProblem }));
  return sources;
}
