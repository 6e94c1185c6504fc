/**
 * Capture and replay. `posture capture` wraps the live host in a recording host and writes every
 * command outcome, file and stat the probes asked for (docs/capture-format.md). `--replay` builds
 * a host that answers from that file, on any OS, as the captured machine did.
 */
import { z } from 'zod';
import { CaptureInvalidError } from '../shared/errors.js';
import type { DeviceInventory } from '../shared/posture.js';
import type { CommandOutcome, FileOutcome, Host, PlatformInfo, StatOutcome } from '../host/host.js';
import { commandKey } from '../host/host.js';
import { agentStateSchema } from './capture-agent-state.js';

export const CAPTURE_FORMAT = 'posture-capture';
export const CAPTURE_VERSION = 1;

const commandOutcome = z.union([
  z.object({
    ok: z.literal(true),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    stdout: z.string(),
    stderr: z.string(),
  }),
  z.object({
    ok: z.literal(false),
    error: z.enum([
      'command_missing',
      'timeout',
      'insufficient_privilege',
      'output_too_large',
      'spawn_failed',
      'not_in_capture',
    ]),
    detail: z.string(),
  }),
]);
const fileErrors = z.enum([
  'not_found',
  'insufficient_privilege',
  'read_failed',
  'too_large',
  'not_in_capture',
]);
const fileOutcome = z.union([
  z.object({ ok: z.literal(true), content: z.string() }),
  z.object({ ok: z.literal(false), error: fileErrors, detail: z.string() }),
]);
const statOutcome = z.union([
  z.object({ ok: z.literal(true), mtimeMs: z.number(), isDirectory: z.boolean() }),
  z.object({ ok: z.literal(false), error: fileErrors, detail: z.string() }),
]);

export const captureSchema = z.object({
  format: z.literal(CAPTURE_FORMAT),
  version: z.literal(CAPTURE_VERSION),
  capturedAt: z.string().datetime({ offset: true }),
  agent: z.object({ name: z.string(), version: z.string() }),
  platform: z.object({ os: z.string(), release: z.string(), arch: z.string() }),
  /** Free text: where the capture came from (machine, who, why). Not used by replay. */
  note: z.string().optional(),
  inventory: z.record(z.string(), z.string()).default({}),
  commands: z.array(z.object({ command: z.string(), args: z.array(z.string()), outcome: commandOutcome })),
  files: z.array(z.object({ path: z.string(), outcome: fileOutcome })),
  stats: z.array(z.object({ path: z.string(), outcome: statOutcome })).default([]),
  /** Agent state the verdicts depend on (first-seen record, served cache entries); absent in older captures. */
  agentState: agentStateSchema.optional(),
});

export type Capture = z.output<typeof captureSchema>;

export interface RecordingHost extends Host {
  /** Everything recorded so far, as a capture document. */
  toCapture(agent: { name: string; version: string }, note?: string): Capture;
}

export function createRecordingHost(inner: Host): RecordingHost {
  const startedAt = inner.now();
  const commands = new Map<string, Capture['commands'][number]>();
  const files = new Map<string, FileOutcome>();
  const stats = new Map<string, StatOutcome>();
  let inventory: DeviceInventory = {};
  return {
    platform: inner.platform,
    async run(request) {
      const outcome = await inner.run(request);
      commands.set(commandKey(request.command, request.args), {
        command: request.command,
        args: [...request.args],
        outcome,
      });
      return outcome;
    },
    async readFile(path) {
      const outcome = await inner.readFile(path);
      files.set(path, outcome);
      return outcome;
    },
    async stat(path) {
      const outcome = await inner.stat(path);
      stats.set(path, outcome);
      return outcome;
    },
    async inventory() {
      inventory = await inner.inventory();
      return inventory;
    },
    now: () => startedAt,
    toCapture(agent, note) {
      return {
        format: CAPTURE_FORMAT,
        version: CAPTURE_VERSION,
        capturedAt: startedAt.toISOString(),
        agent,
        platform: inner.platform,
        ...(note === undefined ? {} : { note }),
        inventory: { ...inventory } as Record<string, string>,
        commands: [...commands.values()],
        files: [...files.entries()].map(([path, outcome]) => ({ path, outcome })),
        stats: [...stats.entries()].map(([path, outcome]) => ({ path, outcome })),
      };
    },
  };
}

/** Parses and validates capture JSON; throws CaptureInvalidError (ERR_CAPTURE_INVALID) saying what is wrong. */
export function parseCapture(text: string, source = 'capture'): Capture {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CaptureInvalidError(
      `${source} is not JSON (${(error as Error).message}). Take a new capture with \`posture capture --out FILE\`.`,
    );
  }
  const result = captureSchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CaptureInvalidError(
      `${source} is not a posture capture v${CAPTURE_VERSION}:\n  - ${issues.join('\n  - ')}\nTake a new capture with \`posture capture --out FILE\`.`,
    );
  }
  return result.data;
}

/** A host that answers only from the capture; anything not in it is `not_in_capture`, never a guess. */
export function createReplayHost(capture: Capture): Host {
  const commands = new Map<string, CommandOutcome>(
    capture.commands.map((c) => [commandKey(c.command, c.args), c.outcome]),
  );
  const files = new Map<string, FileOutcome>(capture.files.map((f) => [f.path, f.outcome]));
  const stats = new Map<string, StatOutcome>(capture.stats.map((s) => [s.path, s.outcome]));
  const now = new Date(capture.capturedAt);
  const platform: PlatformInfo = capture.platform;
  return {
    platform,
    run: async (request) =>
      commands.get(commandKey(request.command, request.args)) ?? {
        ok: false,
        error: 'not_in_capture',
        detail: `the capture has no output of ${[request.command, ...request.args].join(' ')}`,
      },
    readFile: async (path) =>
      files.get(path) ?? { ok: false, error: 'not_in_capture', detail: `the capture has no copy of ${path}` },
    stat: async (path) =>
      stats.get(path) ?? { ok: false, error: 'not_in_capture', detail: `the capture has no stat of ${path}` },
    inventory: async () => capture.inventory,
    now: () => now,
  };
}
