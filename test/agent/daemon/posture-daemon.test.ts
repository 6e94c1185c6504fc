/**
 * PostureDaemon with the real agent core on a replay host (recorded /etc/os-release files, real
 * probes and policy, a real file key) and no event sources: an unchanged posture keeps the
 * attestation, a changed one signs a new one and hands it to onAttestation; a failing delivery
 * shows as a problem; an unreadable enrollment record leaves no policy (never the built-in one).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attestation } from '../../../src/attest/attestation.js';
import { createAgent } from '../../../src/agent/agent.js';
import { PostureDaemon } from '../../../src/agent/daemon/daemon.js';
import type { Host } from '../../../src/host/host.js';
import { fixture } from '../../helpers/fixtures.js';
import { replayHost } from '../../helpers/capture.js';
import { testConfig } from '../../helpers/config.js';

interface Line {
  event: string;
  attestation?: string;
  checks?: string[];
  changes?: { check: string; to: string }[];
}

const osRelease = (name: string) => fixture(`linux/os-release/${name}`);

/** A host whose answers come from the replay host of the moment (swapped to change the device). */
function switchableHost(first: Host): { host: Host; use(next: Host): void } {
  let current = first;
  return {
    host: {
      platform: first.platform,
      run: (r) => current.run(r),
      readFile: (p) => current.readFile(p),
      stat: (p) => current.stat(p),
      inventory: () => current.inventory(),
      now: () => new Date(),
    },
    use: (next) => {
      current = next;
    },
  };
}

function setup(options: { onAttestation?: (a: Attestation) => void | Promise<void> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `pa-daemon-unit-${process.pid}-`));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  const config = testConfig({
    stateDir: join(dir, 'state'),
    keyStore: 'file',
    keyFile: join(dir, 'device-key.json'),
    audience: 'https://verifier.example',
    socketPath: join(dir, 'run', 'api.sock'),
  });
  const hostFor = (release: string) =>
    replayHost({ os: 'linux', files: { '/etc/os-release': osRelease(release) } });
  const device = switchableHost(hostFor('debian-12'));
  const lines: Line[] = [];
  const daemon = new PostureDaemon({
    loadConfig: () => config,
    makeAgent: (c) => createAgent({ config: c, host: device.host }),
    log: (event, fields) => lines.push({ event, ...fields } as Line),
    sources: () => [],
    ...(options.onAttestation ? { onAttestation: options.onAttestation } : {}),
  });
  const rechecks = () => lines.filter((l) => l.event === 'recheck');
  const nextRecheck = async (n: number) => {
    const deadline = Date.now() + 60_000;
    while (rechecks().length < n) {
      if (Date.now() > deadline) throw new Error('no re-check');
      await new Promise((r) => setTimeout(r, 20));
    }
    return rechecks()[n - 1] as Line;
  };
  const recheck = (n: number) => {
    daemon.trigger({
      source: 'request',
      checks: ['os_version'],
      at: new Date().toISOString(),
      detail: 'test',
    });
    return nextRecheck(n);
  };
  return { dir, daemon, device, hostFor, lines, nextRecheck, recheck };
}

describe('PostureDaemon', () => {
  it('keeps the attestation while the posture is unchanged, signs anew when it changes', async () => {
    const delivered: Attestation[] = [];
    const t = setup({ onAttestation: (a) => void delivered.push(a) });
    try {
      await t.daemon.start();
      expect((await t.nextRecheck(1)).attestation).toBe('issued');
      expect(delivered).toHaveLength(1);
      expect((await t.recheck(2)).attestation).toBe('kept');
      expect(delivered).toHaveLength(1);

      t.device.use(t.hostFor('debian-13'));
      const changed = await t.recheck(3);
      expect(changed.attestation).toBe('issued');
      expect(changed.checks).toEqual(['os_version']);
      expect(delivered).toHaveLength(2);
      expect(delivered[1]?.claims.jti).not.toBe(delivered[0]?.claims.jti);
      const status = t.daemon.currentStatus();
      expect(status.lastRecheck?.trigger).toBe('request');
      expect(status.attestation?.expiresAt).toBe(new Date(delivered[1]?.expiresAt ?? 0).toISOString());
    } finally {
      await t.daemon.stop();
      rmSync(t.dir, { recursive: true, force: true });
    }
  });

  it('an attestation the seam could not deliver shows as a problem', async () => {
    const t = setup({
      onAttestation: () => {
        throw new Error('verifier down');
      },
    });
    try {
      await t.daemon.start();
      await t.nextRecheck(1);
      expect(t.daemon.currentStatus().problems.map((p) => p.code)).toContain('attestation_not_delivered');
      expect(t.daemon.currentStatus().state).toBe('degraded');
    } finally {
      await t.daemon.stop();
      rmSync(t.dir, { recursive: true, force: true });
    }
  });

  it('an unreadable enrollment record leaves no verdict, not the built-in policy', async () => {
    const t = setup();
    try {
      mkdirSync(join(t.dir, 'state'), { recursive: true });
      writeFileSync(join(t.dir, 'state', 'enrollment.json'), '{damaged');
      await t.daemon.start();
      await t.nextRecheck(1);
      const status = t.daemon.currentStatus();
      expect(status.posture).toBeNull();
      expect(status.state).toBe('degraded');
      expect(status.problems.map((p) => p.code)).toContain('policy_unavailable');
    } finally {
      await t.daemon.stop();
      rmSync(t.dir, { recursive: true, force: true });
    }
  });
});
