/**
 * A TCP port inside a network namespace that leads to a Unix socket outside it (sockets on the file
 * system cross network namespaces): run as `ip netns exec NS node unix-bridge.mjs SOCKET`, it listens
 * on 127.0.0.1 on a port the kernel picks, prints that port on one line, and pipes each connection to
 * SOCKET. The host's own network (addresses, routes) is never touched.
 */
import { connect, createServer } from 'node:net';
import process from 'node:process';

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: unix-bridge.mjs SOCKET\n');
  process.exit(3);
}
const server = createServer((inside) => {
  const outside = connect(target);
  inside.pipe(outside).pipe(inside);
  inside.on('error', () => outside.destroy());
  outside.on('error', () => inside.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
