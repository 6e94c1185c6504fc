/**
 * The verifier client reads no more of an answer than a verifier's could be: an endless body is
 * cut at 64 KiB (the stream is cancelled) and counted as an answer that is not the verifier's,
 * retried; never accepted. The fetch here is a function returning a real Response with a real
 * ReadableStream (the client's injected transport), not a fake of the client.
 */
import { createVerifierClient, type PushOutcome } from '../../../src/agent/daemon/verifier-client.js';

function endlessJson(counter: { bytes: number; cancelled: boolean }): Response {
  const chunk = new TextEncoder().encode('{"code":"x"},'.repeat(1000));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"decision":{"allowed":true,"reasons":['));
    },
    pull(controller) {
      counter.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      counter.cancelled = true;
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
}

describe('verifier client: answers that are not the verifier’s', () => {
  it('stops reading an endless body at its limit and retries, never accepting', async () => {
    const counter = { bytes: 0, cancelled: false };
    const outcomes: PushOutcome[] = [];
    const client = createVerifierClient({
      serverUrl: 'https://verifier.example',
      fetch: async () => endlessJson(counter),
      initialBackoffMs: 60_000,
      onOutcome: (o) => outcomes.push(o),
    });
    client.submit({ token: 't', expiresAt: Date.now() + 600_000, proof: () => 'p' });
    while (outcomes.length === 0) await new Promise((r) => setTimeout(r, 10));
    await client.stop();
    expect(outcomes[0]).toMatchObject({
      kind: 'unreachable',
      reason: 'invalid_response',
      status: 200,
      attempt: 1,
    });
    expect(counter.cancelled).toBe(true);
    expect(counter.bytes).toBeLessThan(1024 * 1024);
  });

  it('takes a verifier-sized answer as before', async () => {
    const outcomes: PushOutcome[] = [];
    const decision = {
      allowed: false,
      reasons: [{ code: 'posture_failed', check: 'firewall' }],
      decisionId: 'd',
      policyRevision: 'r',
    };
    const client = createVerifierClient({
      serverUrl: 'https://verifier.example',
      fetch: async () => new Response(JSON.stringify({ decision }), { status: 200 }),
      onOutcome: (o) => outcomes.push(o),
    });
    client.submit({ token: 't', expiresAt: Date.now() + 600_000, proof: () => 'p' });
    while (outcomes.length === 0) await new Promise((r) => setTimeout(r, 10));
    await client.stop();
    expect(outcomes[0]).toMatchObject({ kind: 'accepted', decision });
  });
});
