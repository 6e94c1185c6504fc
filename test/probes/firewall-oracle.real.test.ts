/**
 * The traffic oracle: every real ruleset in test/fixtures/linux/rulesets (sources in
 * test/fixtures/SOURCES.md) is loaded into a fresh network namespace, the agent's real Linux
 * firewall probe reads it there, and a peer namespace then connects over IPv4 and IPv6, TCP and
 * UDP, to the ports the agent says are open and to ports it says are not. The test fails when the
 * agent and the packets disagree, whichever is wrong: a family the agent calls filtered must let
 * through exactly the ports it lists; one it calls unfiltered must let through more than a few.
 *
 * `<name>.nft` is loaded with `nft -f`; `<name>.iptables` / `<name>.ip6tables` (iptables-save
 * format) once through iptables-nft-restore and once through iptables-legacy-restore.
 * Needs root and `ip netns`; with CI set and either missing, the test fails instead of skipping.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { linuxFirewall } from '../../src/probes/firewall/linux.js';
import { FEW_PORTS } from '../../src/probes/firewall/inbound.js';
import type { PortSet } from '../../src/probes/firewall/port-set.js';
import { contains, portSet, size } from '../../src/probes/firewall/port-set.js';
import { runProbe } from '../../src/probes/run.js';
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import type { CheckResult, FirewallObservation } from '../../src/shared/posture.js';
import { canUseNetns, createNamespaceHost } from '../fakes/namespace-host.js';
import type { NamespacePair, Probe, ProbeResult } from '../fakes/traffic.js';
import { createNamespacePair, sendProbes } from '../fakes/traffic.js';
import { FIXTURES, fixtureNames } from '../helpers/fixtures.js';
import { describeWith } from '../helpers/real-part.js';

const CORPUS = 'linux/rulesets';
/** Always probed, whatever the agent says: common services, DHCPv6, NodePort-range and high ports. */
const FIXED_PORTS = [22, 53, 80, 443, 546, 8080, 9090, 30080, 47123, 65000];
const PARALLEL = 6;

const available = canUseNetns();
const describeReal = describeWith('root and ip netns', available);

interface Case {
  name: string;
  /** Destination ports the ruleset's text names, read here independently of the agent. */
  named: number[];
  load(pair: NamespacePair): Promise<void>;
}

/**
 * Every destination port a ruleset names (`dport 22`, `dport { 53, 67-68 }`, `--dport 1000:2000`,
 * `--dports 80,443`), ranges by their ends and middle, so a port the agent wrongly calls closed is
 * probed too, not only the ones it calls open.
 */
function namedPorts(text: string): number[] {
  const ports = new Set<number>();
  const re = /(?:dports?|--dports?|port=)\s*(?:!=\s*)?(\{[^}]*\}|[\d,:-]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    for (const part of (m[1] ?? '').replace(/[{}]/g, '').split(',')) {
      const [lo, hi] = part.trim().split(/[:-]/).map(Number);
      if (lo === undefined || !Number.isInteger(lo)) continue;
      const top = hi !== undefined && Number.isInteger(hi) ? hi : lo;
      for (const p of [lo, Math.floor((lo + top) / 2), top]) if (p > 0 && p <= 65535) ports.add(p);
    }
  }
  return [...ports];
}

function corpus(): Case[] {
  const files = fixtureNames(CORPUS).filter((f) => /\.(nft|iptables|ip6tables)$/.test(f));
  const text = (f: string) => readFileSync(join(FIXTURES, CORPUS, f), 'utf8');
  const cases: Case[] = [];
  for (const f of files.filter((x) => x.endsWith('.nft'))) {
    cases.push({
      name: f,
      named: namedPorts(text(f)),
      load: (pair) => pair.exec('/usr/sbin/nft', ['-f', '-'], text(f)).then(() => undefined),
    });
  }
  const bases = new Set(
    files.filter((f) => /\.ip6?tables$/.test(f)).map((f) => f.replace(/\.ip6?tables$/, '')),
  );
  for (const base of bases) {
    for (const backend of ['nft', 'legacy'] as const) {
      cases.push({
        name: `${base} (iptables-${backend})`,
        named: namedPorts(
          [`${base}.iptables`, `${base}.ip6tables`]
            .filter((f) => files.includes(f))
            .map(text)
            .join('\n'),
        ),
        async load(pair) {
          if (files.includes(`${base}.iptables`)) {
            await pair.exec(`/usr/sbin/iptables-${backend}-restore`, [], text(`${base}.iptables`));
          }
          if (files.includes(`${base}.ip6tables`)) {
            await pair.exec(`/usr/sbin/ip6tables-${backend}-restore`, [], text(`${base}.ip6tables`));
          }
        },
      });
    }
  }
  return cases;
}

interface Outcome {
  result: CheckResult<FirewallObservation>;
  code: string | undefined;
  traffic: ProbeResult[];
  claimed: Record<string, PortSet>;
}

/** The agent's open ports per family/protocol ("ipv4/tcp"); a family it did not decide is absent. */
function claimedOpen(o: FirewallObservation): Record<string, PortSet> {
  const out: Record<string, PortSet> = {};
  for (const family of ['ipv4', 'ipv6'] as const) {
    if (!o.openPorts?.some((p) => p.family === family) && o[family] !== true && o[family] !== false) continue;
    for (const proto of ['tcp', 'udp'] as const) {
      out[`${family}/${proto}`] = portSet(
        (o.openPorts ?? [])
          .filter((p) => p.family === family && p.protocol === proto)
          .map((p) => [p.port, p.endPort ?? p.port] as const),
      );
    }
  }
  return out;
}

/**
 * Fixed ports, the ports the ruleset names, and from what the agent calls open all of it when few,
 * else FEW_PORTS + 1 spread over it.
 */
function probesFor(claimed: Record<string, PortSet>, named: readonly number[]): Probe[] {
  const probes: Probe[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const proto of ['tcp', 'udp'] as const) {
      const open = claimed[`${family}/${proto}`] ?? [];
      const ports = new Set([...FIXED_PORTS, ...named]);
      const list = open.flatMap(([lo, hi]) =>
        hi - lo < 64 ? range(lo, hi) : [lo, Math.floor((lo + hi) / 2), hi],
      );
      const usable = list.filter((p) => p > 0);
      const step = Math.max(1, Math.floor(usable.length / (FEW_PORTS + 1)));
      usable.filter((_, i) => size(open) <= FEW_PORTS || i % step === 0).forEach((p) => ports.add(p));
      for (const port of ports) probes.push({ family, proto, port });
    }
  }
  return probes;
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

async function runCase(c: Case): Promise<Outcome> {
  const pair = await createNamespacePair();
  try {
    await c.load(pair);
    const result = (await runProbe(
      createNamespaceHost(pair.host),
      linuxFirewall,
    )) as CheckResult<FirewallObservation>;
    const code = evaluatePosture({ firewall: result }, DEFAULT_POLICY, 'linux', new Date()).checks.find(
      (v) => v.check === 'firewall',
    )?.code;
    const claimed = result.status === 'observed' ? claimedOpen(result.observation) : {};
    const traffic = await sendProbes(pair, probesFor(claimed, c.named));
    return { result, code, traffic, claimed };
  } finally {
    await pair.remove();
  }
}

const all = available ? corpus() : [];
// ORACLE_ONLY=<text> runs only the rulesets whose name holds it (while working on one).
const cases = all.filter((c) => c.name.includes(process.env.ORACLE_ONLY ?? ''));
const outcomes = new Map<string, Outcome | Error>();

describeReal('firewall verdicts agree with real traffic', () => {
  beforeAll(async () => {
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          outcomes.set(
            c.name,
            await runCase(c).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
          );
        }
      }),
    );
  }, 240_000);

  it('has at least 30 real rulesets', () => {
    expect(new Set(all.map((c) => c.name.replace(/ \(iptables-\w+\)$/, ''))).size).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c) => c.name))('%s', (name) => {
    const outcome = outcomes.get(name);
    if (outcome instanceof Error) throw outcome;
    expect(outcome).toBeDefined();
    if (!outcome) return;
    const { result, traffic, claimed } = outcome;
    // The agent must decide every real ruleset.
    expect(result.status === 'unknown' ? `unknown: ${result.detail}` : 'observed').toBe('observed');
    if (result.status !== 'observed') return;
    const o = result.observation;
    if (process.env.ORACLE_DEBUG) {
      console.log(
        name,
        JSON.stringify(
          { o, traffic: traffic.filter((t) => t.through).map((t) => `${t.family} ${t.proto}/${t.port}`) },
          null,
          1,
        ),
      );
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const reached = size(claimed[`${family}/tcp`] ?? []) + size(claimed[`${family}/udp`] ?? []);
      expect({ family, filtered: o[family], reached: reached <= FEW_PORTS ? 'few' : 'many' }).toEqual({
        family,
        filtered: reached <= FEW_PORTS,
        reached: o[family] ? 'few' : 'many',
      });
    }
    const disagreements = traffic
      .filter((t) => t.through !== contains(claimed[`${t.family}/${t.proto}`] ?? [], t.port))
      .map(
        (t) =>
          `${t.family} ${t.proto}/${t.port}: agent says ${t.through ? 'closed' : 'open'}, packets ${t.how}`,
      );
    expect(disagreements).toEqual([]);
    expect(outcome.code).toBe(o.enabled ? (o.ipv6 ? 'firewall_on' : 'ipv6_unfiltered') : 'firewall_off');
  });
});
