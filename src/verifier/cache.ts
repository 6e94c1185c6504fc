/**
 * Verified attestations, by their exact text, until they expire: the steady state costs one
 * signature check per request (the proof's). Bounded; the oldest entries go first.
 */
export interface CachedAttestation<T> {
  value: T;
  expiresAtMs: number;
}

export class AttestationCache<T> {
  private readonly entries = new Map<string, CachedAttestation<T>>();

  constructor(private readonly capacity = 20_000) {}

  get(token: string, nowMs: number): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T, expiresAtMs: number): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { value, expiresAtMs });
  }
}
