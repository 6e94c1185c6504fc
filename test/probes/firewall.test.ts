import { judgeFamily } from '../../src/probes/firewall/inbound.js';
import { parseDefaultRouteDevices } from '../../src/probes/firewall/parse-ip-route.js';
import { parseIptablesSave } from '../../src/probes/firewall/parse-iptables.js';
import { size } from '../../src/probes/firewall/port-set.js';
import type { Table } from '../../src/probes/firewall/ruleset.js';
import { parseNetFirewallProfiles } from '../../src/probes/firewall/parse-netfirewallprofile.js';
import { parseNftRuleset } from '../../src/probes/firewall/parse-nft.js';
import {
  parseBlockAll,
  parseGlobalState,
  parsePfInfo,
  parseStealthMode,
} from '../../src/probes/firewall/parse-socketfilterfw.js';
import { parseFirewalldState, parseUfwStatus } from '../../src/probes/firewall/parse-ufw.js';
import { ufwTables } from '../../src/probes/firewall/ufw-ruleset.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { asArray } from '../../src/host/native-protocol.js';
import { fixture, fixtureJson } from '../helpers/fixtures.js';

const GARBAGE = ['', '\n', 'Segmentation fault', '{"truncated": ', 'Error: syntax error'];

describe('socketfilterfw (macOS)', () => {
  it.each([
    ['enabled-state1-2023.txt', 'on'],
    ['enabled-state2-old-wording-2021.txt', 'block_all'],
    ['blocking-state2-new-wording-macos15.txt', 'block_all'],
    ['disabled-state0-from-setglobalstate-2021.txt', 'off'],
  ])('global state of %s is %s, across wordings', (file, state) => {
    expect(parseGlobalState(fixture(`darwin/socketfilterfw-globalstate/${file}`))).toBe(state);
  });

  it('stealth mode in old and new wording', () => {
    expect(parseStealthMode(fixture('darwin/socketfilterfw-stealthmode/enabled-old-wording-2024.txt'))).toBe(
      true,
    );
    expect(parseStealthMode(fixture('darwin/socketfilterfw-stealthmode/off-new-wording.txt'))).toBe(false);
    expect(
      parseStealthMode(fixture('darwin/socketfilterfw-stealthmode/on-new-wording-macos15-docs.txt')),
    ).toBe(true);
  });

  it('block all in old and new wording', () => {
    expect(parseBlockAll(fixture('darwin/socketfilterfw-blockall/disabled-old-wording-2023.txt'))).toBe(
      false,
    );
    expect(parseBlockAll(fixture('darwin/socketfilterfw-blockall/disabled-new-wording-2024.txt'))).toBe(
      false,
    );
  });

  it('a real error line is refused, not read as off', () => {
    expect(() =>
      parseStealthMode(fixture('darwin/socketfilterfw-stealthmode/error-kStealthEnableKey-2023.txt')),
    ).toThrow(UnexpectedOutputError);
  });

  it.each(GARBAGE.concat(['Firewall is enabled.', '(State = 7)']))(
    'global state garbage %p is refused',
    (text) => {
      expect(() => parseGlobalState(text)).toThrow(UnexpectedOutputError);
    },
  );

  it('pf status', () => {
    expect(() => parsePfInfo('')).toThrow(UnexpectedOutputError);
  });
});

describe('Get-NetFirewallProfile (Windows)', () => {
  it('reads all three profiles from real ConvertTo-Json output (Enabled as GpoBoolean number)', () => {
    const profiles = parseNetFirewallProfiles(
      asArray(fixtureJson('windows/netfirewallprofile/convertto-json_server2022.json')),
    );
    expect(profiles.map((p) => [p.name, p.enabled])).toEqual([
      ['domain', true],
      ['private', true],
      ['public', true],
    ]);
  });

  it('a profile that is off, or missing, or NotConfigured is reported as such', () => {
    const profiles = parseNetFirewallProfiles([
      { Name: 'Domain', Enabled: 1 },
      { Name: 'Private', Enabled: 2 },
      { Name: 'Public', Enabled: false },
    ]);
    expect(profiles.map((p) => p.enabled)).toEqual([true, null, false]);
    expect(parseNetFirewallProfiles([{ Name: 'Public', Enabled: 'True' }])[0]).toMatchObject({
      name: 'domain',
      enabled: null,
    });
  });

  it('refuses a profile it does not know', () => {
    expect(() => parseNetFirewallProfiles([{ Name: 'Guest', Enabled: 1 }])).toThrow(UnexpectedOutputError);
  });
});

/** What a ruleset does to the world's new connections, per family, with unknown world interfaces. */
function judge(tables: Table[], family: 'ipv4' | 'ipv6' = 'ipv4') {
  return judgeFamily(family, { tables, unreadable: [], worldInterfaces: undefined });
}

describe('nftables JSON', () => {
  it('an input chain with policy accept and no rules does not filter (Docker host)', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/ubuntu-22.04-nft-1.0.2-j-list-ruleset-docker-inet-input-accept.json'),
    );
    expect(judge(r.tables)).toMatchObject({
      filtered: false,
      open: { tcp: [[0, 65535]], udp: [[0, 65535]] },
    });
    expect(judge(r.tables, 'ipv6').filtered).toBe(false);
  });

  it('an empty ruleset does not filter', () => {
    const r = parseNftRuleset(fixture('linux/nft/rhel8-nft-0.9.3-j-list-ruleset-empty.json'));
    expect(r).toEqual({ tables: [], opaqueTables: [] });
    expect(judge(r.tables).filtered).toBe(false);
  });

  it('an IPv4 input chain ending in an unconditional reject filters IPv4 only', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/rhel8-nft-0.9.3-j-list-ruleset-input-accept-reject-rule.json'),
    );
    expect(judge(r.tables).filtered).toBe(true);
    expect(judge(r.tables, 'ipv6').filtered).toBe(false);
  });

  it('a drop policy emptied by an accept of every TCP port is not filtering (firewalld, port 1-65535/tcp)', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-firewalld-public-all-tcp.json'),
    );
    const v4 = judgeFamily('ipv4', { tables: r.tables, unreadable: [], worldInterfaces: ['eth0'] });
    expect(v4.filtered).toBe(false);
    expect(size(v4.open.tcp)).toBeGreaterThan(65000);
  });

  it('iptables-nft rules show xt matches without options: the table is handed to iptables-nft -S', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-ufw-0.36.2-via-iptables-nft-xt.json'),
    );
    expect(r.opaqueTables).toEqual(
      expect.arrayContaining([
        { family: 'ip', table: 'filter' },
        { family: 'ip6', table: 'filter' },
      ]),
    );
    // Read from the JSON alone, ufw's xt matches leave the answer undecided, never guessed.
    expect(judge(r.tables).filtered).toBeNull();
  });

  it('an xt REJECT target is a reject (OCI image rules through iptables-nft)', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-oci-image-via-iptables-nft-xt-reject.json'),
    );
    const input = r.tables.find((t) => t.name === 'ip filter')?.chains.get('INPUT');
    expect(input?.rules.at(-1)?.verdict).toEqual({ kind: 'drop' });
  });

  it('a lone conditional drop (ct state invalid) is not a firewall', () => {
    const ruleset = {
      nftables: [
        {
          chain: {
            family: 'inet',
            table: 't',
            name: 'input',
            type: 'filter',
            hook: 'input',
            prio: 0,
            policy: 'accept',
          },
        },
        {
          rule: {
            family: 'inet',
            table: 't',
            chain: 'input',
            expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'invalid' } }, { drop: null }],
          },
        },
      ],
    };
    expect(judge(parseNftRuleset(JSON.stringify(ruleset)).tables).filtered).toBe(false);
  });

  it('an unconditional accept before a drop means nothing is filtered', () => {
    const ruleset = {
      nftables: [
        {
          chain: {
            family: 'inet',
            table: 't',
            name: 'input',
            type: 'filter',
            hook: 'input',
            prio: 0,
            policy: 'drop',
          },
        },
        { rule: { family: 'inet', table: 't', chain: 'input', expr: [{ accept: null }] } },
      ],
    };
    expect(judge(parseNftRuleset(JSON.stringify(ruleset)).tables).filtered).toBe(false);
  });

  it.each(GARBAGE.concat(['{"nftables": 3}']))('garbage %p is refused', (text) => {
    expect(() => parseNftRuleset(text)).toThrow(UnexpectedOutputError);
  });
});

describe('iptables -S', () => {
  it('ufw with INPUT policy DROP filters', () => {
    const t = parseIptablesSave(fixture('linux/iptables/ubuntu-10.04-ufw-input-drop-iptables-S.txt'), 'ipv4');
    expect(t.chains.get('INPUT')?.policy).toBe('drop');
    expect(judge([t]).filtered).toBe(true);
  });
  it('default ACCEPT with no rules does not', () => {
    const t = parseIptablesSave(
      fixture('linux/iptables/ubuntu-10.04-default-accept-no-rules-iptables-S.txt'),
      'ipv4',
    );
    expect(judge([t]).filtered).toBe(false);
  });
  it('iptables-nft -S of ufw 0.36.2 (default deny) filters both families and opens nothing', () => {
    const v4 = parseIptablesSave(
      fixture('linux/iptables/debian-12-iptables-nft-1.8.9-S-ufw-0.36.2-default-deny.txt'),
      'ipv4',
    );
    const v6 = parseIptablesSave(
      fixture('linux/iptables/debian-12-ip6tables-nft-1.8.9-S-ufw-0.36.2-default-deny.txt'),
      'ipv6',
    );
    expect(judgeFamily('ipv4', { tables: [v4], unreadable: [], worldInterfaces: ['eth0'] })).toMatchObject({
      filtered: true,
      open: { tcp: [], udp: [] },
    });
    expect(judgeFamily('ipv6', { tables: [v6], unreadable: [], worldInterfaces: ['eth0'] }).filtered).toBe(
      true,
    );
  });
  it('the OCI image opens TCP 22 only', () => {
    const t = parseIptablesSave(
      fixture('linux/iptables/debian-12-iptables-nft-1.8.9-S-oci-image.txt'),
      'ipv4',
    );
    expect(judge([t])).toMatchObject({ filtered: true, open: { tcp: [[22, 22]], udp: [] } });
  });
  it('a jumped-to chain that may return early does not count as dropping', () => {
    const text =
      '-P INPUT ACCEPT\n-N c\n-A INPUT -j c\n-A c -m addrtype --dst-type LOCAL -j RETURN\n-A c -j DROP\n';
    expect(judge([parseIptablesSave(text, 'ipv4')]).filtered).toBe(false);
    expect(
      judge([
        parseIptablesSave(
          '-P INPUT ACCEPT\n-A INPUT -m comment --comment "catch all" -j REJECT --reject-with icmp-port-unreachable\n',
          'ipv4',
        ),
      ]).filtered,
    ).toBe(true);
  });
  it('accepting a whole protocol from anywhere empties the drop policy', () => {
    const t = parseIptablesSave(
      '-P INPUT DROP\n-A INPUT -p udp -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n',
      'ipv4',
    );
    expect(judge([t]).filtered).toBe(false);
    const few = parseIptablesSave(
      '-P INPUT DROP\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT\n',
      'ipv4',
    );
    expect(judge([few])).toMatchObject({
      filtered: true,
      open: {
        tcp: [
          [22, 22],
          [80, 80],
          [443, 443],
        ],
        udp: [],
      },
    });
  });
  it.each(['', 'garbage', '-A INPUT -j DROP\n'])('garbage %p is refused', (text) => {
    expect(() => parseIptablesSave(text, 'ipv4')).toThrow(UnexpectedOutputError);
  });
});

describe('ip -j route show default', () => {
  it('names the interfaces of the default routes, or none', () => {
    expect(
      parseDefaultRouteDevices(
        fixture('linux/ip-route/debian-12-iproute2-6.1-j-route-show-default-eth0.json'),
      ),
    ).toEqual(['eth0']);
    expect(
      parseDefaultRouteDevices(
        fixture('linux/ip-route/debian-12-iproute2-6.1-j-6-route-show-default-eth0.json'),
      ),
    ).toEqual(['eth0']);
    expect(parseDefaultRouteDevices(fixture('linux/ip-route/no-default-route.json'))).toEqual([]);
  });
  it.each(['{', '{"dst": "default"}', 'Error: ipv4: FIB table does not exist.'])(
    'garbage %p is refused',
    (text) => {
      expect(() => parseDefaultRouteDevices(text)).toThrow(UnexpectedOutputError);
    },
  );
});

describe('ufw and firewalld', () => {
  it('reads ufw active with default deny, and inactive', () => {
    expect(
      parseUfwStatus(fixture('linux/ufw/ubuntu-ufw-0.36-status-verbose-active-deny-incoming.txt')),
    ).toMatchObject({ active: true, defaultIncoming: 'deny' });
    expect(parseUfwStatus(fixture('linux/ufw/status-inactive.txt'))).toEqual({ active: false });
  });
  it('reads firewall-cmd --state', () => {
    expect(parseFirewalldState(fixture('linux/firewall-cmd/state-running.txt'))).toBe(true);
    expect(parseFirewalldState(fixture('linux/firewall-cmd/state-not-running.txt'))).toBe(false);
    // firewalld 1.3.3 stopped: nothing on stdout, "not running" on stderr (the probe passes both).
    expect(
      parseFirewalldState(
        `\n${fixture('linux/firewall-cmd/firewalld-1.3.3-state-stopped-stderr-exit-252.txt')}`,
      ),
    ).toBe(false);
    expect(() =>
      parseFirewalldState(
        fixture('linux/firewall-cmd/firewalld-1.3.3-state-no-system-bus-stderr-exit-36.txt'),
      ),
    ).toThrow(UnexpectedOutputError);
  });
  it.each([
    ['ufw-0.36.2-default-deny', true, { tcp: [], udp: [] }],
    [
      'ufw-0.36.2-allow-ssh-http-https',
      true,
      {
        tcp: [
          [22, 22],
          [80, 80],
          [443, 443],
        ],
        udp: [],
      },
    ],
    ['ufw-0.36.2-limit-ssh', true, { tcp: [[22, 22]], udp: [] }],
    ['ufw-0.36.2-allow-from-lan-only', true, { tcp: [], udp: [] }],
    ['ufw-0.36.2-default-reject-deny-port', true, { tcp: [[53, 53]], udp: [[53, 53]] }],
    ['ufw-0.36.2-allow-port-range-udp', false, undefined],
    ['ufw-0.36.2-default-allow-incoming', false, undefined],
  ])('ufw status verbose of %s is judged like a ruleset (filters: %p)', (name, filtered, open) => {
    const tables = ufwTables(parseUfwStatus(fixture(`linux/ufw/${name}-status-verbose.txt`)));
    for (const family of ['ipv4', 'ipv6'] as const) {
      const j = judge(tables, family);
      expect(j.filtered).toBe(filtered);
      if (open) expect(j.open).toEqual(open);
    }
  });
  it('ufw 0.36 on Ubuntu (published output): 22 and 443 open on both protocols', () => {
    const tables = ufwTables(
      parseUfwStatus(fixture('linux/ufw/ubuntu-ufw-0.36-status-verbose-active-deny-incoming.txt')),
    );
    expect(judge(tables)).toMatchObject({
      filtered: true,
      open: {
        tcp: [
          [22, 22],
          [443, 443],
        ],
        udp: [
          [22, 22],
          [443, 443],
        ],
      },
    });
  });
  it('a ufw rule line it cannot read is refused', () => {
    const text = fixture('linux/ufw/ufw-0.36.2-limit-ssh-status-verbose.txt').replace(
      'LIMIT IN',
      'PERMIT IN',
    );
    expect(() => parseUfwStatus(text)).toThrow(UnexpectedOutputError);
  });
  it('reads ufw 0.36.2 status verbose recorded here', () => {
    expect(parseUfwStatus(fixture('linux/ufw/ufw-0.36.2-limit-ssh-status-verbose.txt'))).toEqual({
      active: true,
      defaultIncoming: 'deny',
      rules: [
        { to: '22/tcp', action: 'limit', direction: 'in', from: 'Anywhere', v6: false },
        { to: '22/tcp', action: 'limit', direction: 'in', from: 'Anywhere', v6: true },
      ],
    });
    expect(
      parseUfwStatus(fixture('linux/ufw/ufw-0.36.2-default-allow-incoming-status-verbose.txt')),
    ).toMatchObject({
      defaultIncoming: 'allow',
    });
  });
  it.each(GARBAGE)('garbage %p is refused', (text) => {
    expect(() => parseUfwStatus(text)).toThrow(UnexpectedOutputError);
    expect(() => parseFirewalldState(text)).toThrow(UnexpectedOutputError);
  });
});
