/**
 * The only module that reads environment variables and configuration files. Settings come from,
 * lowest to highest: built-in defaults, the user's config file, environment variables, command-line
 * flags, and the managed (MDM) file, which wins over everything because IT set it.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from '../shared/errors.js';
import type { ScheduleConfig } from './daemon/schedule.js';
import { DEFAULT_SCHEDULE, scheduleConfigSchema } from './daemon/schedule.js';

/**
 * A group name as getent takes it: not empty, no leading "-" (it would read as an option), no ":"
 * (the group file's separator), no control characters. Spaces and "@" are allowed (sssd/AD names).
 */
const groupName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^-:\p{Cc}][^:\p{Cc}]*$/u, 'must be a group name: no leading "-", no ":" or control characters');

const settingsSchema = z
  .object({
    /** Policy file (JSON or YAML); absent: the built-in default policy. */
    policyFile: z.string().min(1).optional(),
    /** Where slow probe results are cached. */
    cacheDir: z.string().min(1).optional(),
    /** How long a package-manager / Windows Update result is reused. */
    patchCacheTtlMinutes: z.number().int().min(0).max(1440).optional(),
    /** Where persistent agent state lives (key state, enrollment). */
    stateDir: z.string().min(1).optional(),
    /** Where the device key lives: hardware when present, else the OS keychain ("auto"). */
    keyStore: z.enum(['auto', 'keychain', 'tpm', 'secure_enclave', 'file']).optional(),
    /** Path of the key file; required with keyStore "file" and used only then. */
    keyFile: z.string().min(1).optional(),
    /** TPM access (tpm2-tools TCTI), e.g. "device:/dev/tpmrm0". */
    tpmTcti: z.string().min(1).optional(),
    /** This device's id at the verifier (set by enrollment); before enrollment the key's thumbprint. */
    deviceId: z.string().min(1).max(200).optional(),
    /** The audience attestations are made for (the verifier or access proxy URL). */
    audience: z.string().url().optional(),
    /** Attestation lifetime in seconds (at most 900). */
    attestationLifetimeSeconds: z.number().int().min(30).max(900).optional(),
    /** The daemon's local API socket (Linux, macOS). */
    socketPath: z.string().min(1).max(100).optional(),
    /** The daemon's polling schedule (docs/daemon.md); cron expressions checked when the daemon starts. */
    schedule: scheduleConfigSchema.optional(),
    /**
     * Groups whose members are administrators of the daemon's local API, besides root (Linux; docs/
     * local-api.md "Who is asking"). Membership is what the kernel reports for the peer process.
     */
    adminGroups: z.array(groupName).max(32).optional(),
    /** How often the daemon pushes its current attestation again while nothing changed (the heartbeat). */
    heartbeatSeconds: z.number().int().min(10).max(3600).optional(),
  })
  .strict();

export type Settings = z.output<typeof settingsSchema>;

/** Every setting a configuration file may hold (docs/configuration.md lists each). */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof Settings)[];

export interface AgentConfig {
  policyFile?: string;
  cacheDir: string;
  patchCacheTtlMs: number;
  stateDir: string;
  keyStore: 'auto' | 'keychain' | 'tpm' | 'secure_enclave' | 'file';
  keyFile?: string;
  tpmTcti: string;
  deviceId?: string;
  audience?: string;
  attestationLifetimeSeconds: number;
  /** The daemon's local API socket. */
  socketPath: string;
  /** The daemon's polling schedule. */
  schedule: ScheduleConfig;
  /** Groups whose members are local API administrators besides root; none by default. */
  adminGroups: string[];
  /** The daemon's heartbeat to the verifier, in seconds. */
  heartbeatSeconds: number;
  platform: NodeJS.Platform;
  /** %SystemRoot% on Windows. */
  systemRoot: string;
  /** Where settings came from, for support: the two files, and which settings the managed file set. */
  sources: { userFile: string; managedFile: string; managed: (keyof Settings)[] };
}

export interface ConfigInputs {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  uid?: number;
  home?: string;
  flags?: Settings;
  /** Reads a config file; returns undefined when it does not exist. */
  readText?: (path: string) => string | undefined;
}

export function managedConfigPath(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  if (platform === 'win32')
    return join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'PostureAgent', 'managed.json');
  if (platform === 'darwin') return '/Library/Application Support/PostureAgent/managed.json';
  return '/etc/posture-agent/managed.json';
}

export function userConfigPath(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: string): string {
  if (platform === 'win32')
    return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'PostureAgent', 'config.json');
  if (platform === 'darwin')
    return join(home, 'Library', 'Application Support', 'PostureAgent', 'config.json');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'posture-agent', 'config.json');
}

/** Where the daemon listens (docs/local-api.md); a named pipe on Windows, whose transport is not built. */
export function defaultSocketPath(platform: NodeJS.Platform): string {
  if (platform === 'win32') return '\\\\.\\pipe\\posture-agent';
  if (platform === 'darwin') return '/var/run/posture-agent/api.sock';
  return '/run/posture-agent/api.sock';
}

/** Per-platform folder for state ("state") or cache ("cache"); root on Linux uses /var. */
function defaultDir(
  kind: 'state' | 'cache',
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
  home: string,
  uid: number,
): string {
  if (platform === 'win32')
    return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'PostureAgent', kind);
  if (platform === 'darwin') {
    return kind === 'cache'
      ? join(home, 'Library', 'Caches', 'PostureAgent')
      : join(home, 'Library', 'Application Support', 'PostureAgent', 'state');
  }
  if (uid === 0) return kind === 'cache' ? '/var/cache/posture-agent' : '/var/lib/posture-agent';
  const xdg =
    kind === 'cache'
      ? (env.XDG_CACHE_HOME ?? join(home, '.cache'))
      : (env.XDG_STATE_HOME ?? join(home, '.local', 'state'));
  return join(xdg, 'posture-agent');
}

export function loadConfig(inputs: ConfigInputs = {}): AgentConfig {
  const env = inputs.env ?? process.env;
  const platform = inputs.platform ?? process.platform;
  const home = inputs.home ?? homedir();
  const uid = inputs.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  const readText = inputs.readText ?? readIfExists;
  const userFile = env.POSTURE_CONFIG ?? userConfigPath(platform, env, home);
  const managedFile = managedConfigPath(platform, env);
  const fromEnv: Settings = parseSettings(
    {
      ...(env.POSTURE_POLICY ? { policyFile: env.POSTURE_POLICY } : {}),
      ...(env.POSTURE_CACHE_DIR ? { cacheDir: env.POSTURE_CACHE_DIR } : {}),
      ...(env.POSTURE_PATCH_CACHE_TTL_MINUTES
        ? { patchCacheTtlMinutes: Number(env.POSTURE_PATCH_CACHE_TTL_MINUTES) }
        : {}),
      ...(env.POSTURE_STATE_DIR ? { stateDir: env.POSTURE_STATE_DIR } : {}),
      ...(env.POSTURE_KEY_STORE ? { keyStore: env.POSTURE_KEY_STORE } : {}),
      ...(env.POSTURE_KEY_FILE ? { keyFile: env.POSTURE_KEY_FILE } : {}),
      ...(env.POSTURE_TPM_TCTI ? { tpmTcti: env.POSTURE_TPM_TCTI } : {}),
      ...(env.POSTURE_AUDIENCE ? { audience: env.POSTURE_AUDIENCE } : {}),
      ...(env.POSTURE_SOCKET ? { socketPath: env.POSTURE_SOCKET } : {}),
    },
    'environment (POSTURE_*)',
  );
  const managed = readSettings(readText, managedFile);
  const merged: Settings = {
    ...readSettings(readText, userFile),
    ...fromEnv,
    ...(inputs.flags ?? {}),
    ...managed,
  };
  const stateDir = merged.stateDir ?? defaultDir('state', platform, env, home, uid);
  if (merged.keyFile) refuseStateFileAsKey(merged.keyFile, stateDir);
  return {
    ...(merged.policyFile ? { policyFile: merged.policyFile } : {}),
    cacheDir: merged.cacheDir ?? defaultDir('cache', platform, env, home, uid),
    patchCacheTtlMs: (merged.patchCacheTtlMinutes ?? 60) * 60_000,
    stateDir,
    keyStore: merged.keyStore ?? 'auto',
    ...(merged.keyFile ? { keyFile: merged.keyFile } : {}),
    tpmTcti: merged.tpmTcti ?? 'device:/dev/tpmrm0',
    ...(merged.deviceId ? { deviceId: merged.deviceId } : {}),
    ...(merged.audience ? { audience: merged.audience } : {}),
    attestationLifetimeSeconds: merged.attestationLifetimeSeconds ?? 600,
    socketPath: merged.socketPath ?? defaultSocketPath(platform),
    schedule: merged.schedule ?? DEFAULT_SCHEDULE,
    adminGroups: merged.adminGroups ?? [],
    heartbeatSeconds: merged.heartbeatSeconds ?? 60,
    platform,
    systemRoot: env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows',
    sources: { userFile, managedFile, managed: Object.keys(managed) as (keyof Settings)[] },
  };
}

/** The files the agent itself writes in the state folder (docs/configuration.md, `stateDir`). */
const STATE_FILES = ['device-key.json', 'enrollment.json', 'pending-first-seen.json'];

/**
 * A key file must not be one of the agent's own state files: `<stateDir>/device-key.json` is the key
 * state, and a file key written there is overwritten by it (the private key lost).
 */
function refuseStateFileAsKey(keyFile: string, stateDir: string): void {
  const target = resolve(keyFile);
  const clash = STATE_FILES.find((name) => resolve(stateDir, name) === target);
  if (clash)
    throw new ConfigInvalidError(
      `keyFile ${keyFile} is the agent's own state file ${clash} in stateDir ${stateDir}; the key would be overwritten. Choose another name, e.g. ${join(dirname(target), 'device-private-key.json')}.`,
    );
}

/** The settings given as flags that the managed file also sets, and so overrides (to tell the user). */
export function flagsOverriddenByManaged(flags: Settings, config: AgentConfig): (keyof Settings)[] {
  return (Object.keys(flags) as (keyof Settings)[]).filter(
    (name) => config.sources.managed.includes(name) && flags[name] !== undefined,
  );
}

function readSettings(readText: (path: string) => string | undefined, path: string): Settings {
  const text = readText(path);
  if (text === undefined) return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigInvalidError(
      `${path} is not valid JSON (${(error as Error).message}). Fix or remove the file.`,
    );
  }
  return parseSettings(data, path);
}

function parseSettings(data: unknown, source: string): Settings {
  const result = settingsSchema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('\n');
  throw new ConfigInvalidError(
    `${source} has invalid settings:\n${issues}\nFix the fields above (see docs/configuration.md).`,
  );
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigInvalidError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
