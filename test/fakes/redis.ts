/** A real Redis for tests: redis-server on a loopback port, no persistence. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitForPort } from './ports.js';

export interface RedisServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function redisAvailable(): boolean {
  return existsSync('/usr/bin/redis-server');
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      '/usr/bin/redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitForPort(port, 'redis-server');
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}
