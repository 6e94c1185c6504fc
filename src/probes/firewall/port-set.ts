/**
 * Sets of TCP/UDP ports (0–65535) as sorted, non-overlapping inclusive ranges. The ruleset
 * evaluator pushes a whole port set through each chain at once instead of one packet per port.
 */
export type PortRange = readonly [number, number];
export type PortSet = readonly PortRange[];

export const MAX_PORT = 65535;
export const NO_PORTS: PortSet = [];
export const ALL_PORTS: PortSet = [[0, MAX_PORT]];

export function portSet(ranges: readonly PortRange[]): PortSet {
  const sorted = ranges
    .map(([a, b]) => [Math.max(0, Math.min(a, b)), Math.min(MAX_PORT, Math.max(a, b))] as const)
    .filter(([a, b]) => a <= b)
    .sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function union(a: PortSet, b: PortSet): PortSet {
  return portSet([...a, ...b]);
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  const out: PortRange[] = [];
  for (const [a1, a2] of a) {
    for (const [b1, b2] of b) {
      const lo = Math.max(a1, b1);
      const hi = Math.min(a2, b2);
      if (lo <= hi) out.push([lo, hi]);
    }
  }
  return portSet(out);
}

export function subtract(a: PortSet, b: PortSet): PortSet {
  return intersect(a, complement(b));
}

export function complement(a: PortSet): PortSet {
  const out: PortRange[] = [];
  let next = 0;
  for (const [lo, hi] of portSet(a)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_PORT) out.push([next, MAX_PORT]);
  return out;
}

export function size(a: PortSet): number {
  return a.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
}

export function isEmpty(a: PortSet): boolean {
  return a.length === 0;
}

export function contains(a: PortSet, port: number): boolean {
  return a.some(([lo, hi]) => port >= lo && port <= hi);
}
