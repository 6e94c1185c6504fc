/**
 * A long-running helper process read line by line (`nft monitor`, the macOS/Windows event helper),
 * kept running: started through the exec module's streamLines, restarted with a growing delay
 * (`minRestartMs` doubling up to `maxRestartMs`) when it ends or is replaced, the delay starting
 * again once a run proved healthy (the source says so, or the run lasted `stableMs`). What a line
 * means and how an end is reported stay with each source.
 */
import { streamLines, type LineStream, type LineStreamExit } from '../../../host/exec.js';
import type { Timers } from './trigger.js';

/** One run of the helper, as the source's callbacks see it. */
export interface SupervisedRun {
  /** The run works (it printed a meaningful line): the next failure starts the backoff anew. */
  healthy(): void;
  /** Stops this run (it misbehaves) and starts another after the backoff. */
  replace(why: string): Promise<void>;
}

export interface SupervisedLinesOptions {
  command: string;
  args: readonly string[];
  maxLineBytes?: number;
  timers: Timers;
  now: () => Date;
  minRestartMs: number;
  maxRestartMs: number;
  /** A run at least this long counts as healthy; undefined: only `run.healthy()` resets the delay. */
  stableMs?: number;
  onLine(line: string, run: SupervisedRun): void;
  /** The helper ended (or could not start) while it should run; it restarts after `restartInMs`. */
  onEnded(outcome: LineStreamExit, restartInMs: number): void;
  /** A run was replaced (`run.replace`); the next starts after `restartInMs`. */
  onReplaced?(why: string, restartInMs: number): void;
}

export interface SupervisedLines {
  start(): void;
  stop(): Promise<void>;
  pid(): number | undefined;
}

export function supervisedLines(options: SupervisedLinesOptions): SupervisedLines {
  const { timers, now } = options;
  let stream: LineStream | undefined;
  let restartTimer: unknown;
  let delay = options.minRestartMs;
  let running = false;

  function launch(): void {
    const startedAt = now().getTime();
    const run: SupervisedRun = {
      healthy: () => {
        delay = options.minRestartMs;
      },
      replace: async (why) => {
        if (stream !== current) return;
        stream = undefined;
        await current.stop();
        if (!running) return;
        options.onReplaced?.(why, delay);
        scheduleRestart();
      },
    };
    const current = streamLines({
      command: options.command,
      args: options.args,
      ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
      onLine: (line) => {
        if (stream === current) options.onLine(line, run);
      },
      onExit: (outcome) => {
        if (stream !== current) return; // a run already replaced or stopped
        stream = undefined;
        if (!running) return;
        if (options.stableMs !== undefined && now().getTime() - startedAt >= options.stableMs) run.healthy();
        options.onEnded(outcome, delay);
        scheduleRestart();
      },
    });
    stream = current;
  }

  function scheduleRestart(): void {
    restartTimer = timers.setTimeout(() => {
      restartTimer = undefined;
      if (running && !stream) launch();
    }, delay);
    delay = Math.min(options.maxRestartMs, delay * 2);
  }

  return {
    pid: () => stream?.pid,
    start() {
      if (running) return;
      running = true;
      launch();
    },
    async stop() {
      running = false;
      if (restartTimer !== undefined) timers.clearTimeout(restartTimer);
      restartTimer = undefined;
      const current = stream;
      stream = undefined;
      await current?.stop();
    },
  };
}
