// Tries each probe given as JSON on stdin ([{id, proto: "tcp"|"udp", address, port}]) from the
// namespace it runs in: TCP connects (a SYN-ACK within the timeout = through; RST or ICMP =
// refused; nothing = dropped), UDP sends a datagram carrying the probe id, which only the
// listener can confirm. Prints [{id, result}] as JSON. Plain Node for `ip netns exec`.
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

const TCP_TIMEOUT_MS = Number(process.env.TCP_TIMEOUT_MS ?? 1000);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const probes = JSON.parse(input);

function tcp(p) {
  return new Promise((resolve) => {
    const socket = connect({ host: p.address, port: p.port });
    const done = (result) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ id: p.id, result });
    };
    const timer = setTimeout(() => done('dropped'), TCP_TIMEOUT_MS);
    socket.once('connect', () => done('through'));
    socket.once('error', (e) =>
      done(
        e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH'
          ? 'refused'
          : `error ${e.code}`,
      ),
    );
  });
}

function udp(p) {
  return new Promise((resolve) => {
    const socket = createSocket(p.address.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => undefined);
    const message = Buffer.from(p.id);
    socket.send(message, p.port, p.address, () => {
      socket.send(message, p.port, p.address, () => {
        socket.close();
        resolve({ id: p.id, result: 'sent' });
      });
    });
  });
}

const results = await Promise.all(probes.map((p) => (p.proto === 'tcp' ? tcp(p) : udp(p))));
process.stdout.write(`${JSON.stringify(results)}\n`);
