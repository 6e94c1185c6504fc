import { parseIptablesSave } from '../../src/probes/firewall/parse-iptables.js';
import { parseNetFirewallProfiles } from '../../src/probes/firewall/parse-netfirewallprofile.js';
import { parseNftRuleset } from '../../src/probes/firewall/parse-nft.js';
import {
  parseBlockAll,
  parseGlobalState,
  parsePfInfo,
  parseStealthMode,
} from '../../src/probes/firewall/parse-socketfilterfw.js';
import { parseFirewalldState, parseUfwStatus } from '../../src/probes/firewall/parse-ufw.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { asArray } from '../../src/probes/windows/parse-native.js';
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

describe('nftables JSON', () => {
  it('an input chain with policy accept and no rules does not filter (Docker host)', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/ubuntu-22.04-nft-1.0.2-j-list-ruleset-docker-inet-input-accept.json'),
    );
    expect(r).toMatchObject({ ipv4: false, ipv6: false });
    expect(r.inputChains).toEqual(['inet filter/input: accepts unsolicited traffic']);
  });

  it('an empty ruleset does not filter', () => {
    expect(parseNftRuleset(fixture('linux/nft/rhel8-nft-0.9.3-j-list-ruleset-empty.json'))).toEqual({
      ipv4: false,
      ipv6: false,
      inputChains: [],
    });
  });

  it('an IPv4 input chain ending in an unconditional reject filters IPv4 only', () => {
    const r = parseNftRuleset(
      fixture('linux/nft/rhel8-nft-0.9.3-j-list-ruleset-input-accept-reject-rule.json'),
    );
    expect(r.ipv4).toBe(true);
    expect(r.ipv6).toBe(false);
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
    expect(parseNftRuleset(JSON.stringify(ruleset)).ipv4).toBe(false);
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
    expect(parseNftRuleset(JSON.stringify(ruleset)).ipv4).toBe(false);
  });

  it.each(GARBAGE.concat(['{"nftables": 3}']))('garbage %p is refused', (text) => {
    expect(() => parseNftRuleset(text)).toThrow(UnexpectedOutputError);
  });
});

describe('iptables -S', () => {
  it('ufw with INPUT policy DROP filters', () => {
    expect(
      parseIptablesSave(fixture('linux/iptables/ubuntu-10.04-ufw-input-drop-iptables-S.txt')),
    ).toMatchObject({ filters: true, policy: 'DROP' });
  });
  it('default ACCEPT with no rules does not', () => {
    expect(
      parseIptablesSave(fixture('linux/iptables/ubuntu-10.04-default-accept-no-rules-iptables-S.txt')),
    ).toEqual({ filters: false, policy: 'ACCEPT', rules: 0 });
  });
  it('a jumped-to chain that may return early does not count as dropping', () => {
    const text =
      '-P INPUT ACCEPT\n-N c\n-A INPUT -j c\n-A c -m addrtype --dst-type LOCAL -j RETURN\n-A c -j DROP\n';
    expect(parseIptablesSave(text).filters).toBe(false);
    expect(
      parseIptablesSave(
        '-P INPUT ACCEPT\n-A INPUT -m comment --comment "catch all" -j REJECT --reject-with icmp-port-unreachable\n',
      ).filters,
    ).toBe(true);
  });
  it.each(['', 'garbage', '-A INPUT -j DROP\n'])('garbage %p is refused', (text) => {
    expect(() => parseIptablesSave(text)).toThrow(UnexpectedOutputError);
  });
});

describe('ufw and firewalld', () => {
  it('reads ufw active with default deny, and inactive', () => {
    expect(
      parseUfwStatus(fixture('linux/ufw/ubuntu-ufw-0.36-status-verbose-active-deny-incoming.txt')),
    ).toEqual({ active: true, defaultIncoming: 'deny' });
    expect(parseUfwStatus(fixture('linux/ufw/status-inactive.txt'))).toEqual({ active: false });
  });
  it('reads firewall-cmd --state', () => {
    expect(parseFirewalldState(fixture('linux/firewall-cmd/state-running.txt'))).toBe(true);
    expect(parseFirewalldState(fixture('linux/firewall-cmd/state-not-running.txt'))).toBe(false);
  });
  it.each(GARBAGE)('garbage %p is refused', (text) => {
    expect(() => parseUfwStatus(text)).toThrow(UnexpectedOutputError);
    expect(() => parseFirewalldState(text)).toThrow(UnexpectedOutputError);
  });
});
