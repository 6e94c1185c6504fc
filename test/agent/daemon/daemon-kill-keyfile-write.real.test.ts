/**
 * kill -9 of the whole built daemon while it writes the new key file during a key rotation, then a restart:
 * nothing half-written, it carries on and rotates again (kill-mid-write.ts says how the moment is hit).
 */
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import type { RunningDaemon } from './daemon-process.js';
import { verifierBehindTap, type VerifierBehindTap } from './enrolled-daemon.js';
import { killMidWrite, NEW_KEY_FILE, STRACE } from './kill-mid-write.js';
import { executable } from './real-parts.js';

describeWith(STRACE, executable(STRACE))('posture daemon: kill -9 while writing the new key file', () => {
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

  it(`${NEW_KEY_FILE.name}: nothing half-written, it carries on`, async () => {
    const outcome = await killMidWrite(v, NEW_KEY_FILE, daemons);
    // Killed before the rotation was recorded: the verifier keeps the old key, the daemon signs with it.
    expect(outcome.kidAfter).toBe(outcome.kidBefore);
  }, 150_000);
});
