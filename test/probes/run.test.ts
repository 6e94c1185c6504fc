import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCache } from '../../src/probes/cache.js';
import { probesFor, osFamily } from '../../src/probes/registry.js';
import { collectPosture, runProbe } from '../../src/probes/run.js';
import type { Probe } from '../../src/probes/types.js';
import { replayHost } from '../helpers/capture.js';

const host = replayHost({ os: 'linux' });

describe('runProbe', () => {
  it('a probe that hangs becomes unknown/timeout at its deadline', async () => {
    const hang: Probe = {
      check: 'firewall',
      platform: 'linux',
      deadlineMs: 50,
      collect: () => new Promise(() => undefined),
    };
    expect(await runProbe(host, hang)).toMatchObject({
      check: 'firewall',
      status: 'unknown',
      reason: 'timeout',
    });
  });

  it('a probe that throws becomes unknown/probe_error', async () => {
    const crash: Probe = {
      check: 'os_version',
      platform: 'linux',
      collect: async () => {
        throw new TypeError('boom');
      },
    };
    expect(await runProbe(host, crash)).toMatchObject({ status: 'unknown', reason: 'probe_error' });
  });

  it('probes run concurrently', async () => {
    const slow = (check: Probe['check']): Probe => ({
      check,
      platform: 'linux',
      collect: (ctx) =>
        new Promise((resolve) => setTimeout(() => resolve(ctx.unknown('timeout', 'slow')), 300)),
    });
    const started = Date.now();
    const report = await collectPosture({
      host,
      platform: 'linux',
      probes: [slow('disk_encryption'), slow('firewall'), slow('os_version'), slow('patch_level')],
    });
    expect(Object.keys(report.checks)).toHaveLength(4);
    expect(Date.now() - started).toBeLessThan(1100);
  });
});

describe('registry', () => {
  it('maps Node platforms to OS families', () => {
    expect(osFamily('win32')).toBe('windows');
    expect(osFamily('darwin')).toBe('darwin');
    expect(osFamily('freebsd')).toBe('unsupported');
  });

  it('an unsupported OS answers unknown/unsupported_platform for every check', async () => {
    const report = await collectPosture({
      host: replayHost({ os: 'freebsd' }),
      platform: 'unsupported',
      probes: probesFor('unsupported'),
    });
    expect(Object.values(report.checks).map((c) => c?.status === 'unknown' && c.reason)).toEqual(
      Array(4).fill('unsupported_platform'),
    );
  });
});

describe('withCache', () => {
  it('serves an observed result within the TTL with its original time, and never caches unknown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posture-cache-'));
    let calls = 0;
    const probe: Probe<'patch_level'> = {
      check: 'patch_level',
      platform: 'linux',
      collect: async (ctx) => {
        calls++;
        return calls === 1
          ? ctx.observed({
              manager: 'apt',
              pending: 0,
              securityPending: 0,
              updates: [],
              rebootRequired: false,
            })
          : ctx.unknown('timeout', 'slow');
      },
    };
    const cached = withCache(host, { dir, ttlMs: 60_000 })(probe as Probe);
    const first = await runProbe(host, cached);
    const second = await runProbe(host, cached);
    expect(calls).toBe(1);
    expect(second).toEqual(first);
    const expired = withCache(host, { dir, ttlMs: 0 })(probe as Probe);
    expect((await runProbe(host, expired)).status).toBe('unknown');
    expect(calls).toBe(2);
  });
});
