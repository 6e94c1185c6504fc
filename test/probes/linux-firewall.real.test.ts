/**
 * The Linux firewall probe against real nftables and iptables rulesets, each in a network
 * namespace of its own. Needs root (the README's test command runs as root on CI).
 */
import { evaluatePosture } from '../../src/shared/evaluate.js';
import { DEFAULT_POLICY } from '../../src/shared/policy.js';
import type { CheckResult, FirewallObservation } from '../../src/shared/posture.js';
import { linuxFirewall } from '../../src/probes/firewall/linux.js';
import { runProbe } from '../../src/probes/run.js';
import { canUseNetns, createNamespaceHost, createNetns } from '../fakes/namespace-host.js';
import { fixture } from '../helpers/fixtures.js';
import { describeWith } from '../helpers/real-part.js';

const describeReal = describeWith('root and ip netns', canUseNetns());

let counter = 0;
async function probeWith(
  setup: (ns: ReturnType<typeof createNetns>) => void,
  options: { asUser?: number } = {},
) {
  const ns = createNetns(`pa-fw-${process.pid}-${counter++}`);
  try {
    setup(ns);
    const result = (await runProbe(
      createNamespaceHost(ns.name, options),
      linuxFirewall,
    )) as CheckResult<FirewallObservation>;
    const verdict = evaluatePosture({ firewall: result }, DEFAULT_POLICY, 'linux', new Date()).checks.find(
      (c) => c.check === 'firewall',
    );
    return { result, verdict };
  } finally {
    ns.remove();
  }
}

describeReal('Linux firewall probe on real rulesets', () => {
  it('default drop on the input hook → on, IPv4 and IPv6', async () => {
    const { result, verdict } = await probeWith((ns) =>
      ns.nft('table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n'),
    );
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    expect(result.observation).toMatchObject({ enabled: true, ipv4: true, ipv6: true });
    expect(verdict?.code).toBe('firewall_on');
    expect(result.evidence.some((e) => e.kind === 'command' && e.command === '/usr/sbin/nft')).toBe(true);
  });

  it('an empty ruleset → off', async () => {
    const { result, verdict } = await probeWith(() => undefined);
    expect(result.status === 'observed' && result.observation.enabled).toBe(false);
    expect(verdict?.code).toBe('firewall_off');
  });

  it('no input hook (only forward and NAT chains) → off', async () => {
    const { verdict } = await probeWith((ns) =>
      ns.nft(
        'table ip nat {\n chain postrouting { type nat hook postrouting priority 100; policy accept; }\n}\ntable inet f {\n chain forward { type filter hook forward priority 0; policy drop; }\n}\n',
      ),
    );
    expect(verdict?.code).toBe('firewall_off');
  });

  it('accept-all on the input hook → off', async () => {
    const { verdict } = await probeWith((ns) =>
      ns.nft(
        'table inet f {\n chain input { type filter hook input priority 0; policy accept; accept; }\n}\n',
      ),
    );
    expect(verdict?.code).toBe('firewall_off');
  });

  it('IPv4-only drop → IPv6 unfiltered', async () => {
    const { result, verdict } = await probeWith((ns) =>
      ns.nft('table ip f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n'),
    );
    expect(result.status === 'observed' && result.observation).toMatchObject({ ipv4: true, ipv6: false });
    expect(verdict?.code).toBe('ipv6_unfiltered');
  });

  it('a real openSUSE ruleset (recorded `nft list ruleset`, loaded as is) → on', async () => {
    const { verdict } = await probeWith((ns) =>
      ns.nft(fixture('linux/nft/opensuse-leap-list-ruleset-input-policy-drop.txt')),
    );
    expect(verdict?.code).toBe('firewall_on');
  });

  it("Docker's nftables bridge table (recorded, no input hook) → off", async () => {
    const { verdict } = await probeWith((ns) =>
      ns.nft(fixture('linux/nft/docker-nftables-backend-list-table-ip-docker-bridges-no-input-hook.txt')),
    );
    expect(verdict?.code).toBe('firewall_off');
  });

  it('ufw installed but inactive while nft rules filter → on (the ruleset decides, not the tool)', async () => {
    const { result } = await probeWith((ns) =>
      ns.nft('table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n'),
    );
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    expect(result.observation.enabled).toBe(true);
    const ufw = result.observation.components.find((c) => c.name === 'ufw');
    // ufw is installed by the README's test command and left disabled, as Debian ships it.
    expect(ufw).toMatchObject({ enabled: false, detail: 'inactive' });
  });

  it('iptables-legacy INPUT DROP, invisible to nft → on', async () => {
    const { result, verdict } = await probeWith((ns) => {
      ns.run('/usr/sbin/iptables-legacy', ['-P', 'INPUT', 'DROP']);
      ns.run('/usr/sbin/ip6tables-legacy', ['-P', 'INPUT', 'DROP']);
    });
    expect(result.status === 'observed' && result.observation.components.map((c) => c.name)).toEqual(
      expect.arrayContaining(['iptables-legacy', 'ip6tables-legacy']),
    );
    expect(verdict?.code).toBe('firewall_on');
  });

  it('without root, the ruleset cannot be read → unknown with insufficient_privilege, never off', async () => {
    const { result, verdict } = await probeWith(
      (ns) => ns.nft('table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n'),
      { asUser: 65534 },
    );
    expect(result).toMatchObject({ status: 'unknown', reason: 'insufficient_privilege' });
    expect(verdict?.verdict).toBe('unknown');
  });
});
