/**
 * Replay protection: each proof's jti may be used once while its iat is inside the window.
 * The in-memory store is bounded: when it is full of entries that have not expired it refuses
 * (fail closed) instead of forgetting one that could then be replayed.
 */
export type ReplayResult = 'fresh' | 'replayed' | 'unavailable';

export interface ReplayStore {
  /** Records `id` until `expiresAtMs`; 'replayed' if it was already recorded. */
  remember(id: string, expiresAtMs: number, nowMs: number): Promise<ReplayResult>;
}

export class MemoryReplayStore implements ReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly capacity = 1_000_000) {}

  get size(): number {
    return this.seen.size;
  }

  async remember(id: string, expiresAtMs: number, nowMs: number): Promise<ReplayResult> {
    const existing = this.seen.get(id);
    if (existing !== undefined && existing > nowMs) return 'replayed';
    if (this.seen.size >= this.capacity) this.sweep(nowMs);
    if (this.seen.size >= this.capacity) return 'unavailable';
    this.seen.set(id, expiresAtMs);
    return 'fresh';
  }

  private sweep(nowMs: number): void {
    for (const [id, expires] of this.seen) if (expires <= nowMs) this.seen.delete(id);
  }
}
