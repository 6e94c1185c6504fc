/** Loopback port helpers for the real servers the tests start. */
import { createConnection } from 'node:net';

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
