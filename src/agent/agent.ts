/**
 * The agent core: one object that checks, captures, replays, attests, enrolls and rotates for this
 * device. The CLI, the daemon and the tray call it; none of them collects, tracks first-seen
 * updates or loads a policy on its own. Dependencies arrive as parameters: the host the probes
 * ask, the key manager's stores, the clock, fetch, and the state folder.
 */
import { fileURLToPath } from 'node:url';
import type { Attestation } from '../attest/attestation.js';
import { createAttestation } from '../attest/attestation.js';
import { PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import type { CheckId, PostureReport } from '../shared/posture.js';
import type { Host } from '../host/host.js';
import type { KeyManagerDeps, KeyState } from '../keys/manager.js';
import { loadDeviceKey, readKeyState } from '../keys/manager.js';
import { keyManagerDeps } from '../keys/select.js';
import type { DeviceKey } from '../keys/types.js';
import { KeyError } from '../keys/errors.js';
import type { Capture } from '../probes/capture.js';
import { createLiveHost } from '../probes/live-host.js';
import type { CheckOutput } from './check.js';
import { collectLive, judge, readCaptureFile, replayCapture, runCapture } from './check.js';
import type { AgentConfig } from './config.js';
import type { Enrollment } from './enroll.js';
import { readEnrollment } from './enroll.js';
import type { EnrollOutcome, RotationOutcome, RotationResume } from './key-lifecycle.js';
import { enrollThisDevice, resumeRotation, rotateAndNotify } from './key-lifecycle.js';
import { loadPolicyFile } from './policy-file.js';

/** Where the agent's own files (native-probes/) are: the package root. */
export const INSTALL_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface AgentDeps {
  config: AgentConfig;
  /** What the probes ask; default this machine. */
  host?: Host;
  /** The device key's stores; default chosen from the configuration. */
  keys?: KeyManagerDeps;
  /** The time verdicts are judged at; default the host's clock. */
  clock?: () => Date;
  /** Talks to the verifier (enrollment, rotation); default the global fetch. */
  fetch?: typeof fetch;
  /** Where agent state lives (enrollment, first-seen record); default config.stateDir. */
  state?: { dir: string };
}

export interface AttestRequest {
  audience?: string;
  nonce?: string;
  /** The posture to attest (the daemon's current report); default a fresh collection. */
  report?: PostureReport;
}

export interface KeyInfo {
  key: DeviceKey;
  state: KeyState;
}

export interface Agent {
  readonly config: AgentConfig;
  /** The policy a local check judges by: `file`, else the configured file, else the built-in default. */
  policy(file?: string): Promise<Policy>;
  /** This device's posture (all checks, or only `checks`), first sightings of pending updates recorded. */
  collect(options?: { cache?: boolean; checks?: readonly CheckId[] }): Promise<PostureReport>;
  /** Collects and judges this device. */
  check(options: { policy: Policy; cache?: boolean }): Promise<CheckOutput>;
  /** Judges a report already collected. */
  evaluate(report: PostureReport, policy: Policy): CheckOutput;
  /** Records every command output and file the probes read, for replay and support. */
  capture(note?: string): Promise<{ capture: Capture; report: PostureReport }>;
  /** Judges a capture (a parsed one, or the file at `source`) as on the captured machine. */
  replay(source: string, policy: Policy, capture?: Capture): Promise<CheckOutput>;
  /** The device key, made on first use. */
  key(): Promise<DeviceKey>;
  /** The existing device key and its recorded state (never makes one). */
  keyInfo(): Promise<KeyInfo>;
  attest(request?: AttestRequest): Promise<Attestation>;
  enroll(options: { server: string; token: string; newKeyIfRevoked: boolean }): Promise<EnrollOutcome>;
  rotate(options: { forceNew: boolean }): Promise<RotationOutcome>;
  /** Tells the verifier of a rotation it missed (unreachable, or the agent killed meanwhile). */
  resumeRotation(): Promise<RotationResume>;
  /** The verifier this device is enrolled with, when it is. */
  enrollment(): Promise<Enrollment | undefined>;
}

export function createAgent(deps: AgentDeps): Agent {
  const host = deps.host ?? createLiveHost();
  const stateDir = deps.state?.dir ?? deps.config.stateDir;
  const config: AgentConfig = { ...deps.config, stateDir };
  const keys = deps.keys ?? keyManagerDeps(config, INSTALL_DIR);
  const clock = deps.clock ?? (() => host.now());
  const fetchOption = deps.fetch ? { fetch: deps.fetch } : {};
  let key: Promise<DeviceKey> | undefined;

  const openKey = (): Promise<DeviceKey> => {
    key ??= loadDeviceKey(keys).catch((error: unknown) => {
      key = undefined; // try again next time (an unlocked keychain, a TPM back)
      throw error;
    });
    return key;
  };
  const collect: Agent['collect'] = (options = {}) =>
    collectLive(host, config, {
      cache: options.cache ?? true,
      ...(options.checks ? { checks: options.checks } : {}),
    });

  return {
    config,
    policy: (file) => loadPolicyFile(file ?? config.policyFile),
    collect,
    async check(options) {
      return judge(await collect({ cache: options.cache ?? true }), options.policy, clock());
    },
    evaluate: (report, policy) => judge(report, policy, clock()),
    capture: (note) => runCapture(host, config, note),
    async replay(source, policy, capture) {
      return replayCapture(capture ?? (await readCaptureFile(source)), source, config, policy);
    },
    key: openKey,
    keyInfo: () => readKeyInfo(keys),
    attest: (request = {}) => attest(config, request, { collect, openKey }),
    async enroll(options) {
      const [deviceKey, report] = await Promise.all([openKey(), collect()]);
      const os = report.checks.os_version;
      const outcome = await enrollThisDevice(keys, {
        ...options,
        key: deviceKey,
        stateDir,
        inventory: report.device,
        ...(os?.status === 'observed' ? { osName: os.observation.name } : {}),
        ...fetchOption,
      });
      key = undefined; // a revoked key may have been replaced
      return outcome;
    },
    async rotate(options) {
      const outcome = await rotateAndNotify(keys, stateDir, { ...options, ...fetchOption });
      key = undefined;
      return outcome;
    },
    async resumeRotation() {
      const outcome = await resumeRotation(keys, stateDir, { key: openKey, ...fetchOption });
      if (outcome.outcome === 'finished') key = undefined;
      return outcome;
    },
    enrollment: () => readEnrollment(stateDir),
  };
}

async function attest(
  config: AgentConfig,
  request: AttestRequest,
  parts: { collect: Agent['collect']; openKey: () => Promise<DeviceKey> },
): Promise<Attestation> {
  const audience = request.audience ?? config.audience;
  if (!audience) {
    throw new PostureError(
      'ERR_AUDIENCE_REQUIRED',
      'an attestation needs an audience: pass --aud URL (the access proxy or verifier) or set "audience" in the configuration.',
    );
  }
  const [report, deviceKey, enrollment] = await Promise.all([
    request.report ?? parts.collect(),
    parts.openKey(),
    readEnrollment(config.stateDir),
  ]);
  // The id the verifier assigned at enrollment, while it is for this key.
  const deviceId =
    config.deviceId ?? (enrollment && enrollment.kid === deviceKey.kid ? enrollment.deviceId : undefined);
  return createAttestation({
    report,
    key: deviceKey,
    audience,
    ...(deviceId ? { deviceId } : {}),
    ...(request.nonce ? { nonce: request.nonce } : {}),
    lifetimeSeconds: config.attestationLifetimeSeconds,
  });
}

async function readKeyInfo(keys: KeyManagerDeps): Promise<KeyInfo> {
  const state = await readKeyState(keys.statePath);
  if (!state)
    throw new KeyError(
      'ERR_KEY_NOT_FOUND',
      'this device has no device key yet; `posture attest` or `posture key rotate` makes one.',
    );
  return { key: await loadDeviceKey(keys, { create: false }), state };
}
