/** The Linux firewall's rulesets as components of the observation: what each one does on its own. */
import type { FirewallComponent } from '../../shared/posture.js';
import type { Read } from './read-source.js';
import type { Family, Table } from './ruleset.js';
import { judgeFamily } from './inbound.js';

export interface Source {
  name: 'nftables' | 'iptables-legacy' | 'ip6tables-legacy';
  families: Family[];
  read: Read<Table[]>;
}

export function describeSources(
  sources: readonly Source[],
  worldInterfaces: Record<Family, readonly string[] | undefined>,
): FirewallComponent[] {
  const out: FirewallComponent[] = [];
  for (const s of sources) {
    if (s.read.state === 'absent') continue;
    if (s.read.state === 'unreadable') {
      out.push({ name: s.name, enabled: null, detail: s.read.detail, reason: s.read.reason });
      continue;
    }
    const tables = s.read.value;
    const baseChains = tables.flatMap((t) =>
      [...t.chains.values()]
        .filter((c) => c.hook)
        .map((c) => `${t.name}/${c.name} (policy ${c.policy ?? 'accept'})`),
    );
    // An iptables-legacy table nobody uses (policy ACCEPT, no rules) is not worth a line.
    const used = tables.some((t) =>
      [...t.chains.values()].some((c) => c.rules.length > 0 || c.policy === 'drop'),
    );
    if (s.name !== 'nftables' && !used) continue;
    const states = s.families.map((family) => {
      const j = judgeFamily(family, { tables, unreadable: [], worldInterfaces: worldInterfaces[family] });
      return { family, filtered: j.filtered };
    });
    const enabled = states.some((x) => x.filtered === true)
      ? true
      : states.every((x) => x.filtered === false)
        ? false
        : null;
    const chains = baseChains.length ? baseChains.join(', ') : 'no input-hook chain';
    const summary = states
      .map(
        (x) =>
          `${x.family} ${x.filtered === true ? 'filtered' : x.filtered === false ? 'not filtered' : 'undecided'}`,
      )
      .join(', ');
    out.push({ name: s.name, enabled, detail: `${chains}: ${summary}` });
  }
  return out;
}
