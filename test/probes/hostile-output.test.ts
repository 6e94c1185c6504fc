/**
 * Every probe on every OS, fed empty, truncated and garbage output for every command and file:
 * each check must come back unknown (never observed, so never a pass), and nothing may throw.
 */
import type { Host } from '../../src/host/host.js';
import { probesFor } from '../../src/probes/registry.js';
import { collectPosture } from '../../src/probes/run.js';
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import type { OsFamily } from '../../src/shared/posture.js';

function hostile(os: string, text: string, exitCode: number): Host {
  return {
    platform: { os, release: 'x', arch: 'x64' },
    run: async () => ({ ok: true, exitCode, signal: null, stdout: text, stderr: text }),
    readFile: async () => ({ ok: true, content: text }),
    stat: async () => ({ ok: false, error: 'not_found', detail: 'no' }),
    inventory: async () => ({}),
    now: () => new Date('2026-11-22T12:00:00Z'),
  };
}

const OUTPUTS: [string, string][] = [
  ['empty', ''],
  ['garbage', 'Segmentation fault (core dumped)\n'],
  ['truncated JSON', '{"blockdevices": [{"name": "sda", "type": "di'],
  ['binary', '\u0000\u0001\u0002\ufffd\ufffd'],
  ['an HTML error page', '<html><body>502 Bad Gateway</body></html>'],
];
const PLATFORMS: [string, OsFamily][] = [
  ['linux', 'linux'],
  ['darwin', 'darwin'],
  ['win32', 'windows'],
];

describe.each(PLATFORMS)('%s probes on hostile output', (os, family) => {
  it.each(OUTPUTS)('%s → every check unknown, overall never pass', async (_name, text) => {
    for (const exitCode of [0, 1]) {
      const report = await collectPosture({
        host: hostile(os, text, exitCode),
        platform: family,
        probes: probesFor(family),
      });
      for (const result of Object.values(report.checks)) {
        expect(result?.status).toBe('unknown');
        if (result?.status === 'unknown') expect(result.reason).not.toBe('probe_error');
      }
      expect(evaluatePosture(report.checks, DEFAULT_POLICY, family, new Date()).overall).toBe('unknown');
    }
  });
});
