#!/usr/bin/env node
/**
 * `posture-verifier --config FILE`: the verifier service. SIGHUP reloads the policy; SIGTERM and
 * SIGINT stop accepting, finish requests in flight, close the stores.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { FastifyInstance } from 'fastify';
import { PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import { DEFAULT_POLICY, parsePolicy } from '../shared/policy.js';
import { MemoryReplayStore } from '../verifier/replay.js';
import { buildAdminService, buildService, type ServiceDeps } from './app.js';
import { configWarnings, loadServiceConfig, type ServiceConfig } from './config.js';
import { openDecisionLog, type DecisionLog } from './decision-log.js';
import { checkReadableFile, checkWritableDir, checkWritableFile, FileUnusableError } from './file-checks.js';
import { createMetrics } from './metrics.js';
import { createNonces } from './nonce.js';
import { openSqliteStore } from './sqlite-store.js';
import type { DeviceStore } from './store.js';

async function openStore(config: ServiceConfig): Promise<DeviceStore> {
  if (config.store.type === 'sqlite') {
    const path = config.store.path;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new FileUnusableError(
        dirname(path),
        'store folder',
        'cannot be created; create it for the service user.',
        error,
      );
    }
    try {
      return openSqliteStore(path);
    } catch (error) {
      if (error instanceof PostureError) throw error;
      throw new FileUnusableError(
        path,
        'store',
        'cannot be opened: check that the service user owns it and its folder.',
        error,
      );
    }
  }
  const { openPostgresStore } = await import('./postgres-store.js');
  return openPostgresStore(config.store.url);
}

async function openReplay(config: ServiceConfig) {
  if (config.replay.type === 'memory')
    return new MemoryReplayStore(config.replay.capacity, undefined, config.replay.perDeviceCapacity);
  const { openRedisReplayStore } = await import('./redis-replay.js');
  return openRedisReplayStore(config.replay.url, { perDeviceCapacity: config.replay.perDeviceCapacity });
}

function readPolicy(config: ServiceConfig): Policy {
  if (!config.policyFile) return DEFAULT_POLICY;
  checkReadableFile(config.policyFile, 'policyFile');
  return parsePolicy(readFileSync(config.policyFile, 'utf8'), config.policyFile);
}

/** Every file and folder the configuration names, checked as the start would use it. */
function checkFiles(config: ServiceConfig): void {
  if (config.store.type === 'sqlite') {
    checkWritableDir(dirname(config.store.path), 'store folder');
  }
  if (config.decisionLog !== '-') checkWritableFile(config.decisionLog, 'decisionLog');
  if (config.adminListen && 'socket' in config.adminListen)
    checkWritableDir(dirname(config.adminListen.socket), 'adminListen.socket folder');
}

const where = (l: { host: string; port: number } | { socket: string }) =>
  'socket' in l ? `unix:${l.socket}` : `${l.host}:${l.port}`;

/** `--check`: what the service would run with, or the first error (thrown, with its code). */
export function checkConfig(configPath: string): string {
  const config = loadServiceConfig(configPath);
  const policy = readPolicy(config);
  checkFiles(config);
  const store = config.store.type === 'sqlite' ? `sqlite ${config.store.path}` : 'postgres';
  const lines = [
    `configuration ${configPath}: valid`,
    `listen        ${config.listen.host}:${config.listen.port}, public URL ${config.publicUrl}`,
    `admin         ${config.adminListen ? `${where(config.adminListen)} (admin API and /metrics only there)` : 'on the main listener'}`,
    `proxies       ${config.trustedProxies.map((p) => `${p.proxy} ${p.address}`).join(', ') || 'none (forward-auth answers nobody)'}`,
    `audiences     ${config.audience.join(', ')}`,
    `store         ${store}; replay ${config.replay.type}`,
    `policy        ${config.policyFile ?? 'built-in default'}, revision ${policy.revision}`,
    `decision log  ${config.decisionLog === '-' ? 'standard output' : config.decisionLog}`,
    ...configWarnings(config).map((w) => `warning       ${w.message} [${w.code}]`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Listens on a Unix socket with the given mode, replacing a stale socket file (never another file). */
async function listenOnSocket(app: FastifyInstance, path: string, mode: number): Promise<string> {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await app.listen({ path });
    chmodSync(path, mode);
  } catch (error) {
    throw new FileUnusableError(
      path,
      'adminListen.socket',
      'cannot be listened on: check its folder and that no other file is there.',
      error,
    );
  }
  return `unix:${path}`;
}

export async function startVerifier(
  configPath: string,
): Promise<{ close(): Promise<void>; url: string; adminUrl?: string }> {
  const config = loadServiceConfig(configPath);
  for (const w of configWarnings(config))
    process.stderr.write(`posture-verifier: warning: ${w.message} [${w.code}]\n`);
  let policy = readPolicy(config);
  checkFiles(config);
  let log: DecisionLog;
  try {
    if (config.decisionLog !== '-') mkdirSync(dirname(config.decisionLog), { recursive: true, mode: 0o700 });
    log = openDecisionLog(config.decisionLog, (error) =>
      process.stderr.write(`posture-verifier: decision log ${config.decisionLog}: ${error.message}\n`),
    );
  } catch (error) {
    throw new FileUnusableError(
      config.decisionLog,
      'decisionLog',
      'cannot be opened; create its folder or point decisionLog elsewhere.',
      error,
    );
  }
  const store = await openStore(config);
  const replay = await openReplay(config);
  const deps: ServiceDeps = {
    config,
    store,
    replay,
    // With Redis, each device's pushes are counted there (shared by the replicas); else in memory.
    ...('pushRateLimiter' in replay ? { pushRate: replay.pushRateLimiter(config.push.rateLimit) } : {}),
    nonces: createNonces(config.nonce.secrets, config.nonce.ttlSeconds),
    policy: () => policy,
    reloadPolicy: async () => {
      policy = readPolicy(config);
      return policy;
    },
    metrics: createMetrics(),
    logDecision: (entry) => log.write(entry),
  };
  const app = buildService(deps);
  const adminApp = config.adminListen ? buildAdminService(deps) : undefined;
  const url = await app.listen({ host: config.listen.host, port: config.listen.port });
  let adminUrl: string | undefined;
  if (adminApp && config.adminListen)
    adminUrl =
      'socket' in config.adminListen
        ? await listenOnSocket(adminApp, config.adminListen.socket, config.adminListen.mode)
        : await adminApp.listen({ host: config.adminListen.host, port: config.adminListen.port });
  process.on('SIGHUP', () => {
    try {
      policy = readPolicy(config);
      process.stderr.write(`posture-verifier: policy reloaded, revision ${policy.revision}\n`);
    } catch (error) {
      process.stderr.write(
        `posture-verifier: policy NOT reloaded, the old one stays: ${(error as Error).message}\n`,
      );
    }
  });
  return {
    url,
    ...(adminUrl ? { adminUrl } : {}),
    async close() {
      await app.close();
      await adminApp?.close();
      await store.close();
      await (replay as { close?: () => Promise<void> }).close?.();
      await log.close();
    },
  };
}

const program = new Command()
  .name('posture-verifier')
  .description(
    'Posture Agent verifier service: enrollment, policy, forward-auth for access proxies (docs/verifier-service.md).',
  )
  .exitOverride()
  .requiredOption('--config <file>', 'configuration file (YAML or JSON)')
  .option(
    '--check',
    'validate the configuration, the policy and the files and folders it names, print what would run, and exit',
  )
  .addHelpText(
    'after',
    [
      '',
      'Environment: POSTURE_VERIFIER_NONCE_SECRET, POSTURE_VERIFIER_ADMIN_TOKEN, POSTURE_VERIFIER_VERIFY_TOKEN',
      '(instead of putting them in the file).',
      'Signals: SIGHUP reloads the policy; SIGTERM/SIGINT shut down gracefully.',
      'Exit codes: 0 stopped gracefully (or --check found nothing wrong); 3 bad usage, configuration, policy,',
      'file or folder, or store, the message naming the path and ending with a code such as',
      '[ERR_CONFIG_INVALID], [ERR_POLICY_INVALID], [ERR_FILE_UNUSABLE], [ERR_STORE_LOCKED]; 1 internal error.',
    ].join('\n'),
  )
  .action(async (opts: { config: string; check?: boolean }) => {
    if (opts.check) {
      process.stdout.write(checkConfig(opts.config));
      return;
    }
    const service = await startVerifier(opts.config);
    process.stderr.write(
      `posture-verifier listening on ${service.url}${service.adminUrl ? `, admin on ${service.adminUrl}` : ''}\n`,
    );
    let closing = false;
    const stop = async () => {
      if (closing) return;
      closing = true;
      await service.close();
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

/**
 * Whether this module is the program node was asked to run: compared after resolving symlinks, so
 * it also runs through the bin link that `npm link` or a global install makes (a link named
 * `posture-verifier`, which no file-name comparison would match).
 */
export function isEntryPoint(argv1: string | undefined, moduleUrl: string): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(process.argv[1], import.meta.url)) {
  program.parseAsync(process.argv).catch((error: unknown) => {
    // Commander has printed what was wrong with the command line: bad usage is exit 3 like a bad
    // configuration (exit 1 is kept for internal errors); --help exits 0.
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 3);
    if (error instanceof PostureError)
      process.stderr.write(`posture-verifier: ${error.message} [${error.code}]\n`);
    else
      process.stderr.write(
        `posture-verifier: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    process.exit(error instanceof PostureError ? 3 : 1);
  });
}
