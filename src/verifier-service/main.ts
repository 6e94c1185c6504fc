#!/usr/bin/env node
/**
 * `posture-verifier --config FILE`: the verifier service. SIGHUP reloads the policy; SIGTERM and
 * SIGINT stop accepting, finish requests in flight, close the stores.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { ConfigInvalidError, PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import { DEFAULT_POLICY, parsePolicy } from '../shared/policy.js';
import { MemoryReplayStore } from '../verifier/replay.js';
import { buildService } from './app.js';
import { configWarnings, loadServiceConfig, type ServiceConfig } from './config.js';
import { openDecisionLog, type DecisionLog } from './decision-log.js';
import { createMetrics } from './metrics.js';
import { createNonces } from './nonce.js';
import { openSqliteStore } from './sqlite-store.js';
import type { DeviceStore } from './store.js';

async function openStore(config: ServiceConfig): Promise<DeviceStore> {
  if (config.store.type === 'sqlite') {
    await mkdir(dirname(config.store.path), { recursive: true, mode: 0o700 });
    return openSqliteStore(config.store.path);
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
  return parsePolicy(readFileSync(config.policyFile, 'utf8'), config.policyFile);
}

/** `--check`: what the service would run with, or the first error (thrown, with its code). */
export function checkConfig(configPath: string): string {
  const config = loadServiceConfig(configPath);
  const policy = readPolicy(config);
  const store = config.store.type === 'sqlite' ? `sqlite ${config.store.path}` : 'postgres';
  const lines = [
    `configuration ${configPath}: valid`,
    `listen        ${config.listen.host}:${config.listen.port}, public URL ${config.publicUrl}`,
    `audiences     ${config.audience.join(', ')}`,
    `store         ${store}; replay ${config.replay.type}`,
    `policy        ${config.policyFile ?? 'built-in default'}, revision ${policy.revision}`,
    `decision log  ${config.decisionLog === '-' ? 'standard output' : config.decisionLog}`,
    ...configWarnings(config).map((w) => `warning       ${w.message} [${w.code}]`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function startVerifier(configPath: string): Promise<{ close(): Promise<void>; url: string }> {
  const config = loadServiceConfig(configPath);
  for (const w of configWarnings(config))
    process.stderr.write(`posture-verifier: warning: ${w.message} [${w.code}]\n`);
  let policy = readPolicy(config);
  let log: DecisionLog;
  try {
    log = openDecisionLog(config.decisionLog, (error) =>
      process.stderr.write(`posture-verifier: decision log ${config.decisionLog}: ${error.message}\n`),
    );
  } catch (error) {
    throw new ConfigInvalidError(
      `decisionLog: cannot open ${config.decisionLog} (${(error as NodeJS.ErrnoException).code}); create its folder or point decisionLog elsewhere.`,
    );
  }
  const store = await openStore(config);
  const replay = await openReplay(config);
  const app = buildService({
    config,
    store,
    replay,
    nonces: createNonces(config.nonce.secrets, config.nonce.ttlSeconds),
    policy: () => policy,
    reloadPolicy: async () => {
      policy = readPolicy(config);
      return policy;
    },
    metrics: createMetrics(),
    logDecision: (entry) => log.write(entry),
  });
  const url = await app.listen({ host: config.listen.host, port: config.listen.port });
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
    async close() {
      await app.close();
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
  .requiredOption('--config <file>', 'configuration file (YAML or JSON)')
  .option('--check', 'validate the configuration and the policy, print what would run, and exit')
  .addHelpText(
    'after',
    [
      '',
      'Environment: POSTURE_VERIFIER_NONCE_SECRET, POSTURE_VERIFIER_ADMIN_TOKEN (instead of putting them in the file).',
      'Signals: SIGHUP reloads the policy; SIGTERM/SIGINT shut down gracefully.',
      'Exit codes: 0 stopped gracefully (or --check found nothing wrong); 3 bad configuration, policy or',
      'store, the message ending with a code such as [ERR_CONFIG_INVALID], [ERR_POLICY_INVALID],',
      '[ERR_STORE_LOCKED]; 1 internal error.',
    ].join('\n'),
  )
  .action(async (opts: { config: string; check?: boolean }) => {
    if (opts.check) {
      process.stdout.write(checkConfig(opts.config));
      return;
    }
    const service = await startVerifier(opts.config);
    process.stderr.write(`posture-verifier listening on ${service.url}\n`);
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

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  program.parseAsync(process.argv).catch((error: unknown) => {
    if (error instanceof PostureError)
      process.stderr.write(`posture-verifier: ${error.message} [${error.code}]\n`);
    else
      process.stderr.write(
        `posture-verifier: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    process.exit(error instanceof PostureError ? 3 : 1);
  });
}
