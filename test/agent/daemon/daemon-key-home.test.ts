/**
 * The daemon's device key as a system service's, with the real agent core and key manager on a
 * replay host, and the machine's TPM answers injected: with keyStore "auto" and no TPM the daemon
 * keeps running, shows `device_key_unavailable` (state degraded) and logs ERR_NO_SERVICE_KEY_STORE,
 * makes no key and no attestation; after a reload with keyStore "file" it signs with a file key.
 */
import { constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../../../src/agent/agent.js';
import type { AgentConfig } from '../../../src/agent/config.js';
import { PostureDaemon } from '../../../src/agent/daemon/daemon.js';
import { execCommand } from '../../../src/host/exec.js';
import { deviceKeyHome } from '../../../src/keys/manager.js';
import type { KeySystem } from '../../../src/keys/select.js';
import { keyManagerDeps } from '../../../src/keys/select.js';
import { replayHost } from '../../helpers/capture.js';
import { testConfig } from '../../helpers/config.js';
import { fixture } from '../../helpers/fixtures.js';

interface Line {
  event: string;
  code?: string;
  error?: string;
  protection?: string;
  recorded?: boolean;
  attestation?: string;
}

/** A Linux machine with tpm2-tools but no TPM device. */
const noTpm: KeySystem = {
  exists: async (path, mode = constants.F_OK) =>
    path === '/usr/bin/tpm2_sign' && (mode & constants.W_OK) === 0,
  exec: execCommand,
};

describe('PostureDaemon: the device key under the system service', () => {
  it('no TPM and keyStore auto → device_key_unavailable with ERR_NO_SERVICE_KEY_STORE, no key, still running; keyStore file after a reload → signs', async () => {
    const dir = mkdtempSync(join(tmpdir(), `pa-daemon-keyhome-${process.pid}-`));
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    let config: AgentConfig = testConfig({
      stateDir: join(dir, 'state'),
      keyStore: 'auto',
      audience: 'https://verifier.example',
      socketPath: join(dir, 'run', 'api.sock'),
    });
    const keysFor = (c: AgentConfig) => keyManagerDeps({ ...c, service: true }, process.cwd(), noTpm);
    const host = replayHost({
      os: 'linux',
      files: { '/etc/os-release': fixture('linux/os-release/debian-12') },
    });
    const lines: Line[] = [];
    const daemon = new PostureDaemon({
      loadConfig: () => config,
      makeAgent: (c) => createAgent({ config: c, host, keys: keysFor(c) }),
      keyHome: (c) => deviceKeyHome(keysFor(c)),
      log: (event, fields) => lines.push({ event, ...fields } as Line),
      sources: () => [],
    });
    const rechecks = async (n: number) => {
      const deadline = Date.now() + 60_000;
      while (lines.filter((l) => l.event === 'recheck').length < n) {
        if (Date.now() > deadline) throw new Error('no re-check');
        await new Promise((r) => setTimeout(r, 20));
      }
      return lines.filter((l) => l.event === 'recheck')[n - 1] as Line;
    };
    try {
      await daemon.start();
      expect(lines.find((l) => l.event === 'problem')).toMatchObject({
        code: 'device_key_unavailable',
        error: 'ERR_NO_SERVICE_KEY_STORE',
      });
      expect((await rechecks(1)).attestation).toBe('failed');
      const status = daemon.currentStatus();
      expect(status.state).toBe('degraded');
      expect(status.problems.map((p) => p.code)).toContain('device_key_unavailable');
      expect(status.attestation).toBeNull();
      expect(status.posture).not.toBeNull(); // probing goes on
      expect(existsSync(join(dir, 'state', 'device-key.json'))).toBe(false);
      expect(readdirSync(dir, { recursive: true }).filter((f) => String(f).includes('device-key'))).toEqual(
        [],
      );

      config = { ...config, keyStore: 'file', keyFile: join(dir, 'device-key.json') };
      await daemon.reload();
      expect(lines.filter((l) => l.event === 'device_key').at(-1)).toMatchObject({
        protection: 'file',
        recorded: false,
      });
      expect((await rechecks(2)).attestation).toBe('issued');
      const after = daemon.currentStatus();
      expect(after.problems.map((p) => p.code)).not.toContain('device_key_unavailable');
      expect(after.enrollment.keyProtection).toBe('file');
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
