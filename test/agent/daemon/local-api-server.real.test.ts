/**
 * The local API server on a real Unix socket, with peer identity from the real kernel (ss +
 * /proc) and a real second Unix user (uid 65534 through setpriv). Needs root, like the daemon.
 */
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execCommand } from '../../../src/host/exec.js';
import { createLocalApiServer, type LocalApiHandlers } from '../../../src/agent/daemon/local-api-server.js';
import { linuxPeerResolver } from '../../../src/agent/daemon/peer-credentials-linux.js';
import { rootIsAdministrator } from '../../../src/agent/daemon/peer-credentials.js';
import { peerResolverFor } from '../../../src/agent/daemon/peer-resolver.js';
import { LocalApiFailure } from '../../../src/agent/daemon/errors.js';
import type { DaemonStatus } from '../../../src/shared/local-api.js';
import {
  localApiErrorSchema,
  recheckResponseSchema,
  statusEventSchema,
  statusResponseSchema,
} from '../../../src/shared/local-api.js';
import { callApi, callApiAs } from './local-api-client.js';
import { describeWithPart, executable, isRoot } from './real-parts.js';

const SS = '/usr/bin/ss';
const NOBODY = 65534;
const describeReal = describeWithPart(
  isRoot() && executable(SS) && executable('/usr/bin/setpriv'),
  'root, /usr/bin/ss (iproute2) and /usr/bin/setpriv',
);

function statusAt(iso: string): DaemonStatus {
  return {
    state: 'running',
    startedAt: iso,
    agentVersion: '0.1.0',
    posture: {
      overall: 'pass',
      policyRevision: 'builtin-default',
      evaluatedAt: iso,
      checks: [{ check: 'firewall', verdict: 'pass', code: 'firewall_on', reason: 'on', observedAt: iso }],
    },
    lastRecheck: { trigger: 'startup', checks: ['firewall'], finishedAt: iso },
    attestation: null,
    enrollment: { enrolled: false },
    problems: [],
  };
}

function recordingHandlers() {
  const calls: string[] = [];
  const handlers: LocalApiHandlers = {
    status: () => statusAt('2026-01-01T00:00:00.000Z'),
    recheck: async (request) => {
      calls.push('recheck');
      return { coalesced: false, checks: request.checks ?? ['firewall'] };
    },
    enroll: async () => {
      calls.push('enroll');
      return { deviceId: 'dev-1', keyProtection: 'tpm' };
    },
    rotate: async () => {
      calls.push('rotate');
      throw new Error('secret internal detail /etc/shadow');
    },
    reload: async () => {
      calls.push('reload');
      throw new LocalApiFailure('unavailable', 'still starting');
    },
    attestation: async () => {
      throw new LocalApiFailure('no_attestation', 'none');
    },
    headers: async () => {
      throw new LocalApiFailure('no_attestation', 'none');
    },
  };
  return { calls, handlers };
}

function errorCode(answer: { body: Record<string, unknown> }): string {
  return localApiErrorSchema.parse(answer.body).error;
}

describeReal('local API over a Unix socket', () => {
  let dir: string;
  let socketPath: string;
  let now: number;
  let calls: string[];
  let server: ReturnType<typeof createLocalApiServer>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `pa-api-${process.pid}-`));
    await chmod(dir, 0o755); // others may reach the socket; only root writes the folder
    socketPath = join(dir, 'api.sock');
    now = 1_000_000;
    const recorded = recordingHandlers();
    calls = recorded.calls;
    server = createLocalApiServer({
      socketPath,
      resolvePeer: linuxPeerResolver({ run: execCommand, ssPath: SS }),
      isAdministrator: rootIsAdministrator,
      handlers: recorded.handlers,
      now: () => now,
      limits: { requestTimeoutMs: 1_000, maxStreamsPerUser: 2 },
    });
    await server.listen();
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on the socket with mode 0666, and on no TCP port', async () => {
    const info = await stat(socketPath);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o666);
  });

  it('root is identified by the kernel and may do administrator actions', async () => {
    const status = await callApi(socketPath, 'GET', '/v1/status');
    expect(status.status).toBe(200);
    expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: 0, administrator: true });
    const enroll = await callApi(
      socketPath,
      'POST',
      '/v1/admin/enroll',
      JSON.stringify({ apiVersion: 1, token: 't' }),
    );
    expect(enroll.status).toBe(200);
    expect(enroll.body).toEqual({ apiVersion: 1, deviceId: 'dev-1', keyProtection: 'tpm' });
  });

  it('a second Unix user reads status and asks for a re-check, but is refused administrator actions', async () => {
    const status = await callApiAs(NOBODY, socketPath, 'GET', '/v1/status');
    expect(status.status).toBe(200);
    expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: NOBODY, administrator: false });

    const recheck = await callApiAs(
      NOBODY,
      socketPath,
      'POST',
      '/v1/recheck',
      JSON.stringify({ apiVersion: 1 }),
    );
    expect(recheck.status).toBe(200);
    expect(recheckResponseSchema.parse(recheck.body).checks).toEqual(['firewall']);

    for (const path of ['/v1/admin/enroll', '/v1/admin/rotate', '/v1/admin/reload']) {
      const denied = await callApiAs(
        NOBODY,
        socketPath,
        'POST',
        path,
        JSON.stringify({ apiVersion: 1, token: 't' }),
      );
      expect(denied.status).toBe(403);
      expect(errorCode(denied)).toBe('forbidden');
    }
    expect(calls).toEqual(['recheck']);
  });

  it('malformed JSON, a wrong shape and unknown fields get malformed_request', async () => {
    for (const body of [
      '{not json',
      '[]',
      JSON.stringify({ apiVersion: 1, checks: ['nope'] }),
      JSON.stringify({ apiVersion: 1, x: 1 }),
    ]) {
      const answer = await callApi(socketPath, 'POST', '/v1/recheck', body);
      expect(answer.status).toBe(400);
      expect(errorCode(answer)).toBe('malformed_request');
    }
    expect(calls).toEqual([]);
  });

  it('an unknown version, in the path or the body, gets unsupported_version', async () => {
    const path = await callApi(socketPath, 'GET', '/v2/status');
    expect(errorCode(path)).toBe('unsupported_version');
    const body = await callApi(socketPath, 'POST', '/v1/recheck', JSON.stringify({ apiVersion: 2 }));
    expect(errorCode(body)).toBe('unsupported_version');
    expect(body.body.supportedVersions).toEqual([1]);
  });

  it('unknown endpoints and wrong methods get their codes', async () => {
    expect(errorCode(await callApi(socketPath, 'GET', '/v1/nothing'))).toBe('unknown_endpoint');
    expect(errorCode(await callApi(socketPath, 'GET', '/etc/passwd'))).toBe('unknown_endpoint');
    expect(errorCode(await callApi(socketPath, 'DELETE', '/v1/status'))).toBe('method_not_allowed');
  });

  it('an oversized body gets message_too_large, declared or streamed, and the server goes on', async () => {
    const big = JSON.stringify({ apiVersion: 1, pad: 'x'.repeat(40_000) });
    const declared = await callApi(socketPath, 'POST', '/v1/recheck', big);
    expect(declared.status).toBe(413);
    expect(errorCode(declared)).toBe('message_too_large');
    const streamed = await callApi(socketPath, 'POST', '/v1/recheck', big, {
      'transfer-encoding': 'chunked',
    });
    expect(errorCode(streamed)).toBe('message_too_large');
    expect((await callApi(socketPath, 'GET', '/v1/status')).status).toBe(200);
  });

  it('a flood of re-check requests is rate limited per user; status still answers meanwhile', async () => {
    const flood = await Promise.all(
      Array.from({ length: 30 }, () =>
        callApi(socketPath, 'POST', '/v1/recheck', JSON.stringify({ apiVersion: 1 })),
      ),
    );
    const allowed = flood.filter((a) => a.status === 200).length;
    const limited = flood.filter((a) => a.status === 429);
    expect(allowed).toBe(3);
    expect(limited.length).toBe(27);
    expect(limited.every((a) => errorCode(a) === 'rate_limited' && Number(a.body.retryAfterMs) > 0)).toBe(
      true,
    );
    expect(calls.filter((c) => c === 'recheck').length).toBe(3);
    expect((await callApi(socketPath, 'GET', '/v1/status')).status).toBe(200);
    // another user has a bucket of their own
    const other = await callApiAs(
      NOBODY,
      socketPath,
      'POST',
      '/v1/recheck',
      JSON.stringify({ apiVersion: 1 }),
    );
    expect(other.status).toBe(200);
    now += 10_000; // one token back
    expect((await callApi(socketPath, 'POST', '/v1/recheck', JSON.stringify({ apiVersion: 1 }))).status).toBe(
      200,
    );
  });

  it.each([
    ['its headers', 'GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: '],
    ['its body', 'POST /v1/recheck HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"apiV'],
  ])('a client that never finishes %s is cut off and does not stall others', async (_what, partial) => {
    const stalled = createConnection(socketPath);
    await new Promise((r) => stalled.once('connect', r));
    stalled.on('data', () => undefined);
    stalled.on('error', () => undefined);
    stalled.write(partial);
    const closed = new Promise<void>((r) => stalled.once('close', () => r()));
    expect((await callApi(socketPath, 'GET', '/v1/status')).status).toBe(200);
    await closed; // the request timeout (1 s here) ends it
    expect(calls).toEqual([]);
  });

  it('a handler failure is unavailable, without its details; a LocalApiFailure keeps its code', async () => {
    const rotate = await callApi(socketPath, 'POST', '/v1/admin/rotate', JSON.stringify({ apiVersion: 1 }));
    expect(rotate.status).toBe(503);
    expect(errorCode(rotate)).toBe('unavailable');
    expect(JSON.stringify(rotate.body)).not.toContain('shadow');
    const reload = await callApi(socketPath, 'POST', '/v1/admin/reload', JSON.stringify({ apiVersion: 1 }));
    expect(errorCode(reload)).toBe('unavailable');
  });

  it('streams status changes as server-sent events; streams per user are capped', async () => {
    const events: unknown[] = [];
    const { request } = await import('node:http');
    const open = () =>
      new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = request({ socketPath, path: '/v1/events' }, resolve);
        req.on('error', reject);
        req.end();
      });
    const first = await open();
    expect(first.headers['content-type']).toContain('text/event-stream');
    let buffered = '';
    const twoEvents = new Promise<void>((resolve) =>
      first.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const frames = buffered.split('\n\n').filter((f) => f.startsWith('event: status'));
        if (frames.length >= 2) {
          for (const f of frames) events.push(JSON.parse(f.split('\ndata: ')[1] ?? ''));
          resolve();
        }
      }),
    );
    const second = await open();
    const third = await open();
    expect(third.statusCode).toBe(429);
    server.publishStatus(statusAt('2026-01-01T00:05:00.000Z'));
    await twoEvents;
    const parsed = events.map((e) => statusEventSchema.parse(e));
    expect(parsed.map((e) => e.sequence)).toEqual([0, 2]);
    expect(parsed[1]?.status.startedAt).toBe('2026-01-01T00:05:00.000Z');
    first.destroy();
    second.destroy();
    third.destroy();
  });

  it('refuses a second server on the same socket, and a folder others can write', async () => {
    const second = createLocalApiServer({
      socketPath,
      resolvePeer: linuxPeerResolver({ run: execCommand, ssPath: SS }),
      isAdministrator: rootIsAdministrator,
      handlers: recordingHandlers().handlers,
    });
    await expect(second.listen()).rejects.toMatchObject({ code: 'ERR_SOCKET_IN_USE' });
    await chmod(dir, 0o777);
    const unsafe = createLocalApiServer({
      socketPath: join(dir, 'other.sock'),
      resolvePeer: linuxPeerResolver({ run: execCommand, ssPath: SS }),
      isAdministrator: rootIsAdministrator,
      handlers: recordingHandlers().handlers,
    });
    await expect(unsafe.listen()).rejects.toMatchObject({ code: 'ERR_SOCKET_DIR_UNSAFE' });
    await chmod(dir, 0o755);
  });

  it("makes a missing socket folder (a daemon started by hand, without the unit's RuntimeDirectory), writable by its owner only", async () => {
    const missing = join(dir, 'run', 'posture-agent');
    const server = createLocalApiServer({
      socketPath: join(missing, 'api.sock'),
      resolvePeer: linuxPeerResolver({ run: execCommand, ssPath: SS }),
      isAdministrator: rootIsAdministrator,
      handlers: recordingHandlers().handlers,
    });
    await server.listen();
    try {
      expect((await stat(missing)).mode & 0o777).toBe(0o755);
    } finally {
      await server.close();
    }
  });
});

describe('local API where peers cannot be identified', () => {
  it('an unidentified peer (macOS, Windows until their helpers exist) may read status but is never an administrator', async () => {
    const dir = await mkdtemp(join(tmpdir(), `pa-api-${process.pid}-`));
    const socketPath = join(dir, 'api.sock');
    const recorded = recordingHandlers();
    const server = createLocalApiServer({
      socketPath,
      resolvePeer: peerResolverFor('darwin', execCommand),
      isAdministrator: rootIsAdministrator,
      handlers: recorded.handlers,
    });
    await server.listen();
    try {
      const status = await callApi(socketPath, 'GET', '/v1/status');
      expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: null, administrator: false });
      const enroll = await callApi(
        socketPath,
        'POST',
        '/v1/admin/enroll',
        JSON.stringify({ apiVersion: 1, token: 't' }),
      );
      expect(errorCode(enroll)).toBe('forbidden');
      expect(recorded.calls).toEqual([]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a Windows named pipe path with ERR_TRANSPORT_UNSUPPORTED', async () => {
    const server = createLocalApiServer({
      socketPath: '\\\\.\\pipe\\posture-agent',
      resolvePeer: peerResolverFor('win32', execCommand),
      isAdministrator: rootIsAdministrator,
      handlers: recordingHandlers().handlers,
    });
    await expect(server.listen()).rejects.toMatchObject({ code: 'ERR_TRANSPORT_UNSUPPORTED' });
  });
});
