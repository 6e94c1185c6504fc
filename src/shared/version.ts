/**
 * Versions are parsed into numbers and compared by one function; never as strings ("9" > "14").
 */
export type Version = readonly number[];

/**
 * Parses the leading dotted-numeric part of a version string: "13.5.1" → [13,5,1],
 * "10.0.22631.4317" → [10,0,22631,4317], "22.04.3 LTS" → [22,4,3], "6.1.0-18-amd64" → [6,1,0].
 * Returns null when the string does not start with a number.
 */
export function parseVersion(text: string): Version | null {
  const match = /^\s*v?(\d+(?:\.\d+)*)/.exec(text);
  if (!match?.[1]) return null;
  const parts = match[1].split('.').map((p) => Number.parseInt(p, 10));
  if (parts.some((p) => !Number.isSafeInteger(p))) return null;
  return parts;
}

/** Compares two versions numerically; missing trailing parts count as 0. Returns -1, 0 or 1. */
export function compareVersions(a: Version, b: Version): -1 | 0 | 1 {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function formatVersion(v: Version): string {
  return v.join('.');
}
