/**
 * nftables ruleset changes, from `nft monitor` (a long-running process, started through the exec
 * module). Every line it prints is one change the kernel announced on the NFNLGRP_NFTABLES
 * netlink group (add/delete of a table, chain, rule, set or element); a ruleset load prints a
 * burst, which the debouncer coalesces. The content is not trusted for the verdict: a line only
 * says "re-probe the firewall", the probe reads the ruleset itself.
 *
 * Sample (nftables 1.0.6, Debian 12, test/fixtures/linux/nft/debian-12-nft-monitor-*.txt):
 *   add table inet f
 *   add chain inet f input { type filter hook input priority filter; policy drop; }
 *   # new generation 2 by process 8855 (nft)
 *   delete table inet f
 * Each change line triggers (the "# new generation" comment closing a transaction is not relied
 * on: not every nft version prints it); the debouncer turns a burst into one re-probe.
 * Needs CAP_NET_ADMIN (the daemon runs as root). When nft exits, it is restarted with a growing
 * delay (1 s … 60 s); polling covers the gap.
 */
import { supervisedLines } from './supervised-lines.js';
import type { EventSource, ProblemListener, Timers, TriggerListener } from './trigger.js';
import { realTimers } from './trigger.js';

export const NFT_PATH = '/usr/sbin/nft';

export interface NftMonitorOptions {
  /** The program and arguments; default `/usr/sbin/nft monitor`. Tests prefix `ip netns exec`. */
  command?: string;
  args?: readonly string[];
  onTrigger: TriggerListener;
  onProblem?: ProblemListener;
  now?: () => Date;
  timers?: Timers;
  minRestartMs?: number;
  maxRestartMs?: number;
}

export function nftMonitorSource(options: NftMonitorOptions): EventSource {
  const now = options.now ?? (() => new Date());
  const helper = supervisedLines({
    command: options.command ?? NFT_PATH,
    args: options.args ?? ['monitor'],
    timers: options.timers ?? realTimers,
    now,
    minRestartMs: options.minRestartMs ?? 1_000,
    maxRestartMs: options.maxRestartMs ?? 60_000,
    onLine(line, run) {
      const text = nftMonitorChange(line);
      if (text === undefined) return;
      run.healthy(); // it works: the next failure starts the backoff anew
      options.onTrigger({
        source: 'firewall_ruleset',
        checks: ['firewall'],
        at: now().toISOString(),
        detail: `nft: ${text.slice(0, 200)}`,
      });
    },
    onEnded(outcome, restartInMs) {
      const detail = outcome.ok
        ? `nft monitor exited (code ${outcome.exitCode}, signal ${outcome.signal}): ${outcome.stderr.trim().slice(0, 200)}`
        : `${outcome.error}: ${outcome.detail}`;
      options.onProblem?.({
        source: 'nft-monitor',
        code: 'exited',
        detail: `${detail}; restarting in ${restartInMs} ms`,
      });
    },
  });
  return {
    name: 'nft-monitor',
    start: async () => helper.start(),
    stop: () => helper.stop(),
  };
}

/** The change a `nft monitor` line announces, or undefined for a comment or blank line. Pure. */
export function nftMonitorChange(line: string): string | undefined {
  const text = line.trim();
  if (!text || text.startsWith('#')) return undefined;
  return text;
}
