/**
 * The polling schedule, the safety net under the event sources: cheap checks (firewall, disk
 * encryption, OS version) often, package-manager queries rarely (slow, and they may take the
 * package manager's lock), each entry a cron expression (node-cron, pinned in package.json;
 * 5 fields, or 6 with seconds first). The configuration is a parameter: the config module
 * (src/agent/config.ts, where managed settings win) will hand it over when the daemon is wired.
 * Each run emits a `schedule` trigger for the entry's checks; the debouncer coalesces it with
 * whatever events asked for at the same time.
 */
import { createTask, validateDetailed, type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import { CHECK_IDS, type CheckId } from '../../shared/posture.js';
import { DaemonError } from './errors.js';
import type { EventSource, TriggerListener } from './events/trigger.js';

/** Checks that ask the package manager: never more often than this. */
export const PACKAGE_CHECKS: readonly CheckId[] = ['patch_level'];
export const MIN_PACKAGE_INTERVAL_MS = 15 * 60_000;

export const scheduleEntrySchema = z
  .object({
    name: z.string().min(1).max(64),
    cron: z.string().min(1).max(200),
    checks: z.array(z.enum(CHECK_IDS)).min(1),
    /** Random delay up to this many ms before each run, so a fleet does not query in step. */
    jitterMs: z.number().int().nonnegative().max(3_600_000).default(0),
  })
  .strict();
export const scheduleConfigSchema = z
  .object({
    /** IANA time zone for the expressions; default: the machine's. */
    timezone: z.string().min(1).optional(),
    entries: z.array(scheduleEntrySchema).max(32),
  })
  .strict();
export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;
export type ScheduleEntry = z.infer<typeof scheduleEntrySchema>;

export const DEFAULT_SCHEDULE: ScheduleConfig = {
  entries: [
    {
      name: 'cheap-checks',
      cron: '* * * * *',
      checks: ['firewall', 'disk_encryption', 'os_version'],
      jitterMs: 0,
    },
    { name: 'package-manager', cron: '23 */6 * * *', checks: ['patch_level'], jitterMs: 15 * 60_000 },
  ],
};

/** Validates a schedule; throws ERR_SCHEDULE_INVALID naming the entry and what is wrong. */
export function validateSchedule(input: unknown): ScheduleConfig {
  const parsed = scheduleConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DaemonError('ERR_SCHEDULE_INVALID', `schedule.${issue?.path.join('.')}: ${issue?.message}`);
  }
  for (const entry of parsed.data.entries) {
    const detailed = validateDetailed(entry.cron);
    if (!detailed.valid) {
      const reason = detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      throw new DaemonError(
        'ERR_SCHEDULE_INVALID',
        `schedule entry "${entry.name}": "${entry.cron}" is not a cron expression (${reason})`,
      );
    }
    if (entry.checks.some((c) => PACKAGE_CHECKS.includes(c))) {
      const gap = shortestGapMs(entry.cron, parsed.data.timezone, MIN_PACKAGE_INTERVAL_MS);
      if (gap < MIN_PACKAGE_INTERVAL_MS) {
        throw new DaemonError(
          'ERR_SCHEDULE_INVALID',
          `schedule entry "${entry.name}" queries the package manager every ${Math.round(gap / 1000)} s; ` +
            `at most once per ${MIN_PACKAGE_INTERVAL_MS / 60_000} minutes`,
        );
      }
    }
  }
  return parsed.data;
}

/**
 * The shortest time between two runs of `cron` over a sample day (1 January 2024, a Monday,
 * second by second when the expression has seconds, else minute by minute). Pure: node-cron's
 * `match` on given dates, no timers. Stops early once a gap below `stopBelowMs` is found.
 */
export function shortestGapMs(cron: string, timezone?: string, stopBelowMs = 0): number {
  const task = createTask(cron, () => undefined, timezone ? { timezone } : {});
  try {
    const hasSeconds = cron.trim().split(/\s+/).length === 6;
    const step = hasSeconds ? 1_000 : 60_000;
    const start = Date.UTC(2024, 0, 1);
    let last: number | undefined;
    let shortest = Number.POSITIVE_INFINITY;
    for (let t = start; t < start + 86_400_000; t += step) {
      if (!task.match(new Date(t))) continue;
      if (last !== undefined) shortest = Math.min(shortest, t - last);
      if (shortest < stopBelowMs) break;
      last = t;
    }
    return shortest;
  } finally {
    void task.destroy();
  }
}

export interface ScheduleSource extends EventSource {
  /** When each entry runs next (for status). */
  nextRuns(): { name: string; next: Date | null }[];
}

export function scheduleSource(options: {
  config: ScheduleConfig;
  onTrigger: TriggerListener;
  now?: () => Date;
}): ScheduleSource {
  const config = validateSchedule(options.config);
  const now = options.now ?? (() => new Date());
  let tasks: { entry: ScheduleEntry; task: ScheduledTask }[] = [];

  function emit(entry: ScheduleEntry): void {
    options.onTrigger({
      source: 'schedule',
      checks: entry.checks,
      at: now().toISOString(),
      detail: `schedule "${entry.name}" (${entry.cron})`,
    });
  }

  return {
    name: 'schedule',
    nextRuns: () => tasks.map(({ entry, task }) => ({ name: entry.name, next: task.getNextRun() })),
    async start() {
      if (tasks.length > 0) return;
      tasks = config.entries.map((entry) => {
        const task = createTask(entry.cron, () => emit(entry), {
          name: `posture-${entry.name}`,
          noOverlap: true,
          unref: true, // the daemon's socket keeps the process alive, not the schedule
          ...(entry.jitterMs > 0 ? { maxRandomDelay: entry.jitterMs } : {}),
          ...(config.timezone ? { timezone: config.timezone } : {}),
        });
        return { entry, task };
      });
      for (const { task } of tasks) await task.start();
    },
    async stop() {
      const current = tasks;
      tasks = [];
      for (const { task } of current) await task.destroy();
    },
  };
}
