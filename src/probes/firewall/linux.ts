/**
 * Linux firewall: whether unsolicited new connections from the world are filtered, per address
 * family, and which ports they still reach (docs/checks.md, "Firewall"). The kernel's rulesets
 * decide: nftables (`nft -j list ruleset`, which also holds iptables-nft, ufw's and firewalld's
 * rules; iptables-nft tables whose matches nft does not describe are read again through
 * `iptables-nft -S`) and iptables-legacy, which nft cannot see. The interfaces carrying the
 * default routes say where the world arrives. Reading rulesets needs root or CAP_NET_ADMIN;
 * without any, ufw's listing of its rules (judged the same way) or firewalld reporting itself
 * running is taken as their word.
 *
 * Each source is read on its own: one that cannot be read or parsed degrades only what it
 * decides, with its reason, and never throws past the probe.
 */
import type { FirewallComponent } from '../../shared/posture.js';
import type { Probe, ProbeContext } from '../types.js';
import type { FamilyJudgement } from './inbound.js';
import { judgeFamily, openPorts } from './inbound.js';
import { describeSources, type Source } from './linux-sources.js';
import { parseDefaultRouteDevices } from './parse-ip-route.js';
import { parseIptablesSave } from './parse-iptables.js';
import type { NftRuleset } from './parse-nft.js';
import { parseNftRuleset } from './parse-nft.js';
import { parseFirewalldState, parseUfwStatus } from './parse-ufw.js';
import type { Read } from './read-source.js';
import { read } from './read-source.js';
import type { Table } from './ruleset.js';
import { ufwTables } from './ufw-ruleset.js';

export const NFT = ['/usr/sbin/nft', '/sbin/nft'];
const IPTABLES_LEGACY = ['/usr/sbin/iptables-legacy', '/sbin/iptables-legacy'];
const IP6TABLES_LEGACY = ['/usr/sbin/ip6tables-legacy', '/sbin/ip6tables-legacy'];
const IPTABLES_NFT = ['/usr/sbin/iptables-nft', '/sbin/iptables-nft'];
const IP6TABLES_NFT = ['/usr/sbin/ip6tables-nft', '/sbin/ip6tables-nft'];
const UFW = ['/usr/sbin/ufw', '/sbin/ufw'];
const FIREWALL_CMD = ['/usr/bin/firewall-cmd', '/bin/firewall-cmd'];
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
/** Tables iptables-nft can print; nat has no filtering hook. */
const IPTABLES_TABLES = new Set(['filter', 'mangle', 'raw', 'security']);

export const linuxFirewall: Probe<'firewall'> = {
  check: 'firewall',
  platform: 'linux',
  async collect(ctx) {
    const [nft, legacy4, legacy6, ufw, firewalld, route4, route6] = await Promise.all([
      read(ctx, NFT, ['-j', 'list', 'ruleset'], (o) => parseNftRuleset(o.stdout)),
      read(ctx, IPTABLES_LEGACY, ['-S'], (o) => parseIptablesSave(o.stdout, 'ipv4', 'iptables-legacy')),
      read(ctx, IP6TABLES_LEGACY, ['-S'], (o) => parseIptablesSave(o.stdout, 'ipv6', 'ip6tables-legacy')),
      read(ctx, UFW, ['status', 'verbose'], (o) => parseUfwStatus(o.stdout)),
      // Stopped firewalld prints "not running" on stderr and exits 252.
      read(ctx, FIREWALL_CMD, ['--state'], (o) => parseFirewalldState(`${o.stdout}\n${o.stderr}`), [0, 252]),
      read(ctx, IP, ['-j', 'route', 'show', 'default'], (o) => parseDefaultRouteDevices(o.stdout)),
      read(ctx, IP, ['-j', '-6', 'route', 'show', 'default'], (o) => parseDefaultRouteDevices(o.stdout)),
    ]);
    const nftTables: Read<Table[]> = nft.state === 'read' ? await resolveOpaqueTables(ctx, nft.value) : nft;
    const sources: Source[] = [
      { name: 'nftables', families: ['ipv4', 'ipv6'], read: nftTables },
      { name: 'iptables-legacy', families: ['ipv4'], read: asTables(legacy4) },
      { name: 'ip6tables-legacy', families: ['ipv6'], read: asTables(legacy6) },
    ];
    const world = { ipv4: devices(route4), ipv6: devices(route6) };
    const components = describeSources(sources, world);
    const managers: FirewallComponent[] = [];
    if (ufw.state === 'read') {
      components.push({
        name: 'ufw',
        enabled: ufw.value.active,
        detail: ufw.value.active
          ? `active, default ${ufw.value.defaultIncoming ?? '?'} incoming`
          : 'inactive',
      });
    } else if (ufw.state === 'unreadable') {
      managers.push({ name: 'ufw', enabled: null, detail: ufw.detail, reason: ufw.reason });
    }
    if (firewalld.state === 'read') {
      components.push({
        name: 'firewalld',
        enabled: firewalld.value,
        detail: firewalld.value ? 'running' : 'not running',
      });
    } else if (firewalld.state === 'unreadable') {
      managers.push({ name: 'firewalld', enabled: null, detail: firewalld.detail, reason: firewalld.reason });
    }

    const readable = sources.filter((s) => s.read.state === 'read');
    if (readable.length > 0) {
      const judge = (family: 'ipv4' | 'ipv6'): FamilyJudgement =>
        judgeFamily(family, {
          tables: readable.flatMap((s) =>
            s.read.state === 'read' && s.families.includes(family) ? s.read.value : [],
          ),
          unreadable: sources
            .filter((s) => s.read.state === 'unreadable' && s.families.includes(family))
            .map((s) => `${s.name} (${s.read.state === 'unreadable' ? s.read.detail : ''})`),
          worldInterfaces: world[family],
        });
      const v4 = judge('ipv4');
      const v6 = judge('ipv6');
      if (v4.filtered === false) {
        return ctx.observed({
          enabled: false,
          ipv4: false,
          ...(v6.filtered === null ? {} : { ipv6: v6.filtered }),
          openPorts: openPorts([v4, v6].filter((j) => j.filtered !== null)),
          components,
        });
      }
      const undecided = [v4, v6].find((j) => j.filtered === null);
      if (undecided) {
        const reason = sources.find((s) => s.read.state === 'unreadable');
        return ctx.unknown(
          reason?.read.state === 'unreadable' ? reason.read.reason : 'unexpected_output',
          undecided.why ?? 'the firewall ruleset could not be decided',
        );
      }
      return ctx.observed({
        enabled: true,
        ipv4: true,
        ipv6: v6.filtered === true,
        openPorts: openPorts([v4, v6]),
        components,
      });
    }
    // No ruleset could be read: only a firewall manager's own word is left, read by the same rules.
    // A manager that could not be read matters only here, where nothing else decides.
    components.push(...managers);
    if (ufw.state === 'read' && ufw.value.active) {
      const tables = ufwTables(ufw.value);
      const v4 = judgeFamily('ipv4', { tables, unreadable: [], worldInterfaces: world.ipv4 });
      const v6 = judgeFamily('ipv6', { tables, unreadable: [], worldInterfaces: world.ipv6 });
      if (v4.filtered === true && v6.filtered !== null) {
        return ctx.observed({
          enabled: true,
          ipv4: true,
          ipv6: v6.filtered,
          openPorts: openPorts([v4, v6]),
          components,
        });
      }
    }
    const unreadable = [nft, legacy4, ufw, firewalld].filter(
      (r): r is Extract<typeof r, { state: 'unreadable' }> => r.state === 'unreadable',
    );
    const first = unreadable[0];
    // firewalld running says nothing about what its zones let in (its trusted zone accepts
    // everything): without a readable ruleset that is no observation of filtering.
    if (firewalld.state === 'read' && firewalld.value) {
      return ctx.unknown(
        first?.reason ?? 'command_missing',
        `firewalld is running, but the ruleset it loaded could not be read${first ? ` (${unreadable.map((u) => u.detail).join('; ')})` : ''}`,
      );
    }
    if (first) {
      return ctx.unknown(
        first.reason,
        `the firewall ruleset could not be read (${unreadable.map((u) => u.detail).join('; ')})`,
      );
    }
    if (firewalld.state === 'read' || ufw.state === 'read') {
      return ctx.observed({ enabled: false, ipv4: false, ipv6: false, components });
    }
    return ctx.unknown(
      'command_missing',
      'neither nft, iptables-legacy, ufw nor firewall-cmd is installed, so the kernel ruleset cannot be read',
    );
  },
};

/** The interfaces of the default routes; undefined (any non-loopback interface) when unknown or none. */
function devices(route: Read<string[]>): string[] | undefined {
  return route.state === 'read' && route.value.length > 0 ? route.value : undefined;
}

function asTables(r: Read<Table>): Read<Table[]> {
  return r.state === 'read' ? { state: 'read', value: [r.value] } : r;
}

/**
 * iptables-nft tables whose matches `nft -j` shows without options are read again through
 * `iptables-nft -t <table> -S`. If that fails, the nft reading keeps those matches as undecided,
 * so the verdict becomes unknown rather than a guess when they matter.
 */
async function resolveOpaqueTables(ctx: ProbeContext, ruleset: NftRuleset): Promise<Read<Table[]>> {
  const replaced = new Map<string, Table>();
  for (const { family, table } of ruleset.opaqueTables) {
    if (!IPTABLES_TABLES.has(table)) continue;
    const ipv6 = family === 'ip6';
    const r = await read(ctx, ipv6 ? IP6TABLES_NFT : IPTABLES_NFT, ['-t', table, '-S'], (o) =>
      parseIptablesSave(o.stdout, ipv6 ? 'ipv6' : 'ipv4', `${family} ${table} (iptables-nft)`),
    );
    if (r.state === 'read') replaced.set(`${family} ${table}`, r.value);
  }
  return { state: 'read', value: ruleset.tables.map((t) => replaced.get(t.name) ?? t) };
}
