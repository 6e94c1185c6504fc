import { readFileSync } from 'node:fs';
import { parseNftRuleset } from '../src/probes/firewall/parse-nft.js';
import { parseIptablesSave } from '../src/probes/firewall/parse-iptables.js';
import { reachablePorts } from '../src/probes/firewall/ruleset.js';
import { execFileSync } from 'node:child_process';
it('debug', () => {
  const f = process.env.F ?? '';
  const ns = `dbg${process.pid}`;
  execFileSync('/usr/sbin/ip', ['netns', 'add', ns]);
  try {
    let tables;
    if (f.endsWith('.nft')) {
      execFileSync('/usr/sbin/ip', ['netns', 'exec', ns, '/usr/sbin/nft', '-f', f]);
      tables = parseNftRuleset(execFileSync('/usr/sbin/ip', ['netns', 'exec', ns, '/usr/sbin/nft', '-j', 'list', 'ruleset'], { encoding: 'utf8' })).tables;
    } else {
      execFileSync('/usr/sbin/ip', ['netns', 'exec', ns, '/usr/sbin/iptables-legacy-restore'], { input: readFileSync(f) });
      tables = [parseIptablesSave(execFileSync('/usr/sbin/ip', ['netns', 'exec', ns, '/usr/sbin/iptables-legacy', '-S'], { encoding: 'utf8' }), 'ipv4')];
    }
    for (const fam of ['ipv4', 'ipv6'] as const) for (const proto of ['tcp', 'udp'] as const) for (const a of ['worst', 'best'] as const)
      console.log(fam, proto, a, JSON.stringify(reachablePorts(tables, { family: fam, proto, iface: 'eth0' }, a)));
    if (process.env.DUMP) console.log(JSON.stringify(tables.map((t) => ({ ...t, chains: [...t.chains.values()] })), null, 1));
  } finally {
    execFileSync('/usr/sbin/ip', ['netns', 'del', ns]);
  }
});
