/**
 * The Linux firewall probe on recorded outputs (test/fixtures/SOURCES.md), replayed through the real
 * replay host: each source degrades only what it decides, and the answer follows the ruleset.
 */
import { linuxFirewall } from '../../src/probes/firewall/linux.js';
import { runProbe } from '../../src/probes/run.js';
import type { CheckResult, FirewallObservation } from '../../src/shared/posture.js';
import type { RecordedCommand } from '../helpers/capture.js';
import { replayHost } from '../helpers/capture.js';
import { fixture } from '../helpers/fixtures.js';

const NFT = '/usr/sbin/nft';
const UFW_XT_JSON = 'linux/nft/debian-12-nft-1.0.6-j-list-ruleset-ufw-0.36.2-via-iptables-nft-xt.json';

function cmd(
  command: string,
  args: string[],
  stdout: string,
  extra: Partial<RecordedCommand> = {},
): RecordedCommand {
  return { command, args, stdout, ...extra };
}

/** A host with ufw's ruleset written through iptables-nft, firewalld stopped, ufw inactive. */
function commands(overrides: Record<string, RecordedCommand | undefined> = {}): RecordedCommand[] {
  const base: Record<string, RecordedCommand> = {
    nft: cmd(NFT, ['-j', 'list', 'ruleset'], fixture(UFW_XT_JSON)),
    legacy4: cmd(
      '/usr/sbin/iptables-legacy',
      ['-S'],
      fixture('linux/iptables/debian-12-iptables-legacy-1.8.9-S-empty-namespace.txt'),
    ),
    legacy6: cmd(
      '/usr/sbin/ip6tables-legacy',
      ['-S'],
      fixture('linux/iptables/debian-12-iptables-legacy-1.8.9-S-empty-namespace.txt'),
    ),
    nft4: cmd(
      '/usr/sbin/iptables-nft',
      ['-t', 'filter', '-S'],
      fixture('linux/iptables/debian-12-iptables-nft-1.8.9-S-ufw-0.36.2-default-deny.txt'),
    ),
    nft6: cmd(
      '/usr/sbin/ip6tables-nft',
      ['-t', 'filter', '-S'],
      fixture('linux/iptables/debian-12-ip6tables-nft-1.8.9-S-ufw-0.36.2-default-deny.txt'),
    ),
    ufw: cmd('/usr/sbin/ufw', ['status', 'verbose'], fixture('linux/ufw/status-inactive.txt')),
    firewalld: cmd('/usr/bin/firewall-cmd', ['--state'], '', {
      stderr: fixture('linux/firewall-cmd/firewalld-1.3.3-state-stopped-stderr-exit-252.txt'),
      exitCode: 252,
    }),
    route4: cmd(
      '/usr/sbin/ip',
      ['-j', 'route', 'show', 'default'],
      fixture('linux/ip-route/debian-12-iproute2-6.1-j-route-show-default-eth0.json'),
    ),
    route6: cmd(
      '/usr/sbin/ip',
      ['-j', '-6', 'route', 'show', 'default'],
      fixture('linux/ip-route/debian-12-iproute2-6.1-j-6-route-show-default-eth0.json'),
    ),
  };
  return Object.entries({ ...base, ...overrides })
    .map(([, c]) => c)
    .filter((c): c is RecordedCommand => c !== undefined);
}

async function probe(list: RecordedCommand[]): Promise<CheckResult<FirewallObservation>> {
  return (await runProbe(
    replayHost({ os: 'linux', commands: list }),
    linuxFirewall,
  )) as CheckResult<FirewallObservation>;
}

describe('Linux firewall probe on recorded outputs', () => {
  it('firewalld stopped ("not running" on stderr, exit 252) does not hide what nftables decides', async () => {
    const result = await probe(commands());
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    expect(result.observation).toMatchObject({ enabled: true, ipv4: true, ipv6: true, openPorts: [] });
    expect(result.observation.components).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'firewalld', enabled: false, detail: 'not running' }),
        expect.objectContaining({ name: 'nftables', enabled: true }),
      ]),
    );
  });

  it('iptables-nft matches nft does not describe, with iptables-nft -S unavailable: unknown, never a guess', async () => {
    const result = await probe(commands({ nft4: undefined, nft6: undefined }));
    expect(result).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
  });

  it('ufw and firewall-cmd printing garbage never hide the ruleset', async () => {
    const result = await probe(
      commands({
        ufw: cmd('/usr/sbin/ufw', ['status', 'verbose'], 'Segmentation fault'),
        firewalld: cmd('/usr/bin/firewall-cmd', ['--state'], '', {
          stderr: fixture('linux/firewall-cmd/firewalld-1.3.3-state-no-system-bus-stderr-exit-36.txt'),
          exitCode: 36,
        }),
      }),
    );
    expect(result).toMatchObject({
      status: 'observed',
      observation: { enabled: true, ipv4: true, ipv6: true },
    });
  });

  it('firewalld running with no readable ruleset is unknown, never on (its trusted zone accepts everything)', async () => {
    const running = cmd(
      '/usr/bin/firewall-cmd',
      ['--state'],
      fixture('linux/firewall-cmd/state-running.txt'),
    );
    const noRuleset = {
      nft: undefined,
      legacy4: undefined,
      legacy6: undefined,
      nft4: undefined,
      nft6: undefined,
      ufw: undefined,
    };
    const result = await probe(commands({ ...noRuleset, firewalld: running }));
    expect(result).toMatchObject({ status: 'unknown', reason: 'not_in_capture' });
    const unprivileged = await probe(
      commands({
        ...noRuleset,
        nft: cmd(NFT, ['-j', 'list', 'ruleset'], '{"nftables": [{"metainfo": '),
        firewalld: running,
      }),
    );
    expect(unprivileged).toMatchObject({ status: 'unknown', reason: 'unexpected_output' });
  });

  it('nft printing garbage leaves the decision to iptables-legacy, with the reason kept', async () => {
    const drop = fixture('linux/iptables/debian-12-iptables-legacy-1.8.9-S-input-policy-drop.txt');
    const result = await probe(
      commands({
        nft: cmd(NFT, ['-j', 'list', 'ruleset'], '{"nftables": [{"metainfo": '),
        legacy4: cmd('/usr/sbin/iptables-legacy', ['-S'], drop),
        legacy6: cmd('/usr/sbin/ip6tables-legacy', ['-S'], drop),
      }),
    );
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    expect(result.observation).toMatchObject({ enabled: true, ipv4: true, ipv6: true });
    expect(result.observation.components).toContainEqual(
      expect.objectContaining({ name: 'nftables', enabled: null, reason: 'unexpected_output' }),
    );
  });

  it('an unreadable nft with an accepting legacy table is unknown, not off', async () => {
    const result = await probe(
      commands({
        nft: cmd(NFT, ['-j', 'list', 'ruleset'], '', {
          stderr: fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-as-nobody-stderr.txt'),
          exitCode: 1,
        }),
      }),
    );
    expect(result).toMatchObject({ status: 'unknown', reason: 'insufficient_privilege' });
  });

  it("no ruleset readable: ufw's own listing is judged by the same rules, open ports included", async () => {
    const result = await probe(
      commands({
        nft: cmd(NFT, ['-j', 'list', 'ruleset'], '', {
          stderr: fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-as-nobody-stderr.txt'),
          exitCode: 1,
        }),
        legacy4: cmd('/usr/sbin/iptables-legacy', ['-S'], '', {
          stderr: fixture('linux/iptables/debian-12-iptables-legacy-1.8.9-S-as-nobody-stderr.txt'),
          exitCode: 4,
        }),
        legacy6: undefined,
        ufw: cmd(
          '/usr/sbin/ufw',
          ['status', 'verbose'],
          fixture('linux/ufw/ufw-0.36.2-allow-ssh-http-https-status-verbose.txt'),
        ),
      }),
    );
    expect(result).toMatchObject({
      status: 'observed',
      observation: { enabled: true, ipv4: true, ipv6: true },
    });
    if (result.status !== 'observed') return;
    expect(result.observation.openPorts?.map((p) => `${p.family} ${p.protocol}/${p.port}`)).toEqual([
      'ipv4 tcp/22',
      'ipv4 tcp/80',
      'ipv4 tcp/443',
      'ipv6 tcp/22',
      'ipv6 tcp/80',
      'ipv6 tcp/443',
    ]);
  });

  it('the OCI image rules through iptables-nft: on for IPv4 with TCP 22 open, IPv6 unfiltered', async () => {
    const result = await probe(
      commands({
        nft: cmd(
          NFT,
          ['-j', 'list', 'ruleset'],
          fixture('linux/nft/debian-12-nft-1.0.6-j-list-ruleset-oci-image-via-iptables-nft-xt-reject.json'),
        ),
        nft4: cmd(
          '/usr/sbin/iptables-nft',
          ['-t', 'filter', '-S'],
          fixture('linux/iptables/debian-12-iptables-nft-1.8.9-S-oci-image.txt'),
        ),
        nft6: undefined,
      }),
    );
    expect(result).toMatchObject({
      status: 'observed',
      observation: { enabled: true, ipv4: true, ipv6: false },
    });
    if (result.status !== 'observed') return;
    expect(result.observation.openPorts?.filter((p) => p.family === 'ipv4')).toEqual([
      { family: 'ipv4', protocol: 'tcp', port: 22 },
    ]);
  });
});
