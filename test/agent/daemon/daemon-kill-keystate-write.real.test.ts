/**
 * kill -9 of the whole built daemon while it writes the key state during a key rotation, then a restart:
 * nothing half-written, it carries on and rotates again (kill-mid-write.ts says how the moment is hit).
 */
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import type { RunningDaemon } from './daemon-process.js';
import { verifierBehindTap, type VerifierBehindTap } from './enrolled-daemon.js';
import { killMidWrite, KEY_STATE, STRACE } from './kill-mid-write.js';
import { executable } from './real-parts.js';

describeWith(STRACE, executable(STRACE))('posture daemon: kill -9 while writing the key state', () => {
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

  it(`${KEY_STATE.name}: nothing half-written, it carries on`, async () => {
    const outcome = await killMidWrite(v, KEY_STATE, daemons);
    // Killed before the new key was placed: the verifier keeps the old key, the daemon signs with it.
    expect(outcome.kidAfter).toBe(outcome.kidBefore);
  }, 150_000);
});
