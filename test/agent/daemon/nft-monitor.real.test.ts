/**
 * nft monitor against a real nftables ruleset in a fresh network namespace: switching the
 * ruleset from default-drop to empty (the drift) triggers a firewall re-check.
 */
import { execFileSync } from 'node:child_process';
import { nftMonitorChange, nftMonitorSource } from '../../../src/agent/daemon/events/nft-monitor.js';
import type { SourceProblem, Trigger } from '../../../src/agent/daemon/events/trigger.js';
import { fixture } from '../../helpers/fixtures.js';
import { canUseNetns, createNetns, IP } from '../../fakes/namespace-host.js';
import { describeWithPart, executable } from './real-parts.js';

const DROP = 'table inet f {\n chain input { type filter hook input priority 0; policy drop; }\n}\n';

describe('nftMonitorChange on a recorded nft monitor session', () => {
  it('keeps the change lines and skips the generation comments', () => {
    const lines = fixture('linux/nft/debian-12-nft-monitor-load-flush-load-delete.txt').split('\n');
    const changes = lines.map(nftMonitorChange).filter((l) => l !== undefined);
    expect(changes).toHaveLength(10);
    expect(changes[0]).toBe('add table inet f');
    expect(nftMonitorChange('# new generation 2 by process 8855 (nft)')).toBeUndefined();
  });
});

const describeReal = describeWithPart(
  canUseNetns() && executable('/usr/sbin/nft'),
  'root, ip netns and /usr/sbin/nft',
);

describeReal('nftMonitorSource in a network namespace', () => {
  it('a switch from default-drop to an empty ruleset triggers a firewall re-check', async () => {
    const ns = createNetns(`pa-mon-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    const triggers: Trigger[] = [];
    const problems: SourceProblem[] = [];
    const source = nftMonitorSource({
      command: IP,
      args: ['netns', 'exec', ns.name, '/usr/sbin/nft', 'monitor'],
      onTrigger: (t) => triggers.push(t),
      onProblem: (p) => problems.push(p),
    });
    try {
      await source.start();
      // nft subscribes a moment after it starts: change until the first change is seen
      for (let i = 0; triggers.length === 0; i++) {
        if (i > 100) throw new Error('nft monitor never reported a change');
        ns.nft(`table ip warmup${i} { }\n`);
        await new Promise((r) => setTimeout(r, 100));
      }
      ns.nft(DROP);
      await waitFor(() => triggers.some((t) => t.detail.includes('policy drop')));
      const before = triggers.length;
      execFileSync(IP, ['netns', 'exec', ns.name, '/usr/sbin/nft', 'flush', 'ruleset']);
      await waitFor(() => triggers.slice(before).some((t) => t.detail.includes('delete chain inet f input')));
      expect(triggers.every((t) => t.source === 'firewall_ruleset' && t.checks.join() === 'firewall')).toBe(
        true,
      );
      expect(problems).toEqual([]);
    } finally {
      await source.stop();
      ns.remove();
    }
  });

  it('restarts nft when it exits, and reports it', async () => {
    const problems: SourceProblem[] = [];
    const source = nftMonitorSource({
      command: IP,
      args: ['netns', 'exec', `pa-missing-${process.pid}`, '/usr/sbin/nft', 'monitor'],
      onTrigger: () => undefined,
      onProblem: (p) => problems.push(p),
      minRestartMs: 50,
    });
    await source.start();
    await waitFor(() => problems.length >= 2);
    await source.stop();
    expect(problems.every((p) => p.code === 'exited')).toBe(true);
  });
});

async function waitFor(condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
