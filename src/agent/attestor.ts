/**
 * What a caller needs to present this device (the Node SDK's view of the agent core): collect
 * posture, open the device key (creating the first one), and sign an attestation for an audience.
 */
import type { Attestation } from '../attest/attestation.js';
import type { PostureReport } from '../shared/posture.js';
import type { DeviceKey } from '../keys/types.js';
import type { Host } from '../host/host.js';
import { createAgent } from './agent.js';
import type { AgentConfig } from './config.js';

export { INSTALL_DIR } from './agent.js';

export interface Attestor {
  key(): Promise<DeviceKey>;
  collect(): Promise<PostureReport>;
  attest(options?: { audience?: string; nonce?: string }): Promise<Attestation>;
}

export function createAttestor(config: AgentConfig, host?: Host): Attestor {
  const agent = createAgent({ config, ...(host ? { host } : {}) });
  return { key: () => agent.key(), collect: () => agent.collect(), attest: (o) => agent.attest(o) };
}
