// Helpers shared by the service benchmarks: table rows, quantiles, loopback ports, process CPU.
import { readFileSync, readdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export const row = (name, value, note = '') =>
  console.log(`${name.padEnd(52)} ${String(value).padEnd(22)} ${note}`);
export const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
export const median = (values) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

const up = (port) =>
  new Promise((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });

export async function waitPort(port) {
  for (let i = 0; i < 300; i++) {
    if (await up(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 15 s`);
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The processes whose parent is `pid` (nginx's workers under its master). */
export function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}
