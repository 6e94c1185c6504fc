/**
 * The agent state a verdict depends on, as `posture capture` stores it (docs/capture-format.md,
 * `agentState`): the first-seen record of pending updates and any cached probe result the live
 * check would have served instead of running its probe. A replay answers from these copies, so it
 * gives the live verdicts; a capture without them (older files) replays as before.
 * Cached results are validated as strictly as the observations they stand for: a replay must never
 * feed the policy something a probe could not have produced.
 */
import { z } from 'zod';
import { UNKNOWN_REASONS } from '../shared/posture.js';

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'not a date');

const evidence = z.union([
  z.object({
    kind: z.literal('command'),
    command: z.string(),
    args: z.array(z.string()),
    exitCode: z.number().int().nullable(),
    error: z.string().optional(),
  }),
  z.object({ kind: z.literal('file'), path: z.string(), error: z.string().optional() }),
  z.object({ kind: z.literal('inventory'), source: z.string() }),
]);

const pendingUpdate = z.object({
  name: z.string(),
  version: z.string().optional(),
  security: z.boolean(),
  releasedAt: isoTime.optional(),
  firstSeenAt: isoTime.optional(),
  restartRequired: z.boolean().optional(),
});

const patchObservation = z.object({
  manager: z.enum(['apt', 'dnf', 'yum', 'zypper', 'pacman', 'softwareupdate', 'windows_update']),
  pending: z.number().int().nonnegative(),
  securityPending: z.number().int().nonnegative().nullable(),
  updates: z.array(pendingUpdate),
  lastInstallAt: isoTime.optional(),
  indexRefreshedAt: isoTime.optional(),
  rebootRequired: z.boolean().nullable(),
  unreadable: z
    .array(z.object({ source: z.string(), reason: z.enum(UNKNOWN_REASONS), detail: z.string() }))
    .optional(),
});

/** A cached patch-level result (the only check the agent caches: src/probes/cache.ts). */
const cachedPatchResult = z.object({
  check: z.literal('patch_level'),
  storedAt: z.number(),
  platform: z.string(),
  result: z.object({
    check: z.literal('patch_level'),
    status: z.literal('observed'),
    observedAt: isoTime,
    evidence: z.array(evidence),
    observation: patchObservation,
  }),
});

export const agentStateSchema = z.object({
  /** pending-first-seen.json as the capture found it: "manager:name" → ISO time first seen pending. */
  pendingFirstSeen: z.record(z.string(), isoTime).optional(),
  /** Cached results a check at capture time would have served instead of running the probe. */
  probeCache: z.array(cachedPatchResult).optional(),
});

export type AgentState = z.output<typeof agentStateSchema>;
