/**
 * Linux firewall: what actually filters inbound traffic. The nftables ruleset (which also holds
 * iptables-nft rules, ufw's and firewalld's) is authoritative when readable; iptables-legacy rules,
 * which nft cannot see, are added. Reading either needs root or CAP_NET_ADMIN; without it, ufw or
 * firewalld reporting themselves active is taken as their word, and otherwise the answer is unknown.
 */
import type { FirewallComponent } from '../../shared/posture.js';
import type { CommandOutcome } from '../host.js';
import type { Probe, ProbeContext } from '../types.js';
import { looksLikePermissionDenied, reasonFor, UnexpectedOutputError } from '../types.js';
import { parseIptablesSave } from './parse-iptables.js';
import { parseNftRuleset } from './parse-nft.js';
import { parseFirewalldState, parseUfwStatus } from './parse-ufw.js';

export const NFT = ['/usr/sbin/nft', '/sbin/nft'];
const IPTABLES_LEGACY = ['/usr/sbin/iptables-legacy', '/sbin/iptables-legacy'];
const IP6TABLES_LEGACY = ['/usr/sbin/ip6tables-legacy', '/sbin/ip6tables-legacy'];
const UFW = ['/usr/sbin/ufw', '/sbin/ufw'];
const FIREWALL_CMD = ['/usr/bin/firewall-cmd', '/bin/firewall-cmd'];

type Read<T> =
  | { state: 'read'; value: T }
  | { state: 'absent' }
  | { state: 'unreadable'; reason: FirewallComponent['reason']; detail: string };

export const linuxFirewall: Probe<'firewall'> = {
  check: 'firewall',
  platform: 'linux',
  async collect(ctx) {
    try {
      const [nft, legacy4, legacy6, ufw, firewalld] = await Promise.all([
        read(ctx, NFT, ['-j', 'list', 'ruleset'], (o) => parseNftRuleset(o.stdout)),
        read(ctx, IPTABLES_LEGACY, ['-S'], (o) => parseIptablesSave(o.stdout)),
        read(ctx, IP6TABLES_LEGACY, ['-S'], (o) => parseIptablesSave(o.stdout)),
        read(ctx, UFW, ['status', 'verbose'], (o) => parseUfwStatus(o.stdout)),
        read(ctx, FIREWALL_CMD, ['--state'], (o) => parseFirewalldState(o.stdout), [0, 252]),
      ]);
      const components: FirewallComponent[] = [];
      const authoritative = nft.state === 'read' || legacy4.state === 'read';
      let ipv4 = false;
      let ipv6 = false;
      if (nft.state === 'read') {
        ipv4 ||= nft.value.ipv4;
        ipv6 ||= nft.value.ipv6;
        const chains = nft.value.inputChains.length
          ? nft.value.inputChains.join('; ')
          : 'no input-hook chain';
        components.push({ name: 'nftables', enabled: nft.value.ipv4 || nft.value.ipv6, detail: chains });
      }
      if (legacy4.state === 'read' && (legacy4.value.rules > 0 || legacy4.value.policy !== 'ACCEPT')) {
        ipv4 ||= legacy4.value.filters;
        components.push({
          name: 'iptables-legacy',
          enabled: legacy4.value.filters,
          detail: `INPUT policy ${legacy4.value.policy}, ${legacy4.value.rules} rules`,
        });
      }
      if (legacy6.state === 'read' && (legacy6.value.rules > 0 || legacy6.value.policy !== 'ACCEPT')) {
        ipv6 ||= legacy6.value.filters;
        components.push({
          name: 'ip6tables-legacy',
          enabled: legacy6.value.filters,
          detail: `INPUT policy ${legacy6.value.policy}, ${legacy6.value.rules} rules`,
        });
      }
      if (ufw.state === 'read') {
        components.push({
          name: 'ufw',
          enabled: ufw.value.active,
          detail: ufw.value.active
            ? `active, default ${ufw.value.defaultIncoming ?? '?'} incoming`
            : 'inactive',
        });
      }
      if (firewalld.state === 'read') {
        components.push({
          name: 'firewalld',
          enabled: firewalld.value,
          detail: firewalld.value ? 'running' : 'not running',
        });
      }
      if (authoritative) {
        return ctx.observed({ enabled: ipv4, ipv4, ipv6, components });
      }
      // No ruleset could be read: only a firewall manager's own word is left.
      const managerOn =
        (ufw.state === 'read' && ufw.value.active && ufw.value.defaultIncoming !== 'allow') ||
        (firewalld.state === 'read' && firewalld.value);
      if (managerOn) {
        return ctx.observed({ enabled: true, components });
      }
      const unreadable = [nft, legacy4, ufw].filter(
        (r): r is Extract<typeof r, { state: 'unreadable' }> => r.state === 'unreadable',
      );
      if (unreadable.length > 0) {
        const first = unreadable[0];
        return ctx.unknown(
          first?.reason ?? 'insufficient_privilege',
          `the firewall ruleset could not be read (${unreadable.map((u) => u.detail).join('; ')})`,
        );
      }
      if (
        nft.state === 'absent' &&
        legacy4.state === 'absent' &&
        ufw.state === 'absent' &&
        firewalld.state === 'absent'
      ) {
        return ctx.unknown(
          'command_missing',
          'neither nft, iptables-legacy, ufw nor firewall-cmd is installed, so the kernel ruleset cannot be read',
        );
      }
      return ctx.observed({ enabled: false, ipv4: false, ipv6: false, components });
    } catch (error) {
      if (error instanceof UnexpectedOutputError) return ctx.unknown('unexpected_output', error.message);
      throw error;
    }
  },
};

async function read<T>(
  ctx: ProbeContext,
  commands: string[],
  args: string[],
  parse: (o: Extract<CommandOutcome, { ok: true }>) => T,
  okExitCodes: number[] = [0],
): Promise<Read<T>> {
  const outcome = await ctx.runFirst(commands, args);
  const name = commands[0]?.split('/').pop() ?? '';
  if (!outcome.ok) {
    if (outcome.error === 'command_missing') return { state: 'absent' };
    return { state: 'unreadable', reason: reasonFor(outcome.error), detail: `${name}: ${outcome.detail}` };
  }
  if (!okExitCodes.includes(outcome.exitCode ?? -1)) {
    const message = `${outcome.stderr} ${outcome.stdout}`.trim();
    if (looksLikePermissionDenied(message)) {
      return {
        state: 'unreadable',
        reason: 'insufficient_privilege',
        detail: `${name} needs root or CAP_NET_ADMIN`,
      };
    }
    return {
      state: 'unreadable',
      reason: 'unexpected_output',
      detail: `${name} exited with ${outcome.exitCode}: ${message.slice(0, 160)}`,
    };
  }
  return { state: 'read', value: parse(outcome) };
}
