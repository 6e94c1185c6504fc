/**
 * `ip -j route show default` / `ip -j -6 route show default` (iproute2 6.1 on Debian 12):
 *   [{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]}]
 * The interfaces named are where the world's packets arrive. An empty list: no default route.
 */
import { UnexpectedOutputError } from '../types.js';

export function parseDefaultRouteDevices(text: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch {
    throw new UnexpectedOutputError('ip -j route did not print JSON');
  }
  if (!Array.isArray(data)) throw new UnexpectedOutputError('ip -j route did not print a list');
  const devices = new Set<string>();
  for (const route of data as { dev?: unknown; nexthops?: { dev?: unknown }[] }[]) {
    if (typeof route?.dev === 'string') devices.add(route.dev);
    for (const hop of Array.isArray(route?.nexthops) ? route.nexthops : []) {
      if (typeof hop?.dev === 'string') devices.add(hop.dev);
    }
  }
  return [...devices];
}
