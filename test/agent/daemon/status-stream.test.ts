/**
 * The status stream on a real HTTP server over a Unix socket: a subscriber that stops reading is
 * dropped once its unsent data passes the cap, while a reading subscriber keeps getting events.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStatusStreams } from '../../../src/agent/daemon/status-stream.js';
import type { DaemonStatus } from '../../../src/shared/local-api.js';

function bigStatus(n: number): DaemonStatus {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString();
  return {
    state: 'degraded',
    startedAt: at,
    agentVersion: '0.1.0',
    posture: null,
    lastRecheck: null,
    attestation: null,
    enrollment: { enrolled: false },
    problems: [{ code: 'padding', message: 'x'.repeat(8_000), since: at }],
  };
}

describe('createStatusStreams', () => {
  it('drops a subscriber that does not read; the others go on', async () => {
    const dir = await mkdtemp(join(tmpdir(), `pa-sse-${process.pid}-`));
    const socketPath = join(dir, 's.sock');
    const streams = createStatusStreams({ maxStreams: 4, maxStreamsPerKey: 4, maxBufferedBytes: 64 * 1024 });
    const server = createServer((_req, res) => streams.subscribe(res, 'k', bigStatus(0)));
    await new Promise<void>((r) => server.listen(socketPath, r));
    const open = () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({ socketPath, path: '/' }, resolve);
        req.on('error', reject);
        req.end();
      });
    try {
      const stuck = await open();
      stuck.pause(); // never reads
      const reader = await open();
      let received = 0;
      reader.on('data', (c: Buffer) => (received += c.length));
      expect(streams.count()).toBe(2);
      for (let i = 1; i <= 400 && streams.count() === 2; i++) {
        streams.publish(bigStatus(i));
        await new Promise((r) => setImmediate(r));
      }
      expect(streams.count()).toBe(1); // the server ended the stuck one's response
      const before = received;
      streams.publish(bigStatus(999));
      for (let i = 0; i < 100 && received === before; i++) await new Promise((r) => setTimeout(r, 10));
      expect(received).toBeGreaterThan(before);
      reader.destroy();
      stuck.destroy();
    } finally {
      streams.closeAll();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
