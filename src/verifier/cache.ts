/**
 * Verified attestations, by the hash of their text, until they expire: the steady state costs one
 * signature check per request (the proof's). Bounded; the oldest entries go first.
 */
export interface CachedAttestation<T> {
  value: T;
  expiresAtMs: number;
}

export class AttestationCache<T> {
  private readonly entries = new Map<string, CachedAttestation<T>>();

  constructor(private readonly capacity = 100_000) {}

  get(hash: string, nowMs: number): T | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.value;
  }

  set(hash: string, value: T, expiresAtMs: number): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { value, expiresAtMs });
  }
}
