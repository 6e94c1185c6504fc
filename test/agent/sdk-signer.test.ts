/**
 * The SDK's createPostureFetch choosing who signs: the daemon (a real local API server on a Unix
 * socket in a temporary folder, with the daemon's real handlers over a held attestation) when it
 * answers, else this process (a real collection, a file key in a temporary folder), saying so once.
 * A daemon that answers with an error is reported, never replaced by a local signature.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../src/agent/agent.js';
import { createAttestation } from '../../src/attest/attestation.js';
import { htuOf } from '../../src/attest/session.js';
import { daemonHandlers, type DaemonControl } from '../../src/agent/daemon/local-api-handlers.js';
import { createLocalApiServer, type LocalApiServer } from '../../src/agent/daemon/local-api-server.js';
import type { HeldAttestation } from '../../src/agent/daemon/local-signing.js';
import { rootIsAdministrator, unidentifiedPeers } from '../../src/agent/daemon/peer-credentials.js';
import { createPostureFetch } from '../../src/agent/sdk.js';
import { NO_DAEMON_NOTICE } from '../../src/agent/signer.js';
import { generatePrivateJwk, softwareKey } from '../../src/keys/software-key.js';
import { PostureError } from '../../src/shared/errors.js';
import type { DaemonStatus } from '../../src/shared/local-api.js';
import { testConfig } from '../helpers/config.js';
import { report } from '../helpers/device.js';

const AUDIENCE = 'https://app.example.com';

const STATUS: DaemonStatus = {
  state: 'running',
  startedAt: new Date().toISOString(),
  agentVersion: '0.1.0',
  posture: null,
  lastRecheck: null,
  attestation: null,
  enrollment: { enrolled: false },
  problems: [],
};

async function heldAttestation(): Promise<HeldAttestation> {
  const key = await softwareKey(generatePrivateJwk(), 'tpm', 'memory', new Date().toISOString());
  const r = report(undefined, Date.now());
  return { attestation: await createAttestation({ report: r, key, audience: AUDIENCE }), report: r };
}

function daemonOn(socketPath: string, held: () => HeldAttestation | undefined): LocalApiServer {
  const control: DaemonControl = {
    currentStatus: () => STATUS,
    currentAgent: () => ({}) as Agent,
    trigger: () => ({ coalesced: false, checks: [] }),
    reload: async () => ({ reloadedAt: '', changed: [] }),
    identityChanged: async () => undefined,
    heldAttestation: held,
    actionEnded: () => undefined,
  };
  return createLocalApiServer({
    socketPath,
    resolvePeer: unidentifiedPeers('test'),
    isAdministrator: rootIsAdministrator,
    handlers: daemonHandlers(control),
  });
}

/** A fetch that records the posture headers it was given and answers 204. */
function recordingFetch() {
  const seen: { url: string; method: string; attestation: string | null; proof: string | null }[] = [];
  const fetchImpl = (async (input: Parameters<typeof fetch>[0]) => {
    const request = input as Request;
    seen.push({
      url: request.url,
      method: request.method,
      attestation: request.headers.get('Posture-Attestation'),
      proof: request.headers.get('Posture-Proof'),
    });
    return new Response(null, { status: 204 });
  }) as typeof fetch;
  return { seen, fetchImpl };
}

const proofClaims = (proof: string | null) =>
  JSON.parse(Buffer.from((proof ?? '').split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    htm: string;
    htu: string;
  };

describe('SDK: the daemon signs when it runs, else this process, saying so', () => {
  let dir: string;
  let socketPath: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `pa-sdk-${process.pid}-`));
    socketPath = join(dir, 'api.sock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function config() {
    return testConfig({
      socketPath,
      keyStore: 'file',
      keyFile: join(dir, 'device-key.json'),
      stateDir: join(dir, 'state'),
      audience: AUDIENCE,
    });
  }

  it('asks the daemon per request; falls back once it is gone, told once; asks it again later', async () => {
    let held: HeldAttestation | undefined = await heldAttestation();
    const server = daemonOn(socketPath, () => held);
    await server.listen();
    const notices: string[] = [];
    let clock = Date.now();
    const { seen, fetchImpl } = recordingFetch();
    const postureFetch = createPostureFetch({
      config: config(),
      fetch: fetchImpl,
      onFallback: (n) => notices.push(n),
      now: () => clock,
      daemonRetryMs: 30_000,
    });
    expect(postureFetch.signedBy()).toBeUndefined();
    try {
      await postureFetch(`${AUDIENCE}/a?x=1`, { method: 'POST', body: 'x' });
      await postureFetch(`${AUDIENCE}/b`);
      expect(postureFetch.signedBy()).toBe('daemon');
      expect(seen.map((s) => s.attestation)).toEqual([held.attestation.token, held.attestation.token]);
      expect(proofClaims(seen[0]?.proof ?? null)).toMatchObject({ htm: 'POST', htu: htuOf(`${AUDIENCE}/a`) });
      expect(proofClaims(seen[1]?.proof ?? null)).toMatchObject({ htm: 'GET', htu: `${AUDIENCE}/b` });
      expect(notices).toEqual([]);

      // A daemon that holds no attestation: the request fails with its code, nothing signed here.
      held = undefined;
      await expect(postureFetch(`${AUDIENCE}/c`)).rejects.toMatchObject({
        code: 'ERR_DAEMON_NO_ATTESTATION',
      });
      expect(seen).toHaveLength(2);
    } finally {
      await server.close();
    }

    // The daemon is gone: this process collects and signs, and says so once.
    await postureFetch(`${AUDIENCE}/d`);
    await postureFetch(`${AUDIENCE}/e`);
    expect(postureFetch.signedBy()).toBe('process');
    expect(notices).toEqual([NO_DAEMON_NOTICE]);
    const local = seen.slice(2).map((s) => s.attestation);
    expect(local[0]).toBe(local[1]);
    expect(local[0]).not.toBe(seen[0]?.attestation);

    // Back after daemonRetryMs: the daemon is asked again.
    held = await heldAttestation();
    const again = daemonOn(socketPath, () => held);
    await again.listen();
    try {
      clock += 31_000;
      await postureFetch(`${AUDIENCE}/f`);
      expect(postureFetch.signedBy()).toBe('daemon');
      expect(seen.at(-1)?.attestation).toBe(held.attestation.token);
    } finally {
      await again.close();
    }
  }, 120_000);

  it('signer "daemon" never signs here; signer "process" never asks the daemon', async () => {
    const { seen, fetchImpl } = recordingFetch();
    const daemonOnly = createPostureFetch({ config: config(), fetch: fetchImpl, signer: 'daemon' });
    const error = await daemonOnly(`${AUDIENCE}/a`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostureError);
    expect((error as PostureError).code).toBe('ERR_DAEMON_NOT_RUNNING');
    expect(seen).toHaveLength(0);

    const held = await heldAttestation();
    const server = daemonOn(socketPath, () => held);
    await server.listen();
    try {
      const notices: string[] = [];
      const processOnly = createPostureFetch({
        config: config(),
        fetch: fetchImpl,
        signer: 'process',
        onFallback: (n) => notices.push(n),
      });
      await processOnly(`${AUDIENCE}/a`);
      expect(processOnly.signedBy()).toBe('process');
      expect(seen[0]?.attestation).not.toBe(held.attestation.token);
      expect(notices).toEqual([]);
    } finally {
      await server.close();
    }
  }, 120_000);
});
