/**
 * A real host whose commands run inside a network namespace the test created (`ip netns exec`),
 * optionally as an unprivileged user (`setpriv`). Files are read from the real machine. This is
 * not a fake: nft, iptables and ufw run for real against the namespace's own kernel ruleset.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Host } from '../../src/host/host.js';
import { createLiveHost } from '../../src/probes/live-host.js';

export const IP = '/usr/sbin/ip';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function canUseNetns(): boolean {
  if (!isRoot()) return false;
  try {
    const name = `pa-probe-${process.pid}`;
    execFileSync(IP, ['netns', 'add', name], { stdio: 'ignore' });
    execFileSync(IP, ['netns', 'del', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function createNetns(name: string): {
  name: string;
  nft: (script: string) => void;
  run: (command: string, args: string[]) => string;
  remove: () => void;
} {
  execFileSync(IP, ['netns', 'add', name], { stdio: 'ignore' });
  return {
    name,
    nft: (script) => {
      execFileSync(IP, ['netns', 'exec', name, '/usr/sbin/nft', '-f', '-'], { input: script });
    },
    run: (command, args) => execFileSync(IP, ['netns', 'exec', name, command, ...args], { encoding: 'utf8' }),
    remove: () => execFileSync(IP, ['netns', 'del', name], { stdio: 'ignore' }),
  };
}

export function createNamespaceHost(namespace: string, options: { asUser?: number } = {}): Host {
  const live = createLiveHost();
  return {
    ...live,
    async run(request) {
      try {
        accessSync(request.command, constants.X_OK);
      } catch {
        return { ok: false, error: 'command_missing', detail: `${request.command} is not installed` };
      }
      const prefix =
        options.asUser === undefined
          ? []
          : ['/usr/bin/setpriv', `--reuid=${options.asUser}`, `--regid=${options.asUser}`, '--clear-groups'];
      return live.run({
        ...request,
        command: IP,
        args: ['netns', 'exec', namespace, ...prefix, request.command, ...request.args],
      });
    },
  };
}
