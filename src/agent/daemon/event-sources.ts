/**
 * Which event sources the daemon starts on each OS (docs/daemon.md). The schedule, the clock-jump
 * watch and the file watches run everywhere; nftables and the system bus (logind,
 * NetworkManager) on Linux. macOS and Windows listeners are documented, not built: polling covers.
 */
import type { ScheduleConfig } from './schedule.js';
import { scheduleSource } from './schedule.js';
import { clockJumpSource } from './events/clock-jump.js';
import { dbusSignalSource, systemBusAddress } from './events/dbus-signals.js';
import { DEFAULT_WATCHED_PATHS, fileWatchSource } from './events/file-watch.js';
import { nftMonitorSource } from './events/nft-monitor.js';
import type { EventSource, ProblemListener, TriggerListener } from './events/trigger.js';

export function eventSourcesFor(options: {
  platform: NodeJS.Platform;
  schedule: ScheduleConfig;
  onTrigger: TriggerListener;
  onProblem: ProblemListener;
  /** Where DBUS_SYSTEM_BUS_ADDRESS is read; default the process's environment. */
  env?: NodeJS.ProcessEnv;
}): EventSource[] {
  const { onTrigger, onProblem } = options;
  const sources: EventSource[] = [
    scheduleSource({ config: options.schedule, onTrigger }),
    clockJumpSource({ onTrigger }),
    fileWatchSource({ paths: DEFAULT_WATCHED_PATHS, onTrigger, onProblem }),
  ];
  if (options.platform === 'linux') {
    sources.push(
      nftMonitorSource({ onTrigger, onProblem }),
      dbusSignalSource({
        busAddress: systemBusAddress(options.env ?? process.env),
        onTrigger,
        onProblem,
      }),
    );
  }
  return sources;
}
