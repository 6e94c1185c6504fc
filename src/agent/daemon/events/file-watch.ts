/**
 * Changes to package databases and firewall configuration, by file watches (node:fs.watch,
 * inotify on Linux). Each watched path names the checks it affects. A file is watched through its
 * folder, by name: package managers and editors replace files by writing a new one and renaming
 * it over the old (dpkg writes /var/lib/dpkg/status-new, then renames it to status), and a watch
 * on the old inode would go quiet after the first replacement. A folder target (/etc/ufw) is
 * watched itself. A path whose folder is missing is reported and looked for again later;
 * polling covers the gap.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { CheckId } from '../../../shared/posture.js';
import type { EventSource, ProblemListener, Timers, TriggerListener } from './trigger.js';
import { realTimers } from './trigger.js';

export interface WatchedPath {
  path: string;
  checks: readonly CheckId[];
}

/** The default list (configurable); a missing path is normal (no rpm on Debian, no ufw…). */
export const DEFAULT_WATCHED_PATHS: readonly WatchedPath[] = [
  { path: '/var/lib/dpkg/status', checks: ['patch_level'] },
  { path: '/var/lib/rpm', checks: ['patch_level'] },
  { path: '/var/lib/pacman/local', checks: ['patch_level'] },
  { path: '/var/run/reboot-required', checks: ['patch_level'] },
  { path: '/etc/os-release', checks: ['os_version'] },
  { path: '/etc/nftables.conf', checks: ['firewall'] },
  { path: '/etc/ufw', checks: ['firewall'] },
  { path: '/etc/firewalld', checks: ['firewall'] },
  { path: '/etc/crypttab', checks: ['disk_encryption'] },
];

export interface FileWatchOptions {
  paths: readonly WatchedPath[];
  onTrigger: TriggerListener;
  onProblem?: ProblemListener;
  now?: () => Date;
  timers?: Timers;
  /** How often to look again for a path that could not be watched. */
  retryMs?: number;
}

export function fileWatchSource(options: FileWatchOptions): EventSource & { watching(): string[] } {
  const timers = options.timers ?? realTimers;
  const now = options.now ?? (() => new Date());
  const retryMs = options.retryMs ?? 60_000;
  const watchers = new Map<string, FSWatcher>();
  const retries = new Map<string, unknown>();
  let running = false;

  async function watchPath(target: WatchedPath): Promise<void> {
    if (!running || watchers.has(target.path)) return;
    const isDir = await stat(target.path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const watchDir = isDir ? target.path : dirname(target.path);
    const name = basename(target.path);
    let watcher: FSWatcher;
    try {
      watcher = watch(watchDir, { persistent: false }, (_event, filename) => {
        if (!isDir && filename !== null && filename !== name) return;
        options.onTrigger({
          source: 'file_change',
          checks: target.checks,
          at: now().toISOString(),
          detail: isDir ? `${target.path}: ${filename ?? 'changed'}` : `${target.path} changed`,
        });
      });
    } catch (error) {
      retryLater(
        target,
        `cannot watch ${watchDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
      return;
    }
    watcher.on('error', (error) => {
      // e.g. the watched folder itself was removed; watch it again once it is back
      unwatch(target.path);
      retryLater(target, `watch on ${watchDir} ended: ${String(error)}`);
    });
    watchers.set(target.path, watcher);
  }

  function retryLater(target: WatchedPath, detail: string): void {
    if (!running) return;
    options.onProblem?.({ source: 'file-watch', code: 'watch_failed', detail });
    retries.set(
      target.path,
      timers.setTimeout(() => {
        retries.delete(target.path);
        void watchPath(target);
      }, retryMs),
    );
  }

  function unwatch(path: string): void {
    watchers.get(path)?.close();
    watchers.delete(path);
  }

  return {
    name: 'file-watch',
    watching: () => [...watchers.keys()],
    async start() {
      if (running) return;
      running = true;
      await Promise.all(options.paths.map((p) => watchPath(p)));
    },
    async stop() {
      running = false;
      for (const handle of retries.values()) timers.clearTimeout(handle);
      retries.clear();
      for (const path of [...watchers.keys()]) unwatch(path);
    },
  };
}
