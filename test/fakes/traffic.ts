/**
 * Real traffic between two network namespaces joined by a veth pair, for the firewall oracle: the
 * host namespace (whose ruleset is under test, interface `eth0`, default routes through the peer)
 * and the peer (the world, at 198.51.100.2 and 2001:db8:100::2: documentation addresses no real
 * ruleset names). Names are unique per process (pid + random). Neighbours are static, so a ruleset
 * that drops ICMPv6 neighbour discovery still shows what it does to TCP and UDP.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IP } from './namespace-host.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));

export const HOST_V4 = '198.51.100.1';
export const PEER_V4 = '198.51.100.2';
export const HOST_V6 = '2001:db8:100::1';
export const PEER_V6 = '2001:db8:100::2';
const HOST_MAC = '02:00:00:00:00:01';
const PEER_MAC = '02:00:00:00:00:02';

export interface NamespacePair {
  host: string;
  peer: string;
  exec(command: string, args: string[], input?: string): Promise<string>;
  remove(): Promise<void>;
}

export async function createNamespacePair(): Promise<NamespacePair> {
  const id = `${process.pid % 100000}${randomBytes(2).toString('hex')}`;
  const host = `pa-oh-${id}`;
  const peer = `pa-op-${id}`;
  const ip = (...args: string[]) => run(IP, args);
  await ip('netns', 'add', host);
  try {
    await ip('netns', 'add', peer);
    await ip(
      'link',
      'add',
      `oh${id}`,
      'netns',
      host,
      'type',
      'veth',
      'peer',
      'name',
      `op${id}`,
      'netns',
      peer,
    );
    for (const [ns, dev, mac, v4, v6] of [
      [host, `oh${id}`, HOST_MAC, HOST_V4, HOST_V6],
      [peer, `op${id}`, PEER_MAC, PEER_V4, PEER_V6],
    ] as const) {
      await ip('-n', ns, 'link', 'set', dev, 'name', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'address', mac);
      await ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', host, 'neigh', 'add', PEER_V6, 'lladdr', PEER_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('-n', peer, 'neigh', 'add', HOST_V6, 'lladdr', HOST_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('-n', host, 'neigh', 'add', PEER_V4, 'lladdr', PEER_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('-n', peer, 'neigh', 'add', HOST_V4, 'lladdr', HOST_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('-n', host, 'route', 'add', 'default', 'via', PEER_V4);
    await ip('-n', host, '-6', 'route', 'add', 'default', 'via', PEER_V6);
  } catch (error) {
    await ip('netns', 'del', peer).catch(() => undefined);
    await ip('netns', 'del', host).catch(() => undefined);
    throw error;
  }
  return {
    host,
    peer,
    exec: (command, args, input) => execIn(host, command, args, input),
    async remove() {
      await ip('netns', 'del', peer).catch(() => undefined);
      await ip('netns', 'del', host).catch(() => undefined);
    },
  };
}

function execIn(ns: string, command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err.slice(0, 400)}`)),
    );
    child.stdin.end(input ?? '');
  });
}

export interface Probe {
  family: 'ipv4' | 'ipv6';
  proto: 'tcp' | 'udp';
  port: number;
}

export type ProbeResult = Probe & { through: boolean; how: string };

/** Starts listeners on every probed port in the host namespace, sends the probes from the peer. */
export async function sendProbes(pair: NamespacePair, probes: readonly Probe[]): Promise<ProbeResult[]> {
  const ports = [...new Set(probes.map((p) => p.port))];
  const listener = spawn(
    IP,
    ['netns', 'exec', pair.host, process.execPath, join(HERE, 'traffic-listener.mjs'), ...ports.map(String)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  listener.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  listener.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const take = () => {
        const line = lines.shift();
        if (line !== undefined) resolve(line);
        else waiters.push(take);
      };
      listener.once('close', () => reject(new Error(`listener exited: ${stderr.slice(0, 400)}`)));
      take();
    });
  try {
    if ((await nextLine()) !== 'ready') throw new Error(`listener did not start: ${stderr}`);
    const withIds = probes.map((p, i) => ({
      ...p,
      id: `p${i}`,
      address: p.family === 'ipv4' ? HOST_V4 : HOST_V6,
    }));
    const clientOut = await new Promise<string>((resolve, reject) => {
      const client = spawn(
        IP,
        ['netns', 'exec', pair.peer, process.execPath, join(HERE, 'traffic-client.mjs')],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      client.stdout.on('data', (d: Buffer) => (out += d.toString()));
      client.stderr.on('data', (d: Buffer) => (err += d.toString()));
      client.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`client failed: ${err}`))));
      client.stdin.end(
        JSON.stringify(withIds.map(({ id, proto, address, port }) => ({ id, proto, address, port }))),
      );
    });
    // Let the last datagrams arrive before asking what was received.
    await new Promise((r) => setTimeout(r, 300));
    listener.stdin.write('report\n');
    const report = JSON.parse(await nextLine()) as { udp: string[] };
    const udpReceived = new Set(report.udp);
    const tcp = new Map(
      (JSON.parse(clientOut) as { id: string; result: string }[]).map((r) => [r.id, r.result]),
    );
    return withIds.map(({ id, address: _address, ...p }) => {
      if (p.proto === 'udp') {
        const through = udpReceived.has(id);
        return { ...p, through, how: through ? 'received' : 'not received' };
      }
      const how = tcp.get(id) ?? 'no result';
      return { ...p, through: how === 'through', how };
    });
  } finally {
    listener.kill();
  }
}
