/**
 * The daemon's verifier client against the real verifier service (SQLite, real HTTP, real keys):
 * pushes and heartbeats are accepted; while the verifier is down it retries with growing, jittered
 * delays and keeps only the latest attestation; a refusal is reported with its code and not
 * retried; an expired attestation is never sent; nothing is decided locally.
 */
import { createServer } from 'node:http';
import type { Attestation } from '../../../src/attest/attestation.js';
import {
  backoffDelay,
  createVerifierClient,
  MAX_RETRY_AFTER_MS,
  retryAfterMs,
  type PushableAttestation,
  type PushOutcome,
} from '../../../src/agent/daemon/verifier-client.js';
import { freePort } from '../../fakes/ports.js';
import { generatePrivateJwk, softwareKey } from '../../../src/keys/software-key.js';
import { failingFirewall } from '../../helpers/enrolled-device.js';
import { attestAt, codeOf, forwardAuth, PUSH_POLICY } from '../../helpers/push.js';
import {
  admin,
  enrollKey,
  enrollmentToken,
  serviceConfig,
  testService,
  type TestService,
} from '../../helpers/service.js';

/** A device enrolled through the API of a verifier whose public URL is its own loopback address. */
async function enrolledDevice(svc: TestService) {
  const key = await softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());
  const res = await enrollKey(svc.call, key, await enrollmentToken(svc.call), { aud: svc.config.publicUrl });
  expect(res.statusCode).toBe(201);
  return { key, deviceId: (res.json() as { deviceId: string }).deviceId };
}

const pushable = (a: Attestation): PushableAttestation => ({
  token: a.token,
  expiresAt: a.expiresAt,
  proof: (method, url, nowMs) => a.session.proof(method, url, a.token, nowMs),
});

/** Resolves with the first outcome `wanted` accepts (outcomes are collected from the start). */
function outcomes() {
  const seen: PushOutcome[] = [];
  const waiters: Array<{ wanted: (o: PushOutcome) => boolean; resolve: (o: PushOutcome) => void }> = [];
  return {
    seen,
    onOutcome(o: PushOutcome) {
      seen.push(o);
      for (const w of waiters.splice(0)) {
        if (w.wanted(o)) w.resolve(o);
        else waiters.push(w);
      }
    },
    next(wanted: (o: PushOutcome) => boolean): Promise<PushOutcome> {
      const found = seen.find(wanted);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ wanted, resolve }));
    },
  };
}

async function pushService(port?: number, extra: object = {}) {
  const p = port ?? (await freePort());
  const svc = await testService({
    port: p,
    config: serviceConfig({ publicUrl: `http://127.0.0.1:${p}`, ...extra }),
  });
  svc.setPolicy(PUSH_POLICY);
  return svc;
}

describe('verifier client (daemon) against the real verifier', () => {
  it('pushes an attestation, the verifier answers its decision, and heartbeats follow', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const log = outcomes();
    const client = createVerifierClient({ serverUrl: svc.url, heartbeatMs: 100, onOutcome: log.onOutcome });
    try {
      const a = await attestAt(device, 5);
      client.submit(pushable(a));
      expect(await log.next((o) => o.kind === 'accepted')).toMatchObject({
        kind: 'accepted',
        heartbeat: false,
        decision: { allowed: true },
      });
      expect(await log.next((o) => o.kind === 'accepted' && o.heartbeat)).toMatchObject({ kind: 'accepted' });
      expect((await forwardAuth(svc.call, a)).statusCode).toBe(200);
      // A non-compliant one is pushed and the verifier says so; the old one is superseded at once.
      const b = await attestAt(device, 0, failingFirewall());
      client.submit(pushable(b));
      const failed = await log.next(
        (o) =>
          o.kind === 'accepted' && !o.decision.allowed && o.decision.reasons[0]?.code === 'posture_failed',
      );
      expect(failed.kind).toBe('accepted');
      expect(codeOf(await forwardAuth(svc.call, a))).toBe('attestation_superseded');
    } finally {
      await client.stop();
    }
  }, 30_000);

  it('verifier down: retries with growing jittered delays, keeps only the latest, and pushes it once the verifier is up', async () => {
    const port = await freePort();
    const serverUrl = `http://127.0.0.1:${port}`;
    const log = outcomes();
    const client = createVerifierClient({
      serverUrl,
      initialBackoffMs: 40,
      maxBackoffMs: 400,
      random: () => 0.5,
      onOutcome: log.onOutcome,
    });
    // The device is enrolled on a verifier that is then stopped, and started again later on the same port.
    const first = await pushService(port);
    const device = await enrolledDevice(first);
    const older = await attestAt(device, 20);
    const newer = await attestAt(device, 10, failingFirewall());
    await first.app.close();
    try {
      client.submit(pushable(older));
      await log.next((o) => o.kind === 'unreachable' && o.attempt >= 4);
      client.submit(pushable(newer));
      await log.next((o) => o.kind === 'unreachable' && o.attempt >= 6);
      const delays = log.seen.filter((o) => o.kind === 'unreachable').map((o) => o.retryInMs);
      // 40 · 2^(n-1), capped at 400, three quarters of it with random 0.5.
      expect(delays.slice(0, 6)).toEqual([30, 60, 120, 240, 300, 300]);
      expect(log.seen.every((o) => o.kind === 'unreachable' && o.reason === 'network')).toBe(true);
      expect(client.status()?.kind).toBe('unreachable');

      // The same store, a verifier on the same port again: only the newer attestation arrives.
      const again = await testService({
        port,
        store: first.store,
        config: serviceConfig({ publicUrl: serverUrl }),
      });
      again.setPolicy(PUSH_POLICY);
      const accepted = await log.next((o) => o.kind === 'accepted');
      expect(accepted).toMatchObject({ decision: { allowed: false } });
      expect(log.seen.filter((o) => o.kind === 'accepted')).toHaveLength(1);
      const shown = (
        await again.call({ method: 'GET', url: `/v1/admin/devices/${device.deviceId}`, headers: admin })
      ).json();
      expect(shown.lastPosture).toMatchObject({ overall: 'fail', failing: ['firewall'] });
      expect(codeOf(await forwardAuth(again.call, older))).toBe('attestation_superseded');
    } finally {
      await client.stop();
    }
  }, 30_000);

  it('a refusal is reported with its code and not retried', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const log = outcomes();
    const client = createVerifierClient({
      serverUrl: svc.url,
      initialBackoffMs: 20,
      onOutcome: log.onOutcome,
    });
    try {
      const newer = await attestAt(device, 5);
      client.submit(pushable(newer));
      await log.next((o) => o.kind === 'accepted');
      client.submit(pushable(await attestAt(device, 30)));
      expect(await log.next((o) => o.kind === 'refused')).toMatchObject({
        status: 409,
        code: 'attestation_superseded',
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(log.seen.map((o) => o.kind)).toEqual(['accepted', 'refused']);
    } finally {
      await client.stop();
    }
  }, 30_000);

  it('an answer that is not the verifier\u2019s (a 200 of garbage, a 502) is never taken as a pass: retried', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(200, { 'content-type': 'application/json' }).end('{"allowed":true}');
      else res.writeHead(502).end('<html>bad gateway</html>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const log = outcomes();
    const client = createVerifierClient({
      serverUrl: `http://127.0.0.1:${port}`,
      initialBackoffMs: 10,
      onOutcome: log.onOutcome,
    });
    try {
      const svc = await pushService();
      const a = await attestAt(await enrolledDevice(svc), 1);
      client.submit(pushable(a));
      await log.next((o) => o.kind === 'unreachable' && o.attempt >= 2);
      expect(log.seen.slice(0, 2)).toMatchObject([
        { kind: 'unreachable', reason: 'invalid_response', status: 200 },
        { kind: 'unreachable', reason: 'status', status: 502 },
      ]);
      expect(log.seen.some((o) => o.kind === 'accepted')).toBe(false);
    } finally {
      await client.stop();
      await new Promise((r) => server.close(() => r(undefined)));
    }
  }, 30_000);

  it('an expired attestation is dropped, never sent', async () => {
    const svc = await pushService();
    const device = await enrolledDevice(svc);
    const log = outcomes();
    const client = createVerifierClient({ serverUrl: svc.url, onOutcome: log.onOutcome });
    try {
      const a = await attestAt(device, 1);
      client.submit({ ...pushable(a), expiresAt: Date.now() - 1 });
      expect(await log.next(() => true)).toMatchObject({ kind: 'expired' });
      expect(svc.decisions).toHaveLength(0);
    } finally {
      await client.stop();
    }
  });

  it('429 push_rate_limited: sends nothing before Retry-After, not even a newer attestation, then only the latest', async () => {
    // One push at once, then one every 2 s: the second push is refused with Retry-After: 2.
    const svc = await pushService(undefined, { push: { rateLimit: { perMinute: 30, burst: 1 } } });
    const device = await enrolledDevice(svc);
    const log = outcomes();
    const client = createVerifierClient({
      serverUrl: svc.url,
      initialBackoffMs: 10,
      random: () => 0,
      onOutcome: log.onOutcome,
    });
    try {
      client.submit(pushable(await attestAt(device, 30)));
      await log.next((o) => o.kind === 'accepted');
      client.submit(pushable(await attestAt(device, 20)));
      const limited = await log.next((o) => o.kind === 'unreachable');
      expect(limited).toMatchObject({ kind: 'unreachable', reason: 'rate_limited', status: 429 });
      expect(limited.kind === 'unreachable' && limited.retryInMs).toBeGreaterThanOrEqual(1_000);
      // A newer attestation during the wait does not wake the client early; it waits as the latest.
      const latest = await attestAt(device, 10, failingFirewall());
      client.submit(pushable(latest));
      const accepted = await log.next((o) => o.kind === 'accepted' && !o.decision.allowed);
      expect(accepted.at - limited.at).toBeGreaterThanOrEqual(
        limited.kind === 'unreachable' ? limited.retryInMs : 0,
      );
      expect(svc.decisions.map((d) => (d as { status: number }).status)).toEqual([200, 429, 200]);
      // The newest the verifier holds is the latest one: the older one pushed before it is superseded.
      expect(codeOf(await forwardAuth(svc.call, latest))).toBe('posture_failed');
    } finally {
      await client.stop();
    }
  }, 30_000);

  it('Retry-After: seconds or an HTTP date, capped at an hour; anything else is ignored', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Tue, 01 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('999999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('1.5', now)).toBeUndefined();
  });

  it('backoff: equal jitter between half and all of the capped exponential delay', () => {
    expect(backoffDelay(1, 1000, 60_000, 0)).toBe(500);
    expect(backoffDelay(1, 1000, 60_000, 0.99)).toBe(995);
    expect(backoffDelay(3, 1000, 60_000, 0)).toBe(2000);
    expect(backoffDelay(20, 1000, 60_000, 1)).toBe(60_000);
  });
});
