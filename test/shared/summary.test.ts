import type { AnyCheckResult } from '../../src/shared/posture.js';
import { describeOpenPorts, summarizeObservation } from '../../src/shared/summary.js';

describe('firewall summary line', () => {
  it('lists the ports open to the world by protocol and family', () => {
    expect(
      describeOpenPorts([
        { family: 'ipv4', protocol: 'tcp', port: 22 },
        { family: 'ipv6', protocol: 'tcp', port: 22 },
        { family: 'ipv4', protocol: 'tcp', port: 80 },
        { family: 'ipv6', protocol: 'tcp', port: 80 },
        { family: 'ipv6', protocol: 'udp', port: 546 },
        { family: 'ipv4', protocol: 'udp', port: 60000, endPort: 60010 },
      ]),
    ).toBe('tcp 22, 80 (IPv4, IPv6); udp 546 (IPv6); udp 60000-60010 (IPv4)');
    expect(describeOpenPorts([])).toBe('none');
  });

  it('shows them only while the firewall filters', () => {
    const result = (enabled: boolean): AnyCheckResult => ({
      check: 'firewall',
      status: 'observed',
      observedAt: '2026-12-01T00:00:00.000Z',
      evidence: [],
      observation: {
        enabled,
        ipv4: enabled,
        ipv6: enabled,
        openPorts: enabled
          ? [{ family: 'ipv4', protocol: 'tcp', port: 22 }]
          : [{ family: 'ipv4', protocol: 'tcp', port: 0, endPort: 65535 }],
        components: [{ name: 'nftables', enabled, detail: 'inet filter/input (policy drop): ipv4 filtered' }],
      },
    });
    expect(summarizeObservation(result(true))).toBe(
      'on (open to the world: tcp 22 (IPv4)) — nftables: inet filter/input (policy drop): ipv4 filtered',
    );
    expect(summarizeObservation(result(false))).toMatch(/^off — nftables: /);
  });
});
