/**
 * Everything a probe may ask of the machine: run a command, read a file, stat a file, the time,
 * the device inventory. The live host does it for real; the recording host also writes it down;
 * the replay host answers from a capture. Probes see only this interface.
 */
import type { DeviceInventory } from '../shared/posture.js';

export interface CommandRequest {
  /** Absolute path of the executable. Never a shell. */
  command: string;
  args: readonly string[];
  /** Default 10 s; the process is killed when it runs out. */
  timeoutMs?: number;
  /** Default 4 MiB per stream; the process is killed beyond it. */
  maxOutputBytes?: number;
}

export type CommandError =
  | 'command_missing'
  | 'timeout'
  | 'insufficient_privilege'
  | 'output_too_large'
  | 'spawn_failed'
  | 'not_in_capture';

export type CommandOutcome =
  | { ok: true; exitCode: number | null; signal: string | null; stdout: string; stderr: string }
  | { ok: false; error: CommandError; detail: string };

export type FileError =
  'not_found' | 'insufficient_privilege' | 'read_failed' | 'too_large' | 'not_in_capture';

export type FileOutcome = { ok: true; content: string } | { ok: false; error: FileError; detail: string };

export type StatOutcome =
  { ok: true; mtimeMs: number; isDirectory: boolean } | { ok: false; error: FileError; detail: string };

export interface PlatformInfo {
  /** Node's platform name: "linux", "darwin", "win32", … */
  os: string;
  release: string;
  arch: string;
}

export interface Host {
  readonly platform: PlatformInfo;
  run(request: CommandRequest): Promise<CommandOutcome>;
  readFile(path: string): Promise<FileOutcome>;
  stat(path: string): Promise<StatOutcome>;
  inventory(): Promise<DeviceInventory>;
  now(): Date;
}

export function commandKey(command: string, args: readonly string[]): string {
  return JSON.stringify([command, ...args]);
}
