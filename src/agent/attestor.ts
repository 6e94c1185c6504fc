/**
 * What a caller needs to present this device: collect posture, open the device key (creating the
 * first one), and sign an attestation for an audience. Used by the CLI, the Node SDK and, later,
 * the daemon.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Attestation } from '../attest/attestation.js';
import { createAttestation } from '../attest/attestation.js';
import { PostureError } from '../shared/errors.js';
import type { PostureReport } from '../shared/posture.js';
import { loadDeviceKey } from '../keys/manager.js';
import { keyManagerDeps } from '../keys/select.js';
import type { DeviceKey } from '../keys/types.js';
import type { Host } from '../probes/host.js';
import { createLiveHost } from '../probes/live-host.js';
import { collectFrom } from './collect.js';
import type { AgentConfig } from './config.js';
import { readEnrollment } from './enroll.js';
import { annotateFirstSeen } from './first-seen.js';

/** Where the agent's own files (native-probes/) are: the package root. */
export const INSTALL_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface Attestor {
  key(): Promise<DeviceKey>;
  collect(): Promise<PostureReport>;
  attest(options?: { audience?: string; nonce?: string }): Promise<Attestation>;
}

export function createAttestor(config: AgentConfig, host: Host = createLiveHost()): Attestor {
  const deps = keyManagerDeps(config, INSTALL_DIR);
  let key: Promise<DeviceKey> | undefined;
  const openKey = () => {
    key ??= loadDeviceKey(deps).catch((error: unknown) => {
      key = undefined; // try again next time (an unlocked keychain, a TPM back)
      throw error;
    });
    return key;
  };
  const collect = async () =>
    annotateFirstSeen(
      await collectFrom(host, config, { cache: true }),
      join(config.cacheDir, 'pending-first-seen.json'),
      host.now(),
    );
  return {
    key: openKey,
    collect,
    async attest(options = {}) {
      const audience = options.audience ?? config.audience;
      if (!audience) {
        throw new PostureError(
          'ERR_AUDIENCE_REQUIRED',
          'an attestation needs an audience: pass --aud URL (the access proxy or verifier) or set "audience" in the configuration.',
        );
      }
      const [report, deviceKey, enrollment] = await Promise.all([
        collect(),
        openKey(),
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
        ...(options.nonce ? { nonce: options.nonce } : {}),
        lifetimeSeconds: config.attestationLifetimeSeconds,
      });
    },
  };
}
