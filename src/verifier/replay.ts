/**
 * Replay protection: each proof's jti may be used once while its iat is inside the window.
 *
 * The in-memory store keeps a 64-bit fingerprint of each id in typed arrays (two generations of an
 * open-addressing table), not a Map of strings: a million remembered proofs cost 32 MiB that the
 * garbage collector never has to walk, instead of a million heap strings it marks on every cycle.
 * An id is kept at least `retentionMs` after it was remembered: it goes into the current
 * generation, which becomes the previous one after `retentionMs`, which is dropped after another
 * `retentionMs`. Ids whose expiry lies further ahead than that are kept exactly, in a small map.
 *
 * Two different ids that share a fingerprint make the second one look replayed: a denial, never
 * an admission (fail closed), with odds near 2^-64 per lookup for random jtis. A generation that is
 * full of ids that may not have expired refuses ('unavailable') rather than forgets one that could
 * then be replayed.
 *
 * Fairness: every id belongs to a device (the verified one that sent the proof), and one device may
 * hold at most `perDeviceCapacity` ids at a time (a tenth of a generation by default): a device that
 * sends more is refused ('quota_exceeded') until its ids age out, and every other device goes on.
 * It takes ten devices at their full share to fill a generation, which then refuses everyone.
 */
export type ReplayResult = 'fresh' | 'replayed' | 'quota_exceeded' | 'unavailable';

export interface ReplayStore {
  /**
   * Records `id` for `device` until `expiresAtMs`; 'replayed' if it was already recorded;
   * 'quota_exceeded' when this device holds its whole share already.
   */
  remember(id: string, expiresAtMs: number, nowMs: number, device: string): Promise<ReplayResult>;
}

/** Two independent 32-bit hashes of the text (FNV-1a and a multiply-xorshift), never both zero. */
function fingerprint(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  return [a >>> 0, (b | 1) >>> 0];
}

class FingerprintTable {
  readonly slots: Uint32Array;
  count = 0;
  private readonly mask: number;

  constructor(capacity: number) {
    // At most half full, so a probe sequence stays short.
    let size = 1024;
    while (size < capacity * 2) size *= 2;
    this.slots = new Uint32Array(size * 2);
    this.mask = size - 1;
  }

  /** True if the fingerprint was already there; otherwise inserts it (when `insert`) and says false. */
  has(a: number, b: number, insert: boolean): boolean {
    let i = a & this.mask;
    for (;;) {
      const at = i * 2;
      const sb = this.slots[at + 1] as number;
      if (sb === 0) {
        if (insert) {
          this.slots[at] = a;
          this.slots[at + 1] = b;
          this.count += 1;
        }
        return false;
      }
      if (sb === b && this.slots[at] === a) return true;
      i = (i + 1) & this.mask;
    }
  }
}

/** Ids kept beyond the retention, exactly, at most this many (a larger proof window than the default). */
const LONG_LIVED_CAPACITY = 10_000;

export class MemoryReplayStore implements ReplayStore {
  private current: FingerprintTable;
  private previous: FingerprintTable | undefined;
  private currentSince: number | undefined;
  /** Ids each device put in the current generation. */
  private perDevice = new Map<string, number>();
  private readonly longLived = new Map<string, { expiresAtMs: number; device: string }>();
  /** Long-lived ids each device holds. */
  private readonly longPerDevice = new Map<string, number>();
  private readonly perDeviceCapacity: number;
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  /**
   * @param capacity ids one generation holds (default 1,000,000: about 15,000 requests a second
   *   with the default 65-second proof window); memory is 16 bytes an id for each of two generations.
   * @param retentionMs how long an id is kept at least (default 120 s, beyond the proof window).
   * @param perDeviceCapacity ids one device may hold in a generation (default a tenth of `capacity`:
   *   about 800 requests a second from one device with the defaults).
   */
  constructor(
    private readonly capacity = 1_000_000,
    private readonly retentionMs = 120_000,
    perDeviceCapacity?: number,
  ) {
    this.current = new FingerprintTable(capacity);
    this.perDeviceCapacity = Math.max(1, Math.min(capacity, perDeviceCapacity ?? Math.floor(capacity / 10)));
  }

  /** Ids held now (both generations and the long-lived ones). */
  get size(): number {
    return this.current.count + (this.previous?.count ?? 0) + this.longLived.size;
  }

  async remember(id: string, expiresAtMs: number, nowMs: number, device: string): Promise<ReplayResult> {
    this.rotate(nowMs);
    const [a, b] = fingerprint(id);
    const known = this.longLived.get(id);
    if ((known !== undefined && known.expiresAtMs > nowMs) || this.previous?.has(a, b, false))
      return 'replayed';
    if (this.current.has(a, b, false)) return 'replayed';
    if (this.held(device) >= this.perDeviceCapacity) {
      if (this.longPerDevice.has(device)) this.sweepLongLived(nowMs);
      if (this.held(device) >= this.perDeviceCapacity) return 'quota_exceeded';
    }
    if (expiresAtMs - nowMs > this.retentionMs) return this.rememberLong(id, expiresAtMs, nowMs, device);
    if (this.current.count >= this.capacity) return 'unavailable';
    this.current.has(a, b, true);
    this.perDevice.set(device, (this.perDevice.get(device) ?? 0) + 1);
    return 'fresh';
  }

  private rotate(nowMs: number): void {
    if (this.currentSince === undefined) this.currentSince = nowMs;
    const age = nowMs - this.currentSince;
    if (age < this.retentionMs) return;
    // After two spans with nothing new, the current generation has outlived its ids too.
    this.previous = age >= 2 * this.retentionMs ? undefined : this.current;
    this.current = new FingerprintTable(this.capacity);
    this.currentSince = nowMs;
    this.perDevice = new Map();
  }

  private held(device: string): number {
    return (this.perDevice.get(device) ?? 0) + (this.longPerDevice.get(device) ?? 0);
  }

  /** Drops expired long-lived ids and gives their devices the share back; at most once a second. */
  private sweepLongLived(nowMs: number): void {
    if (nowMs - this.lastSweepMs < 1000 && nowMs >= this.lastSweepMs) return;
    this.lastSweepMs = nowMs;
    for (const [id, entry] of this.longLived) {
      if (entry.expiresAtMs > nowMs) continue;
      this.longLived.delete(id);
      const left = (this.longPerDevice.get(entry.device) ?? 1) - 1;
      if (left > 0) this.longPerDevice.set(entry.device, left);
      else this.longPerDevice.delete(entry.device);
    }
  }

  private rememberLong(id: string, expiresAtMs: number, nowMs: number, device: string): ReplayResult {
    if (this.longLived.size >= LONG_LIVED_CAPACITY) {
      this.sweepLongLived(nowMs);
      if (this.longLived.size >= LONG_LIVED_CAPACITY) return 'unavailable';
    }
    this.longLived.set(id, { expiresAtMs, device });
    this.longPerDevice.set(device, (this.longPerDevice.get(device) ?? 0) + 1);
    return 'fresh';
  }
}
