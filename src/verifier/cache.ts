/**
 * Verified attestations, by their exact text, until they expire: the steady state costs one
 * signature check per request (the proof's). Bounded; the oldest entries go first.
 *
 * Entries are found by the signature segment (the text after the last dot, 86 characters for
 * ES256) and then compared in full, so a lookup hashes a short string instead of the whole
 * attestation (about 3 KB) that arrives as a new string with every request.
 */
export interface CachedAttestation<T> {
  text: string;
  value: T;
  expiresAtMs: number;
}

const keyOf = (token: string) => token.slice(token.lastIndexOf('.') + 1);

export class AttestationCache<T> {
  private readonly entries = new Map<string, CachedAttestation<T>>();

  constructor(private readonly capacity = 20_000) {}

  get(token: string, nowMs: number): T | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.text !== token) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T, expiresAtMs: number): void {
    const key = keyOf(token);
    if (!this.entries.has(key) && this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { text: token, value, expiresAtMs });
  }
}
