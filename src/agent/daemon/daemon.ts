/**
 * `posture daemon`: the agent as a running service. Event sources and the schedule raise triggers;
 * the debouncer turns them into re-checks of the affected checks through the agent core; each
 * re-check is judged by the verifier's policy (policy-source.ts), makes a new attestation only
 * when the observations changed or the current one nears expiry, pushes it to the verifier the
 * device is enrolled with (verifier-link.ts: heartbeat, retries; outcomes become status problems
 * and log lines), publishes the status on the local API and logs one JSON line. SIGTERM → stop(), SIGHUP → reload() (the CLI wires the signals).
 */
import type { Attestation } from '../../attest/attestation.js';
import { AGENT } from '../../host/agent-info.js';
import { execCommand } from '../../host/exec.js';
import type { DaemonStatus } from '../../shared/local-api.js';
import type { CheckId, PostureReport } from '../../shared/posture.js';
import type { Agent } from '../agent.js';
import type { AgentConfig } from '../config.js';
import { AttestationKeeper, describeError } from './attestation-keeper.js';
import { eventSourcesFor } from './event-sources.js';
import type { Debouncer, RecheckBatch } from './events/debounce.js';
import { createDebouncer } from './events/debounce.js';
import type { EventSource, SourceProblem, Trigger } from './events/trigger.js';
import { ALL_CHECKS } from './events/trigger.js';
import type { LocalApiServer } from './local-api-server.js';
import { createLocalApiServer } from './local-api-server.js';
import { daemonHandlers } from './local-api-handlers.js';
import type { DaemonLog } from './log.js';
import { adminGidsFor } from './admin-groups.js';
import { administratorRule, type PeerIdentity } from './peer-credentials.js';
import { peerResolverFor } from './peer-resolver.js';
import type { PolicySource } from './policy-source.js';
import { createPolicySource } from './policy-source.js';
import type { PushOutcome, VerifierClient } from './verifier-client.js';
import { createVerifierClient } from './verifier-client.js';
import { VerifierLink } from './verifier-link.js';
import { mergeReport, observationsChanged, statusPosture, verdictChanges } from './posture-state.js';

/** The checks a renewal re-probes before signing: the cheap ones. */
const RENEWAL_CHECKS: readonly CheckId[] = ['firewall', 'disk_encryption', 'os_version'];

export interface DaemonDeps {
  /** Reads the configuration (again on reload). */
  loadConfig: () => AgentConfig;
  /** The agent core for a configuration. */
  makeAgent: (config: AgentConfig) => Agent;
  log: DaemonLog;
  /** Called with each new attestation, after it is handed to the verifier client. */
  onAttestation?: (attestation: Attestation) => Promise<void> | void;
  /** The client that pushes to the enrolled verifier; default createVerifierClient with `fetch`. */
  verifierClient?: (serverUrl: string, onOutcome: (outcome: PushOutcome) => void) => VerifierClient;
  fetch?: typeof fetch;
  platform?: NodeJS.Platform;
  /** The event sources; default those of the platform (event-sources.ts). */
  sources?: (daemon: { trigger(t: Trigger): void; problem(p: SourceProblem): void }) => EventSource[];
  now?: () => Date;
  /**
   * Where the device key lives, or would be made (never makes one); throws the key store's coded
   * error when none can be used (under the system service: ERR_NO_SERVICE_KEY_STORE, docs/keys.md).
   * Asked at start and on reload; a failure is the problem `device_key_unavailable`, not an exit.
   */
  keyHome?: (config: AgentConfig) => Promise<{ protection: string; recorded: boolean }>;
}

export class PostureDaemon {
  private config: AgentConfig;
  private agent: Agent;
  private policies: PolicySource;
  private status: DaemonStatus;
  private report: PostureReport | undefined;
  private readonly attestation: AttestationKeeper;
  private readonly link: VerifierLink;
  private sources: EventSource[] = [];
  private readonly debouncer: Debouncer;
  private server: LocalApiServer | undefined;
  /** Whether the last re-check had a policy to judge by (without one the daemon is degraded). */
  private judged = false;
  private readonly problems = new Map<string, { code: string; message: string; since: string }>();
  private readonly now: () => Date;
  /** Who besides root administers the local API (`adminGroups`, resolved at start and reload). */
  private isAdministrator: (identity: PeerIdentity) => boolean = administratorRule(new Set());
  /** Set by stop(): a start still under way ends without starting anything more. */
  private stopping = false;
  /** When a rotation the verifier missed may be sent again (after a failed try). */
  private resumeNotBefore = 0;

  constructor(private readonly deps: DaemonDeps) {
    this.now = deps.now ?? (() => new Date());
    this.config = deps.loadConfig();
    this.agent = deps.makeAgent(this.config);
    this.policies = this.policySource(undefined);
    this.status = {
      state: 'starting',
      startedAt: this.now().toISOString(),
      agentVersion: AGENT.version,
      posture: null,
      lastRecheck: null,
      attestation: null,
      enrollment: { enrolled: false },
      problems: [],
    };
    this.link = new VerifierLink({
      log: deps.log,
      setProblem: (code, message) => this.setProblem(code, message, { publish: true }),
      setVerifier: (verifier) => this.setVerifier(verifier),
      connect:
        deps.verifierClient ??
        ((serverUrl, onOutcome) =>
          createVerifierClient({
            serverUrl,
            onOutcome,
            // Read when a client is made: a reload applies from the next verifier link.
            heartbeatMs: this.config.heartbeatSeconds * 1000,
            ...(deps.fetch ? { fetch: deps.fetch } : {}),
          })),
    });
    this.attestation = new AttestationKeeper({
      log: deps.log,
      onAttestation: (attestation) => this.deliver(attestation),
      onDropped: () => this.link.stop(),
      setProblem: (code, message) => this.setProblem(code, message),
      requestRenewal: () =>
        this.trigger({
          source: 'schedule',
          checks: RENEWAL_CHECKS,
          at: this.now().toISOString(),
          detail: 'attestation renewal',
        }),
      now: this.now,
    });
    this.debouncer = createDebouncer({
      run: (batch) => this.recheck(batch),
      onRunError: (error, batch) => this.noteRecheckFailure(error, batch),
    });
  }

  /** Listens on the local API, starts the event sources, and runs the first re-check of every check. */
  async start(): Promise<void> {
    await this.resolveAdministrators();
    // A source that cannot be made (a refused schedule) stops the start before anything listens:
    // a daemon that answers on its socket but never re-checks would hide the error from the unit.
    const sources = this.buildSources();
    this.server = createLocalApiServer({
      socketPath: this.config.socketPath,
      resolvePeer: peerResolverFor(this.deps.platform ?? process.platform, execCommand),
      isAdministrator: (identity) => this.isAdministrator(identity),
      handlers: daemonHandlers(this),
    });
    await this.server.listen();
    this.policies = await this.verifierPolicySource();
    await this.startSources(sources);
    await this.checkKeyHome();
    // Stopped while the sources were starting (SIGTERM during a slow connect): nothing more to start.
    if (this.stopping) return;
    this.deps.log('started', { version: AGENT.version, socket: this.config.socketPath, pid: process.pid });
    this.trigger({ source: 'startup', checks: ALL_CHECKS, at: this.now().toISOString(), detail: 'start' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.deps.log('stopping');
    this.debouncer.stop();
    this.attestation.stop();
    await this.link.stop();
    await this.stopSources();
    await this.server?.close();
    this.deps.log('stopped');
  }

  /** Reads the configuration again; the agent, policy source and event sources follow it. */
  async reload(): Promise<{ reloadedAt: string; changed: string[] }> {
    let next: AgentConfig;
    try {
      next = this.deps.loadConfig();
    } catch (error) {
      this.deps.log('reload_failed', { error: describeError(error) });
      throw error;
    }
    const changed = changedSettings(this.config, next);
    if (changed.includes('socketPath'))
      this.deps.log('problem', { code: 'socket_path_changed', detail: 'the socket moves at the next start' });
    const previous = this.config;
    this.config = { ...next, socketPath: this.config.socketPath };
    let sources: EventSource[];
    try {
      // Made before the running ones stop: a refused schedule keeps the daemon as it was.
      sources = this.buildSources();
    } catch (error) {
      this.config = previous;
      this.deps.log('reload_failed', { error: describeError(error) });
      throw error;
    }
    this.agent = this.deps.makeAgent(this.config);
    await this.resolveAdministrators();
    this.policies = await this.verifierPolicySource();
    await this.stopSources();
    await this.startSources(sources);
    await this.checkKeyHome();
    const reloadedAt = this.now().toISOString();
    this.deps.log('reloaded', { changed });
    this.trigger({ source: 'reload', checks: ALL_CHECKS, at: reloadedAt, detail: 'configuration reloaded' });
    return { reloadedAt, changed };
  }

  /** Queues a re-check of the trigger's checks (debounced). */
  trigger(trigger: Trigger): { coalesced: boolean; checks: CheckId[] } {
    return this.debouncer.trigger(trigger);
  }

  currentStatus(): DaemonStatus {
    return this.status;
  }

  currentAgent(): Agent {
    return this.agent;
  }

  /** The attestation presented now and its report, for local clients (local-signing.ts). */
  heldAttestation(): ReturnType<AttestationKeeper['held']> {
    return this.attestation.held();
  }

  private async resolveAdministrators(): Promise<void> {
    const gids = await adminGidsFor({
      names: this.config.adminGroups,
      platform: this.deps.platform ?? process.platform,
      run: execCommand,
      log: this.deps.log,
    });
    this.isAdministrator = administratorRule(gids);
  }

  /** After an enrollment or key rotation: the next re-check signs anew and asks the new verifier. */
  async identityChanged(): Promise<void> {
    this.attestation.forget();
    this.policies = await this.verifierPolicySource();
    this.trigger({
      source: 'request',
      checks: ALL_CHECKS,
      at: this.now().toISOString(),
      detail: 'identity changed',
    });
  }

  /** An administrator's enroll or rotate ended: a failure is logged and shown until one works. */
  actionEnded(action: 'enroll' | 'rotate', error?: unknown): void {
    const code = `${action}_failed`;
    if (error === undefined) return this.setProblem(code, undefined, { publish: true });
    this.deps.log('problem', { code, error: describeError(error) });
    this.setProblem(code, `${action} failed: ${describeError(error)}`, { publish: true });
  }

  /**
   * The policy source for the verifier this device is enrolled with. An enrollment record that
   * cannot be read is not "no verifier": no policy then (fail closed), never the built-in one.
   */
  private async verifierPolicySource(): Promise<PolicySource> {
    try {
      return this.policySource((await this.agent.enrollment())?.server);
    } catch (error) {
      const problem = `cannot tell which verifier's policy applies: ${describeError(error)}`;
      return { current: async () => ({ problem }) };
    }
  }

  private policySource(server: string | undefined): PolicySource {
    return createPolicySource({
      ...(server ? { server } : {}),
      local: () => this.agent.policy(),
      ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
      now: this.now,
    });
  }

  /** The event sources for the current configuration; throws when one cannot be made (ERR_SCHEDULE_INVALID). */
  private buildSources(): EventSource[] {
    const hooks = {
      trigger: (t: Trigger) => this.trigger(t),
      problem: (p: SourceProblem) => this.sourceProblem(p),
    };
    return this.deps.sources
      ? this.deps.sources(hooks)
      : eventSourcesFor({
          platform: this.deps.platform ?? process.platform,
          schedule: this.config.schedule,
          onTrigger: hooks.trigger,
          onProblem: hooks.problem,
        });
  }

  /** Starts the sources side by side: one slow to connect (no system bus) does not hold the others. */
  private async startSources(sources: EventSource[]): Promise<void> {
    this.sources = sources;
    await Promise.all(
      sources.map((source) =>
        source
          .start()
          .catch((error: unknown) =>
            this.sourceProblem({ source: source.name, code: 'unavailable', detail: describeError(error) }),
          ),
      ),
    );
  }

  /** A device key that cannot be had is a problem shown in the status and logged with its code. */
  private async checkKeyHome(): Promise<void> {
    if (!this.deps.keyHome) return;
    try {
      this.deps.log('device_key', await this.deps.keyHome(this.config));
      this.setProblem('device_key_unavailable', undefined);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.setProblem('device_key_unavailable', `no device key can be used: ${describeError(error)}`);
      this.deps.log('problem', {
        code: 'device_key_unavailable',
        ...(typeof code === 'string' ? { error: code } : {}),
        detail: describeError(error),
      });
    }
  }

  private async stopSources(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.stop().catch(() => undefined)));
    this.sources = [];
  }

  private sourceProblem(problem: SourceProblem): void {
    this.deps.log('problem', { source: problem.source, code: problem.code, detail: problem.detail });
  }

  /** One re-check: probe the batch's checks, judge, attest when due, publish, log. */
  private async recheck(batch: RecheckBatch): Promise<void> {
    const started = Date.now();
    const fresh = batch.triggers.some((t) => t.source === 'request' || t.source === 'file_change');
    const probed = await this.agent.collect({ cache: !fresh, checks: batch.checks });
    const previous = this.report;
    this.report = mergeReport(previous, probed);
    const { state: policy, problem } = await this.policies.current();
    this.setProblem('policy_unavailable', problem);
    const before = this.status.posture;
    const posture = policy ? statusPosture(this.agent.evaluate(this.report, policy.policy)) : before;
    const changes = posture ? verdictChanges(before, posture) : [];
    const changed = observationsChanged(previous, this.report, batch.checks);
    await this.resumeRotation();
    const attestation = await this.attestation.refresh({
      agent: this.agent,
      config: this.config,
      report: this.report,
      changed: changed || before?.policyRevision !== posture?.policyRevision,
    });
    const trigger = batch.triggers[0];
    this.judged = policy !== undefined;
    // Read before the status is built: a push outcome arriving meanwhile must not leave a
    // problem listed under a state computed without it.
    const enrollment = await this.enrollmentStatus();
    this.status = {
      ...this.status,
      state: this.runningState(),
      posture,
      lastRecheck: {
        trigger: trigger?.source ?? 'schedule',
        checks: batch.checks,
        finishedAt: this.now().toISOString(),
      },
      attestation: this.attestation.summary(),
      enrollment,
      problems: [...this.problems.values()],
    };
    this.server?.publishStatus(this.status);
    this.deps.log('recheck', {
      trigger: [...new Set(batch.triggers.map((t) => t.source))],
      detail: batch.triggers.slice(0, 3).map((t) => t.detail),
      checks: batch.checks,
      changes,
      overall: posture?.overall ?? null,
      policyRevision: posture?.policyRevision ?? null,
      attestation,
      durationMs: Date.now() - started,
    });
  }

  /**
   * A key rotation the verifier missed (killed mid-rotation, or it was unreachable) is sent again
   * before signing: else the attestation names a key the verifier does not know.
   */
  private async resumeRotation(): Promise<void> {
    // After a failure, tried again a minute later at the earliest: a verifier out of reach must
    // not hold every re-check for its timeouts.
    if (this.now().getTime() < this.resumeNotBefore) return;
    const resumed = await this.agent
      .resumeRotation()
      .catch((error: unknown) => ({ outcome: 'not_sent', reason: describeError(error) }) as const);
    this.resumeNotBefore = 0;
    if (resumed.outcome !== 'not_sent') {
      this.setProblem('rotation_not_acknowledged', undefined);
      if (resumed.outcome === 'finished') {
        this.attestation.forget();
        this.deps.log('rotation_resumed', { kid: resumed.kid });
      }
      return;
    }
    this.resumeNotBefore = this.now().getTime() + 60_000;
    const message = `the verifier has not acknowledged the key rotation: ${resumed.reason}`;
    this.setProblem('rotation_not_acknowledged', message);
    this.deps.log('problem', { code: 'rotation_not_acknowledged', detail: resumed.reason });
  }

  private async enrollmentStatus(): Promise<DaemonStatus['enrollment']> {
    const enrollment = await this.agent.enrollment().catch(() => undefined);
    const protection = this.attestation.keyProtection();
    return {
      enrolled: enrollment !== undefined,
      ...(enrollment ? { deviceId: enrollment.deviceId } : {}),
      ...(protection ? { keyProtection: protection } : {}),
    };
  }

  /** Hands a new attestation to the verifier it is enrolled with (none: not pushed), then to onAttestation. */
  private async deliver(attestation: Attestation): Promise<void> {
    await this.link.deliver(attestation, (await this.agent.enrollment())?.server);
    await this.deps.onAttestation?.(attestation);
  }

  /**
   * Shows or clears a problem. With `publish` (a push outcome, between re-checks) the status is
   * published again at once; a re-check publishes its own.
   */
  private setProblem(code: string, message: string | undefined, options: { publish?: boolean } = {}): void {
    const before = this.problems.get(code);
    if (message === undefined) this.problems.delete(code);
    else if (before?.message !== message)
      this.problems.set(code, { code, message, since: before?.since ?? this.now().toISOString() });
    if (!options.publish || before?.message === message || this.status.state === 'starting') return;
    this.status = {
      ...this.status,
      state: this.runningState(),
      problems: [...this.problems.values()],
    };
    this.server?.publishStatus(this.status);
  }

  /** The verifier's part of the status, published at once (a push ends between re-checks). */
  private setVerifier(verifier: DaemonStatus['verifier']): void {
    const { verifier: _before, ...rest } = this.status;
    this.status = { ...rest, ...(verifier ? { verifier } : {}) };
    if (this.status.state !== 'starting') this.server?.publishStatus(this.status);
  }

  private runningState(): DaemonStatus['state'] {
    return this.problems.size > 0 || !this.judged ? 'degraded' : 'running';
  }

  private noteRecheckFailure(error: unknown, batch: RecheckBatch): void {
    this.setProblem('recheck_failed', `a re-check failed: ${describeError(error)}`);
    this.deps.log('problem', { code: 'recheck_failed', checks: batch.checks, error: describeError(error) });
  }
}

/** The settings whose values differ between two configurations. */
function changedSettings(before: AgentConfig, after: AgentConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  keys.delete('sources');
  return [...keys].filter(
    (k) =>
      JSON.stringify((before as unknown as Record<string, unknown>)[k]) !==
      JSON.stringify((after as unknown as Record<string, unknown>)[k]),
  );
}
