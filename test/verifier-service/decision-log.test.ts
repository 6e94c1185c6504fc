/**
 * The decision log on real files: every line, in order, across batches and a close; a failing disk
 * (/dev/full answers every write with ENOSPC) is reported once and never throws into the service.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecisionEntry } from '../../src/verifier-service/decision-log.js';
import { openDecisionLog } from '../../src/verifier-service/decision-log.js';
import { itWith } from '../helpers/real-part.js';

const tick = () => new Promise((r) => setImmediate(r));
const entry = (n: number, url = 'https://app.example.com/ü "quoted"\n'): DecisionEntry => ({
  ts: new Date(1_700_000_000_000 + n).toISOString(),
  decisionId: `decision-${n}`,
  device: n % 3 ? `dev_${n}` : null,
  allowed: n % 2 === 0,
  status: n % 2 ? 403 : 200,
  reasons: n % 2 ? ['posture_failed:firewall', 'posture_failed:disk_encryption'] : [],
  policyRevision: 'rev-1',
  method: 'GET',
  url,
  latencyMs: n / 100,
});
const numberOf = (line: string) => Number((JSON.parse(line) as DecisionEntry).decisionId.slice(9));

describe('decision log', () => {
  it('writes every decision as one JSON line, in order, with mode 0640', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'posture-log-')), 'decisions.log');
    const log = openDecisionLog(file, (e) => {
      throw e;
    });
    let n = 0;
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 250; i++) log.write(entry(n++));
      await tick();
    }
    for (let i = 0; i < 100; i++) log.write(entry(n++));
    await log.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(n);
    expect(lines.map(numberOf)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(log.stats).toEqual({ failures: 0, dropped: 0 });
  });

  it('appends to an existing log, and ignores writes after close', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'posture-log-')), 'decisions.log');
    for (const round of [1, 2]) {
      const log = openDecisionLog(file, () => undefined);
      log.write(entry(round));
      await log.close();
      log.write(entry(99));
    }
    expect(readFileSync(file, 'utf8').trim().split('\n').map(numberOf)).toEqual([1, 2]);
  });

  itWith('/dev/full', existsSync('/dev/full'))(
    'a full disk is reported once, counted, and never throws',
    async () => {
      const errors: string[] = [];
      const log = openDecisionLog('/dev/full', (e) =>
        errors.push((e as NodeJS.ErrnoException).code ?? 'none'),
      );
      for (let i = 0; i < 50; i++) {
        expect(() => log.write(entry(i))).not.toThrow();
        await tick();
      }
      // The batch is due 100 ms after the first line; that write fails; close() tries once more.
      await new Promise((r) => setTimeout(r, 250));
      await log.close();
      expect(log.stats.failures).toBeGreaterThanOrEqual(1);
      expect(errors[0]).toBe('ENOSPC');
      // Reported at the start of the failure run, and again only when close cannot write either.
      expect(errors.length).toBeLessThanOrEqual(2);
    },
  );

  it('a log file that cannot be opened fails at start with the system code', () => {
    expect(() => openDecisionLog('/nonexistent-dir/decisions.log', () => undefined)).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});
