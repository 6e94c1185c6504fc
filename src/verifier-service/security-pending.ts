/**
 * The verifier's own clock for pending security updates: when a device first reports some, the
 * store records the time; when it reports none, the record is cleared. The policy's age limit
 * counts from the earlier of this and the device's own dates (src/shared/evaluate.ts), so a device
 * that deletes its agent's first-seen file does not start a new grace period.
 *
 * A write happens only when the device's report and its record disagree (a transition), never once
 * per request. The looked-up record is the truth; memory only stops this process repeating a write
 * whose effect its lookups do not show yet.
 */
import type { AttestedPosture } from '../shared/claims.js';
import type { PatchLevelObservation } from '../shared/posture.js';
import type { DeviceRecord } from '../verifier/verify-request.js';
import type { DeviceStore } from './store.js';

/** true: security updates pending; false: none; undefined: the device could not tell (no change). */
export function reportsSecurityPending(posture: AttestedPosture): boolean | undefined {
  const patch = posture.checks.patch_level;
  if (!patch || patch.status !== 'observed') return undefined;
  const o = patch.observation as Partial<PatchLevelObservation>;
  // Where the package manager cannot tell security updates apart, every pending one counts (as in the policy).
  const count = o.securityPending === null ? o.pending : o.securityPending;
  return typeof count === 'number' && Number.isFinite(count) ? count > 0 : undefined;
}

export class SecurityPendingRecorder {
  /** deviceId → the state this process last wrote, until a lookup shows it. */
  private readonly written = new Map<string, boolean>();
  /** decisionId → the write its request started, awaited before the decision is answered. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly store: DeviceStore,
    private readonly now: () => number,
  ) {}

  observe(facts: { decisionId: string; device: DeviceRecord; posture: AttestedPosture }): void {
    const reported = reportsSecurityPending(facts.posture);
    if (reported === undefined) return;
    const id = facts.device.deviceId;
    const recorded = facts.device.securityPendingSince !== undefined;
    if (reported === recorded) {
      this.written.delete(id);
      return;
    }
    if (this.written.get(id) === reported) return;
    this.written.set(id, reported);
    const write = this.store.setSecurityPendingSince(id, reported ? this.now() : null).catch(() => {
      this.written.delete(id); // not written: the next request tries again
    });
    this.writes.set(facts.decisionId, write);
  }

  /** Waits for the write a decision started, if any (so a reply never races its own record). */
  async settle(decisionId: string): Promise<void> {
    const write = this.writes.get(decisionId);
    if (!write) return;
    this.writes.delete(decisionId);
    await write;
  }
}
