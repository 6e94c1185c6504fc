/**
 * VerifierLink: the daemon's seam between new attestations and the verifier client. A real
 * attestation (real device key, real session key); the client is a recorder handed in through
 * `connect`, and outcomes are fed to it as the real client reports them. Not enrolled → nothing
 * pushed, said once; refusals and an unreachable verifier are problems, an acceptance clears them;
 * the pushed proof is the attestation's session key's for the push URL; another verifier → a new
 * client, the old one stopped; stop() stops the client.
 */
import type { Attestation } from '../../../src/attest/attestation.js';
import { createAttestation } from '../../../src/attest/attestation.js';
import {
  pushEndpoint,
  type PushableAttestation,
  type PushOutcome,
} from '../../../src/agent/daemon/verifier-client.js';
import { daemonStatusSchema } from '../../../src/shared/local-api.js';
import { VerifierLink, type PushStatus } from '../../../src/agent/daemon/verifier-link.js';
import { generatePrivateJwk, softwareKey } from '../../../src/keys/software-key.js';
import { compliantChecks, report } from '../../helpers/device.js';

interface Recorder {
  serverUrl: string;
  submitted: PushableAttestation[];
  stopped: boolean;
  report: (o: PushOutcome) => void;
}

async function attestation(): Promise<Attestation> {
  const key = await softwareKey(generatePrivateJwk(), 'keychain', 'test', new Date().toISOString());
  return createAttestation({
    report: report(compliantChecks(Date.now())),
    key,
    audience: 'https://app.example.com',
  });
}

function setup() {
  const lines: Array<{ event: string } & Record<string, unknown>> = [];
  const problems = new Map<string, string>();
  const clients: Recorder[] = [];
  const verifier: { current: PushStatus | undefined } = { current: undefined };
  const link = new VerifierLink({
    setVerifier: (v) => (verifier.current = v),
    log: (event, fields) => lines.push({ event, ...fields }),
    setProblem: (code, message) =>
      message === undefined ? problems.delete(code) : problems.set(code, message),
    connect: (serverUrl, onOutcome) => {
      const r: Recorder = { serverUrl, submitted: [], stopped: false, report: onOutcome };
      clients.push(r);
      return {
        submit: (a) => r.submitted.push(a),
        status: () => undefined,
        stop: async () => {
          r.stopped = true;
        },
      };
    },
  });
  return { link, lines, problems, clients, verifier };
}

describe('VerifierLink', () => {
  it('not enrolled: pushes nothing and says so once', async () => {
    const { link, lines, clients } = setup();
    const a = await attestation();
    await link.deliver(a, undefined);
    await link.deliver(a, undefined);
    expect(clients).toHaveLength(0);
    expect(lines.filter((l) => l.event === 'push_skipped')).toEqual([
      expect.objectContaining({ reason: 'not_enrolled' }),
    ]);
  });

  it('submits the attestation with proofs by its session key for the push URL', async () => {
    const { link, clients } = setup();
    const a = await attestation();
    await link.deliver(a, 'https://posture.example.com');
    const [client] = clients;
    expect(client?.serverUrl).toBe('https://posture.example.com');
    const pushed = client?.submitted[0];
    expect(pushed).toMatchObject({ token: a.token, expiresAt: a.expiresAt });
    const proof = await pushed!.proof('POST', pushEndpoint('https://posture.example.com'), Date.now());
    const claims = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString()) as {
      htm: string;
      htu: string;
    };
    const header = JSON.parse(Buffer.from(proof.split('.')[0] ?? '', 'base64url').toString()) as {
      jwk: unknown;
    };
    expect(claims).toMatchObject({ htm: 'POST', htu: 'https://posture.example.com/v1/devices/attestation' });
    expect(header.jwk).toEqual(a.claims.cnf.jwk);
  });

  it('refused and unreachable are problems; an accepted push clears them and is logged with the verifier’s decision', async () => {
    const { link, lines, problems, clients, verifier } = setup();
    await link.deliver(await attestation(), 'https://posture.example.com');
    const client = clients[0]!;
    client.report({ kind: 'unreachable', at: Date.now(), attempt: 1, retryInMs: 900, reason: 'network' });
    expect([...problems.keys()]).toEqual(['verifier_unreachable']);
    expect(verifier.current).toMatchObject({
      url: 'https://posture.example.com',
      lastPush: { outcome: 'unreachable', reason: 'network', retryInMs: 900 },
      lastDecision: null,
    });
    client.report({ kind: 'refused', at: Date.now(), status: 409, code: 'attestation_superseded' });
    expect([...problems.keys()]).toEqual(['push_refused']);
    expect(verifier.current?.lastPush).toMatchObject({
      outcome: 'refused',
      code: 'attestation_superseded',
      httpStatus: 409,
    });
    client.report({
      kind: 'accepted',
      at: Date.now(),
      heartbeat: false,
      decision: {
        allowed: false,
        reasons: [{ code: 'posture_failed', check: 'firewall' }],
        decisionId: 'd1',
        policyRevision: 'r1',
      },
    });
    expect(problems.size).toBe(0);
    expect(lines.filter((l) => l.event === 'push').map((l) => l.outcome)).toEqual([
      'unreachable',
      'refused',
      'accepted',
    ]);
    expect(lines.at(-1)).toMatchObject({
      allowed: false,
      reasons: ['posture_failed:firewall'],
      decisionId: 'd1',
    });
    // The status carries the verifier's decision, kept while later pushes do not reach it.
    const decided = {
      allowed: false,
      reasons: ['posture_failed:firewall'],
      decisionId: 'd1',
      policyRevision: 'r1',
    };
    expect(verifier.current).toMatchObject({
      lastPush: { outcome: 'accepted', heartbeat: false },
      lastDecision: decided,
    });
    client.report({ kind: 'unreachable', at: Date.now(), attempt: 1, retryInMs: 900, reason: 'timeout' });
    expect(verifier.current).toMatchObject({ lastPush: { outcome: 'unreachable' }, lastDecision: decided });
    expect(daemonStatusSchema.shape.verifier.safeParse(verifier.current).success).toBe(true);
    // Stopped (another verifier, not enrolled, the attestation dropped): no verifier part at all.
    await link.stop();
    expect(verifier.current).toBeUndefined();
  });

  it('another verifier gets a new client and the old one is stopped; stop() stops the current one', async () => {
    const { link, clients, lines } = setup();
    const a = await attestation();
    await link.deliver(a, 'https://one.example.com');
    await link.deliver(a, 'https://two.example.com');
    expect(clients.map((c) => [c.serverUrl, c.stopped])).toEqual([
      ['https://one.example.com', true],
      ['https://two.example.com', false],
    ]);
    // a late outcome of the stopped client is not the current verifier's
    clients[0]!.report({ kind: 'refused', at: Date.now(), status: 401, code: 'device_revoked' });
    expect(lines.some((l) => l.event === 'push')).toBe(false);
    await link.stop();
    expect(clients[1]?.stopped).toBe(true);
  });
});
