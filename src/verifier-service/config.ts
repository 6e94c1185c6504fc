/**
 * The verifier service's configuration file (YAML or JSON), validated strictly: each bad field is
 * named. Secrets may come from the environment instead of the file (POSTURE_VERIFIER_NONCE_SECRET,
 * POSTURE_VERIFIER_ADMIN_TOKEN).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  DEFAULT_ATTESTATION_LIFETIME_S,
  KEY_PROTECTIONS,
  MAX_ATTESTATION_LIFETIME_S,
} from '../shared/claims.js';
import { ConfigInvalidError } from '../shared/errors.js';
import { PROXY_KINDS } from './forwarded-request.js';

const cidr = z.string().refine((s) => {
  const [ip, bits] = s.split('/');
  return isIP(ip ?? '') !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits));
}, 'must be an IP address or CIDR, e.g. 127.0.0.1 or 10.0.0.0/8');

const sha256hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');

const trustedProxy = z
  .object(
    { address: cidr, proxy: z.enum(PROXY_KINDS) },
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? 'each trusted proxy is {address, proxy}, e.g. {address: 127.0.0.1, proxy: nginx}; proxy is nginx, caddy, traefik or envoy'
          : undefined,
    },
  )
  .strict();

export const serviceConfigSchema = z
  .object({
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
      })
      .strict()
      .prefault({}),
    /** This service's own URL: enrollment proofs are made for it. */
    publicUrl: z.string().url(),
    /** Audiences accepted in attestations: the access proxies' URLs. */
    audience: z.array(z.string().url()).min(1),
    store: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('sqlite'), path: z.string().min(1) }).strict(),
        z.object({ type: z.literal('postgres'), url: z.string().min(1) }).strict(),
      ])
      .default({ type: 'sqlite', path: '/var/lib/posture-verifier/devices.db' }),
    replay: z
      .discriminatedUnion('type', [
        z
          .object({
            type: z.literal('memory'),
            capacity: z.number().int().min(1000).default(1_000_000),
            /** Proof ids one device may hold at a time; default a tenth of capacity. */
            perDeviceCapacity: z.number().int().min(100).optional(),
          })
          .strict(),
        z
          .object({
            type: z.literal('redis'),
            url: z.string().min(1),
            /** Proof ids one device may add in a 120-second window. */
            perDeviceCapacity: z.number().int().min(100).default(100_000),
          })
          .strict(),
      ])
      .default({ type: 'memory', capacity: 1_000_000 }),
    policyFile: z.string().min(1).optional(),
    /** SHA-256 (hex) of each admin bearer token; or set POSTURE_VERIFIER_ADMIN_TOKEN. */
    adminTokenSha256: z.array(sha256hex).default([]),
    nonce: z
      .object({
        /** The first issues nonces; all are accepted (rotation). At least 32 characters each. */
        secrets: z.array(z.string().min(32, 'must be at least 32 characters')).default([]),
        ttlSeconds: z.number().int().min(30).max(3600).default(300),
        /** Whether attestations must carry a current nonce. */
        required: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /**
     * Callers whose forwarded headers are believed (the access proxies), each with its kind: only the
     * headers that kind of proxy sets are read. None by default: forward-auth then answers nobody.
     */
    trustedProxies: z.array(trustedProxy).default([]),
    /**
     * Who may call POST /v1/verify besides the trusted proxies: SHA-256 (hex) of bearer tokens (or
     * env POSTURE_VERIFIER_VERIFY_TOKEN).
     */
    verifyTokenSha256: z.array(sha256hex).default([]),
    /**
     * A second listener for the admin API and /metrics (TCP `{host, port}` or a Unix socket
     * `{socket, mode}`); when set, the main listener no longer answers them.
     */
    adminListen: z
      .union([
        z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) }).strict(),
        z
          .object({ socket: z.string().min(1), mode: z.number().int().min(0).max(0o777).default(0o600) })
          .strict(),
      ])
      .optional(),
    /** Where decisions are logged, one JSON line each: "-" for standard output, or a file path. */
    decisionLog: z.string().min(1).default('-'),
    enrollment: z
      .object({ tokenTtlMinutes: z.number().int().min(1).max(10_080).default(60) })
      .strict()
      .prefault({}),
    allowedKeyProtection: z.array(z.enum(KEY_PROTECTIONS)).min(1).optional(),
    /**
     * Devices that push their attestations (POST /v1/devices/attestation). `heartbeatMaxAgeMinutes`:
     * when set, a device that has not pushed an attestation or a heartbeat within that many minutes
     * is denied `device_stale` (also one that never pushed: only for fleets whose agents all run
     * the daemon).
     */
    push: z
      .object({
        heartbeatMaxAgeMinutes: z.number().int().min(1).max(1440).optional(),
        /**
         * How often one device may push, counted per device (in memory, or in Redis with
         * `replay.type: redis`, shared by the replicas): `burst` at once, then `perMinute`. Beyond
         * it: 429 `push_rate_limited` with Retry-After.
         */
        rateLimit: z
          .object({
            perMinute: z.number().int().min(1).max(6000).default(60),
            burst: z.number().int().min(1).max(1000).default(30),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ServiceConfig = z.output<typeof serviceConfigSchema>;

export function parseServiceConfig(text: string, source: string, env: NodeJS.ProcessEnv = {}): ServiceConfig {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new ConfigInvalidError(
      `${source} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const result = serviceConfigSchema.safeParse(data ?? {});
  if (!result.success) {
    const issues = result.error.issues
      .map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new ConfigInvalidError(
      `${source} is not a valid verifier configuration:\n${issues}\nFix the fields above (see docs/verifier-service.md).`,
    );
  }
  const config = result.data;
  if (env.POSTURE_VERIFIER_NONCE_SECRET)
    config.nonce.secrets = [env.POSTURE_VERIFIER_NONCE_SECRET, ...config.nonce.secrets];
  if (env.POSTURE_VERIFIER_ADMIN_TOKEN)
    config.adminTokenSha256 = [sha256Hex(env.POSTURE_VERIFIER_ADMIN_TOKEN), ...config.adminTokenSha256];
  if (env.POSTURE_VERIFIER_VERIFY_TOKEN)
    config.verifyTokenSha256 = [sha256Hex(env.POSTURE_VERIFIER_VERIFY_TOKEN), ...config.verifyTokenSha256];
  if (config.nonce.secrets.length === 0 || (config.nonce.secrets[0]?.length ?? 0) < 32) {
    throw new ConfigInvalidError(
      `${source}: nonce.secrets needs at least one secret of 32+ characters (or POSTURE_VERIFIER_NONCE_SECRET); replicas must share it.`,
    );
  }
  if (config.adminTokenSha256.length === 0) {
    throw new ConfigInvalidError(
      `${source}: no admin token: set adminTokenSha256 (sha256 of the token, hex) or POSTURE_VERIFIER_ADMIN_TOKEN.`,
    );
  }
  return config;
}

/**
 * Settings that are valid but probably not what was meant, printed at start (and by --check).
 * PostgreSQL is the store for several replicas; with the in-memory replay store each replica
 * remembers only the proofs it saw, so a proof replayed to another replica is accepted there once
 * more. A required nonce that lives shorter than the agents' attestations cuts those short: a
 * warning, not a refusal, because agents may be set to a shorter lifetime, which the verifier cannot
 * see.
 */
export function configWarnings(config: ServiceConfig): Array<{ code: string; message: string }> {
  const warnings: Array<{ code: string; message: string }> = [];
  if (config.nonce.required && config.nonce.ttlSeconds < DEFAULT_ATTESTATION_LIFETIME_S)
    warnings.push({
      code: 'nonce_outlived_by_attestation',
      message: `nonce.required with nonce.ttlSeconds ${config.nonce.ttlSeconds}: an attestation is denied attestation_nonce_invalid once its nonce expires, before the ${DEFAULT_ATTESTATION_LIFETIME_S} s agents give it by default (up to ${MAX_ATTESTATION_LIFETIME_S}). Set nonce.ttlSeconds to at least the agents' attestationLifetimeSeconds (${DEFAULT_ATTESTATION_LIFETIME_S}; ${MAX_ATTESTATION_LIFETIME_S} covers any), or lower that setting on the agents.`,
    });
  if (config.store.type === 'postgres' && config.replay.type === 'memory')
    warnings.push({
      code: 'replay_per_process',
      message:
        'store is PostgreSQL but replay is in memory: with several replicas a proof replayed to another replica is not caught. Use replay: {type: redis, url} for more than one replica.',
    });
  return warnings;
}

/**
 * Reads and validates the file. Relative paths in it (policyFile, store.path, decisionLog,
 * adminListen.socket) are taken from the folder of the file, so a configuration and the policy
 * beside it work wherever they are installed.
 */
export function loadServiceConfig(path: string, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigInvalidError(
      `cannot read the configuration ${path} (${(error as NodeJS.ErrnoException).code}); check the --config path.`,
    );
  }
  return resolvePaths(parseServiceConfig(text, path, env), dirname(resolve(path)));
}

export function resolvePaths(config: ServiceConfig, baseDir: string): ServiceConfig {
  const at = (p: string) => resolve(baseDir, p);
  if (config.policyFile) config.policyFile = at(config.policyFile);
  if (config.store.type === 'sqlite') config.store.path = at(config.store.path);
  if (config.decisionLog !== '-') config.decisionLog = at(config.decisionLog);
  if (config.adminListen && 'socket' in config.adminListen)
    config.adminListen.socket = at(config.adminListen.socket);
  return config;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
