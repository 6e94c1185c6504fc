/**
 * Loopback port helpers for the real servers the tests start. Ports come from the kernel (bind to
 * port 0), never from a random guess: a guessed port can already be taken by another test's server,
 * and waiting for "something listens there" would then wait for the wrong server.
 */
import { createConnection, createServer } from 'node:net';

function bind(port: number): Promise<{ port: number; close(): Promise<void> } | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () =>
      resolve({
        port: (s.address() as { port: number }).port,
        close: () => new Promise((r) => s.close(() => r())),
      }),
    );
  });
}

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const b = await bind(0);
  if (!b) throw new Error('no free loopback port');
  await b.close();
  return b.port;
}

/** Two consecutive free ports P and P+1 (swtpm's server and control ports); returns P. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const first = await bind(0);
    if (!first) continue;
    const second = first.port < 65535 ? await bind(first.port + 1) : undefined;
    await first.close();
    if (second) {
      await second.close();
      return first.port;
    }
  }
  throw new Error('no two consecutive free loopback ports');
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
