/**
 * Builds a capture (the same format `posture capture` writes) from recorded outputs, so probes can
 * be replayed through the real replay host. Anything not listed answers `not_in_capture`.
 */
import type { Capture } from '../../src/probes/capture.js';
import { CAPTURE_FORMAT, CAPTURE_VERSION, createReplayHost, parseCapture } from '../../src/probes/capture.js';
import type { Host } from '../../src/host/host.js';

export interface RecordedCommand {
  command: string;
  args: string[];
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  error?: 'command_missing' | 'timeout' | 'insufficient_privilege';
}

export function buildCapture(spec: {
  os: string;
  capturedAt?: string;
  commands?: RecordedCommand[];
  files?: Record<string, string | 'not_found'>;
  stats?: Record<string, number | 'not_found'>;
  note?: string;
}): Capture {
  const capture: Capture = {
    format: CAPTURE_FORMAT,
    version: CAPTURE_VERSION,
    capturedAt: spec.capturedAt ?? '2026-11-20T10:00:00.000Z',
    agent: { name: 'posture-agent', version: 'test' },
    platform: { os: spec.os, release: 'recorded', arch: 'x64' },
    ...(spec.note ? { note: spec.note } : {}),
    inventory: {},
    commands: (spec.commands ?? []).map((c) => ({
      command: c.command,
      args: c.args,
      outcome: c.error
        ? { ok: false as const, error: c.error, detail: `${c.command}: ${c.error}` }
        : {
            ok: true as const,
            exitCode: c.exitCode ?? 0,
            signal: null,
            stdout: c.stdout ?? '',
            stderr: c.stderr ?? '',
          },
    })),
    files: Object.entries(spec.files ?? {}).map(([path, content]) => ({
      path,
      outcome:
        content === 'not_found'
          ? { ok: false as const, error: 'not_found' as const, detail: `${path} does not exist` }
          : { ok: true as const, content },
    })),
    stats: Object.entries(spec.stats ?? {}).map(([path, mtime]) => ({
      path,
      outcome:
        mtime === 'not_found'
          ? { ok: false as const, error: 'not_found' as const, detail: `${path} does not exist` }
          : { ok: true as const, mtimeMs: mtime, isDirectory: false },
    })),
  };
  // Round-trip through the parser, so every test capture is a valid capture file.
  return parseCapture(JSON.stringify(capture));
}

export function replayHost(spec: Parameters<typeof buildCapture>[0]): Host {
  return createReplayHost(buildCapture(spec));
}
