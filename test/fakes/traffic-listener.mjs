// Listens on TCP and UDP (dual stack, IPv4 and IPv6) on the ports given as arguments, inside
// whatever network namespace it was started in. Prints "ready" once every socket is bound; on the
// line "report" on stdin, prints the UDP payloads it received as JSON and exits. Used by the
// firewall traffic oracle (test/probes/firewall-oracle.real.test.ts). Plain Node, no TypeScript:
// it runs under `ip netns exec` without ts-jest.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import process from 'node:process';
import { createInterface } from 'node:readline';

const ports = process.argv.slice(2).map(Number);
const received = [];
const closers = [];
await Promise.all(
  ports.flatMap((port) => [
    new Promise((resolve, reject) => {
      const server = createServer((socket) => socket.destroy());
      server.once('error', reject);
      server.listen({ port, host: '::', ipv6Only: false }, () => resolve());
      closers.push(() => server.close());
    }),
    new Promise((resolve, reject) => {
      const socket = createSocket({ type: 'udp6', ipv6Only: false });
      socket.on('message', (message) => received.push(message.toString('utf8')));
      socket.once('error', reject);
      socket.bind(port, '::', () => resolve());
      closers.push(() => socket.close());
    }),
  ]),
);
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'report') return;
  process.stdout.write(`${JSON.stringify({ udp: received })}\n`);
  for (const close of closers) close();
  process.exit(0);
});
