/**
 * The Linux firewall question for one address family, over every ruleset that could be read:
 * which TCP and UDP ports do unsolicited new connections from the world reach? Every reading
 * (nftables, iptables-legacy) filters the same packet, so a port is reached only if each lets it
 * through. A reading that could not be read lets everything through, as far as we know; it can
 * only hide a filter, never invent one, so it makes the answer unknown only when the readable
 * ones do not filter on their own.
 *
 * "Filters" (docs/checks.md): at most FEW_PORTS ports per family, TCP and UDP together, a range
 * counting every port in it, are reached.
 */
import type { OpenPort } from '../../shared/posture.js';
import type { PortSet } from './port-set.js';
import { ALL_PORTS, intersect, NO_PORTS, size, union } from './port-set.js';
import type { Family, Proto, Table } from './ruleset.js';
import { reachablePorts, undecided } from './ruleset.js';

export const FEW_PORTS = 16;

export interface FamilyJudgement {
  family: Family;
  /** true: filters; false: does not; null: cannot tell (see `why`). */
  filtered: boolean | null;
  /** Upper bound of the ports reached (worst case), per protocol. */
  open: Record<Proto, PortSet>;
  why?: string;
}

export interface JudgeInput {
  /** Tables of every reading that could be read. */
  tables: readonly Table[];
  /** Readings that could not be read and would filter this family, with why. */
  unreadable: readonly string[];
  /** Names of the interfaces the world arrives on (default routes); undefined: not known. */
  worldInterfaces: readonly string[] | undefined;
}

export function judgeFamily(family: Family, input: JudgeInput): FamilyJudgement {
  const worst = reached(family, input, 'worst');
  const count = size(worst.tcp) + size(worst.udp);
  if (count <= FEW_PORTS) return { family, filtered: true, open: worst };
  if (input.unreadable.length > 0) {
    return {
      family,
      filtered: null,
      open: worst,
      why: `the readable rules do not filter ${family} and these could not be read: ${input.unreadable.join('; ')}`,
    };
  }
  const best = reached(family, input, 'best');
  if (size(best.tcp) + size(best.udp) > FEW_PORTS) return { family, filtered: false, open: best };
  return {
    family,
    filtered: null,
    open: worst,
    why: `whether ${family} is filtered depends on rules this agent cannot decide: ${undecided(input.tables, family).slice(0, 5).join(', ')}`,
  };
}

function reached(family: Family, input: JudgeInput, assume: 'worst' | 'best'): Record<Proto, PortSet> {
  const ifaces =
    input.worldInterfaces && input.worldInterfaces.length > 0 ? input.worldInterfaces : [undefined];
  const out: Record<Proto, PortSet> = { tcp: NO_PORTS, udp: NO_PORTS };
  for (const proto of ['tcp', 'udp'] as const) {
    for (const iface of ifaces) {
      const packet = iface === undefined ? { family, proto } : { family, proto, iface };
      out[proto] = union(out[proto], intersect(ALL_PORTS, reachablePorts(input.tables, packet, assume)));
    }
  }
  return out;
}

export function openPorts(judgements: readonly FamilyJudgement[]): OpenPort[] {
  const out: OpenPort[] = [];
  for (const j of judgements) {
    for (const protocol of ['tcp', 'udp'] as const) {
      for (const [lo, hi] of j.open[protocol]) {
        out.push(
          lo === hi
            ? { family: j.family, protocol, port: lo }
            : { family: j.family, protocol, port: lo, endPort: hi },
        );
      }
    }
  }
  return out;
}
