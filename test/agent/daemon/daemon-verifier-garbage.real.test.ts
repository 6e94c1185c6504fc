/**
 * A verifier answering garbage to the whole built daemon's pushes: a small real HTTP server in
 * front of the real verifier (SQLite) answers `POST /v1/devices/attestation` with, in turn, 200
 * and no JSON, 200 and JSON of another shape, 500 with an HTML page, 200 with an endless body, and
 * no answer at all; then lets the pushes through. Each is a coded `unreachable` push line (never
 * `accepted`), retried with a growing backoff, shown as `verifier_unreachable` in `posture status`
 * (state degraded); the daemon stays up and the first real answer clears the problem.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { PUSH_PATH } from '../../../src/shared/claims.js';
import { validatePolicy } from '../../../src/shared/policy.js';
import { assertBuilt, posture } from '../../helpers/cli.js';
import { APP_AUDIENCE, enrollmentToken, serviceConfig, testService } from '../../helpers/service.js';
import { daemonEnv, startDaemon, waitFor, type DaemonLogLine, type RunningDaemon } from './daemon-process.js';
import { startVerifierTap, type VerifierTap } from './verifier-tap.js';

/** Nothing required: the verifier's own decision is not what this test is about. */
const POLICY = validatePolicy({
  version: 1,
  revision: 'garbage',
  checks: {
    firewall: { required: false },
    disk_encryption: { required: false },
    os_version: { required: false },
    patch_level: { required: false },
  },
});

type Mode = 'not_json' | 'wrong_shape' | 'html_500' | 'endless' | 'hang';

/** What each garbage answer must be logged as. */
const EXPECTED: Record<Mode, { reason: string; status?: number }> = {
  not_json: { reason: 'invalid_response', status: 200 },
  wrong_shape: { reason: 'invalid_response', status: 200 },
  html_500: { reason: 'status', status: 500 },
  endless: { reason: 'invalid_response', status: 200 },
  hang: { reason: 'timeout' },
};

function answerGarbage(
  mode: Mode,
  res: ServerResponse,
  held: ServerResponse[],
  endless: { sent: number },
): void {
  switch (mode) {
    case 'not_json':
      res.writeHead(200, { 'content-type': 'application/json' }).end('ok, accepted <b>probably</b>');
      return;
    case 'wrong_shape':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"allowed":true,"reasons":[]}');
      return;
    case 'html_500':
      res
        .writeHead(500, { 'content-type': 'text/html' })
        .end('<html><body><h1>500 Internal Server Error</h1></body></html>');
      return;
    case 'endless': {
      // JSON that never ends, until the daemon stops reading (at most 256 MiB, to spare this machine).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"decision":{"allowed":true,"reasons":[');
      const chunk = Buffer.from('{"code":"x"},'.repeat(5000));
      const more = () => {
        while (!res.destroyed && endless.sent < 256 * 1024 * 1024) {
          endless.sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    case 'hang':
      held.push(res); // never answered
      return;
  }
}

describe('posture daemon: a verifier answering garbage', () => {
  beforeAll(assertBuilt);

  it('logs coded errors, retries with backoff, shows verifier_unreachable, never accepted, recovers', async () => {
    const dir = mkdtempSync(
      join(tmpdir(), `pa-garbage-${process.pid}-${Math.random().toString(36).slice(2, 8)}-`),
    );
    let tap: VerifierTap | undefined;
    let daemon: RunningDaemon | undefined;
    const held: ServerResponse[] = [];
    try {
      tap = await startVerifierTap();
      const svc = await testService({
        config: serviceConfig({ publicUrl: tap.url, audience: [APP_AUDIENCE, tap.url] }),
      });
      svc.setPolicy(POLICY);
      tap.forwardTo(Number(new URL(svc.url).port));
      const env = daemonEnv(dir, { POSTURE_AUDIENCE: tap.url });
      const enrolled = await posture(
        ['enroll', '--server', tap.url, '--token', await enrollmentToken(svc.call), '--json'],
        env,
      );
      expect(enrolled.code).toBe(0);

      // Every push is answered with garbage, the mode in force when it arrives; the rest goes through.
      const modes: Mode[] = ['not_json', 'wrong_shape', 'html_500', 'endless', 'hang'];
      let mode: Mode | 'forward' = modes[0] as Mode;
      const served: (Mode | 'forward')[] = [];
      const endless = { sent: 0 };
      tap.onRequest((req, res) => {
        if (req.method !== 'POST' || req.url !== PUSH_PATH) return false;
        served.push(mode);
        if (mode === 'forward') return false;
        answerGarbage(mode, res, held, endless);
        return true;
      });

      daemon = startDaemon({ env });
      const pushes = () => daemon!.logs.filter((l) => l.event === 'push');
      const outcomes: DaemonLogLine[] = [];
      for (const [i, current] of modes.entries()) {
        const line = await daemon.waitForLog(
          `the push answered by ${current}`,
          (l) => l.event === 'push',
          daemon.logs.indexOf(outcomes.at(-1) as DaemonLogLine) + 1,
        );
        outcomes.push(line);
        expect(served[i]).toBe(current);
        expect(line).toMatchObject({ outcome: 'unreachable', attempt: i + 1, ...EXPECTED[current] });
        if (i === 0) {
          const s = await waitFor('verifier_unreachable in the status', async () => {
            const st = await daemon!.status();
            return st?.status.problems.some((p) => p.code === 'verifier_unreachable') ? st : undefined;
          });
          expect(s.status.state).toBe('degraded');
        }
        mode = modes[i + 1] ?? 'forward';
      }
      // The endless answer was not read to its end (the daemon reads 64 KiB; socket buffers take some more).
      expect(endless.sent).toBeGreaterThan(0);
      expect(endless.sent).toBeLessThan(32 * 1024 * 1024);
      // Backoff: each retry waits at least as long as the one before.
      const waits = outcomes.map((o) => o.retryInMs as number);
      expect(waits).toEqual([...waits].sort((a, b) => a - b));
      expect(pushes().some((l) => l.outcome === 'accepted')).toBe(false);
      const during = await daemon.status();
      expect(during?.status.problems.map((p) => p.code)).toContain('verifier_unreachable');
      expect(daemon.child.exitCode).toBeNull();

      // The verifier answers for real again: accepted, the problem gone.
      const accepted = await daemon.waitForLog(
        'an accepted push',
        (l) => l.event === 'push' && l.outcome === 'accepted',
      );
      expect(accepted).toMatchObject({ allowed: true });
      await waitFor('verifier_unreachable cleared', async () => {
        const st = await daemon!.status();
        return st && !st.status.problems.some((p) => p.code === 'verifier_unreachable') ? st : undefined;
      });
      // One start: no crash, no restart.
      expect(daemon.logs.filter((l) => l.event === 'started')).toHaveLength(1);
      expect(daemon.stderr()).toBe('');
    } finally {
      for (const r of held) r.destroy();
      await daemon?.kill9();
      await tap?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
