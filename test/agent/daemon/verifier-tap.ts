/**
 * A small real HTTP server in front of the real verifier (the daemon's peer), for the fault tests:
 * each request is first shown to `onRequest`, which may answer it itself (garbage, a hang) or
 * notice it (a push arriving: the moment to stop the daemon); otherwise it is forwarded to the
 * verifier, from 127.0.0.9 (no trusted proxy's address), and the answer passed back.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** `true`: the hook answered (or holds) the request itself; otherwise it is forwarded. */
export type TapHook = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface VerifierTap {
  url: string;
  port: number;
  /** Where requests are forwarded (the verifier's port), once it runs. */
  forwardTo(port: number): void;
  onRequest(hook: TapHook | undefined): void;
  /** Requests seen, in order: method and path. */
  seen: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startVerifierTap(): Promise<VerifierTap> {
  let target = 0;
  let hook: TapHook | undefined;
  const seen: VerifierTap['seen'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '' });
    if (hook?.(req, res)) return;
    const out = request(
      {
        host: '127.0.0.1',
        port: target,
        localAddress: '127.0.0.9',
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    forwardTo: (p) => (target = p),
    onRequest: (h) => (hook = h),
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
