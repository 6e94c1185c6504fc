/**
 * kill -9 of the whole built daemon while it writes the enrollment during a key rotation, then a restart:
 * nothing half-written, it carries on and rotates again (kill-mid-write.ts says how the moment is hit).
 */
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import type { RunningDaemon } from './daemon-process.js';
import { verifierBehindTap, type VerifierBehindTap } from './enrolled-daemon.js';
import { killMidWrite, ENROLLMENT, STRACE } from './kill-mid-write.js';
import { executable } from './real-parts.js';

describeWith(STRACE, executable(STRACE))('posture daemon: kill -9 while writing the enrollment', () => {
  beforeAll(assertBuilt);
  let v: VerifierBehindTap;
  const daemons: RunningDaemon[] = [];
  beforeAll(async () => {
    v = await verifierBehindTap();
  });
  afterAll(async () => {
    for (const d of daemons.splice(0)) await d.kill9();
    await v.close();
  });

  it(`${ENROLLMENT.name}: nothing half-written, it carries on`, async () => {
    const outcome = await killMidWrite(v, ENROLLMENT, daemons);
    // The verifier had taken the rotation: the restarted daemon signs with the new key, which it holds.
    expect(outcome.kidAfter).not.toBe(outcome.kidBefore);
  }, 150_000);
});
