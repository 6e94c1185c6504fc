/**
 * What the daemon hands local clients (local-signing.ts, local-api-handlers.ts) and what the local
 * API accepts for it (src/shared/local-api.ts): real attestations signed with a real P-256 key in
 * memory; clocks and sleeps injected.
 */
import type { Attestation } from '../../../src/attest/attestation.js';
import { createAttestation } from '../../../src/attest/attestation.js';
import { htuOf } from '../../../src/attest/session.js';
import { LocalApiFailure } from '../../../src/agent/daemon/errors.js';
import {
  daemonHandlers,
  whyNoAttestation,
  type DaemonControl,
} from '../../../src/agent/daemon/local-api-handlers.js';
import { createLocalSigning, type HeldAttestation } from '../../../src/agent/daemon/local-signing.js';
import { createTokenBuckets } from '../../../src/agent/daemon/rate-limit.js';
import type { Agent } from '../../../src/agent/agent.js';
import { generatePrivateJwk, softwareKey } from '../../../src/keys/software-key.js';
import type { DeviceKey } from '../../../src/keys/types.js';
import type { DaemonStatus } from '../../../src/shared/local-api.js';
import {
  attestationRequestSchema,
  headersRequestSchema,
  isSignableUrl,
} from '../../../src/shared/local-api.js';
import { report } from '../../helpers/device.js';

const OWN = 'https://verifier.example';
const OTHER = 'https://app.example.com';
const T0 = Date.parse('2026-12-01T09:00:00.000Z');

let key: DeviceKey;
beforeAll(async () => {
  key = await softwareKey(generatePrivateJwk(), 'file', 'memory', new Date(T0).toISOString());
});

function sign(
  audience: string,
  at: number,
  nonce?: string,
  from = report(undefined, at),
): Promise<Attestation> {
  return createAttestation({
    report: from,
    key,
    audience,
    lifetimeSeconds: 600,
    now: () => at,
    ...(nonce ? { nonce } : {}),
  });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    if (error instanceof LocalApiFailure) return error.code;
    throw error;
  }
  return 'resolved';
}

/** A signing desk over a held attestation that the test replaces; counts device-key signatures. */
async function desk(options: { maxAudiences?: number; freshSignBurst?: number; failSigning?: boolean } = {}) {
  let now = T0 + 5_000;
  let held: HeldAttestation | undefined = { attestation: await sign(OWN, T0), report: report(undefined, T0) };
  const signed: { audience: string; nonce?: string }[] = [];
  const sleeps: number[] = [];
  const signing = createLocalSigning({
    held: () => held,
    whyNone: () => 'test: none',
    sign: async (request) => {
      if (options.failSigning) throw new Error('TPM gone');
      signed.push({ audience: request.audience, ...(request.nonce ? { nonce: request.nonce } : {}) });
      return sign(request.audience, now, request.nonce, request.report);
    },
    freshSigns: createTokenBuckets({ burst: options.freshSignBurst ?? 100, refillMs: 2_000, now: () => now }),
    maxAudiences: options.maxAudiences ?? 16,
    minRemainingMs: 15_000,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
  return {
    signing,
    signed,
    sleeps,
    setHeld: (h: HeldAttestation | undefined) => (held = h),
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

describe('local signing (what the daemon hands its local clients)', () => {
  it('hands out the held attestation for its own audience, with a proof bound to the method and URL', async () => {
    const d = await desk();
    const url = 'https://verifier.example/payroll/2026?q=1#x';
    const { headers, attestation } = await d.signing.headers({ method: 'put', url }, 'uid:1000');
    expect(attestation.claims.aud).toBe(OWN);
    expect(headers['Posture-Attestation']).toBe(attestation.token);
    const proof = claimsOf(headers['Posture-Proof']);
    expect(proof).toMatchObject({ htm: 'PUT', htu: htuOf(url) });
    expect(d.signed).toEqual([]); // no device-key signature for the daemon's own audience
  });

  it('answers no_attestation when it holds none, and when the held one is about to expire', async () => {
    const d = await desk();
    d.setHeld(undefined);
    expect(await codeOf(d.signing.attestation({}, 'uid:0'))).toBe('no_attestation');
    expect(await codeOf(d.signing.headers({ method: 'GET', url: `${OWN}/x` }, 'uid:0'))).toBe(
      'no_attestation',
    );
    d.setHeld({ attestation: await sign(OWN, T0), report: report(undefined, T0) });
    d.advance(600_000 - 5_000 - 14_000); // 14 s left: under the 15 s floor
    expect(await codeOf(d.signing.attestation({}, 'uid:0'))).toBe('no_attestation');
    expect(await codeOf(d.signing.attestation({ audience: OTHER }, 'uid:0'))).toBe('no_attestation');
  });

  it('signs another audience from the held report once, and again only when the held attestation changes', async () => {
    const d = await desk();
    const first = await d.signing.attestation({ audience: OTHER }, 'uid:1000');
    const second = await d.signing.attestation({ audience: OTHER }, 'uid:1001');
    expect(first.claims.aud).toBe(OTHER);
    expect(second.token).toBe(first.token);
    expect(first.claims.posture).toEqual((await sign(OWN, T0)).claims.posture);
    expect(d.signed).toHaveLength(1);
    // Signed in a later second than the held one (the verifier supersedes same-second siblings).
    expect(first.claims.iat).toBeGreaterThan(T0 / 1000);

    d.advance(3_000);
    d.setHeld({ attestation: await sign(OWN, d.now()), report: report(undefined, d.now()) });
    const third = await d.signing.attestation({ audience: OTHER }, 'uid:1000');
    expect(third.token).not.toBe(first.token);
    expect(d.signed).toHaveLength(2);
  });

  it('waits for the next second before signing alongside a held attestation of this second', async () => {
    const d = await desk();
    d.setHeld({ attestation: await sign(OWN, d.now()), report: report(undefined, d.now()) });
    const issued = await d.signing.attestation({ audience: OTHER }, 'uid:0');
    expect(d.sleeps).toHaveLength(1);
    expect(issued.claims.iat).toBeGreaterThan(Math.floor((T0 + 5_000) / 1000));
  });

  it('keeps at most maxAudiences other audiences, dropping the oldest', async () => {
    const d = await desk({ maxAudiences: 2 });
    for (const a of ['https://a.example', 'https://b.example', 'https://c.example'])
      await d.signing.attestation({ audience: a }, 'uid:0');
    await d.signing.attestation({ audience: 'https://c.example' }, 'uid:0');
    await d.signing.attestation({ audience: 'https://a.example' }, 'uid:0');
    expect(d.signed.map((s) => s.audience)).toEqual([
      'https://a.example',
      'https://b.example',
      'https://c.example',
      'https://a.example',
    ]);
  });

  it('signs a nonce fresh every time, never cached', async () => {
    const d = await desk();
    const a = await d.signing.attestation({ nonce: 'n-1' }, 'uid:0');
    const b = await d.signing.attestation({ nonce: 'n-1' }, 'uid:0');
    expect(a.claims.eat_nonce).toBe('n-1');
    expect(b.token).not.toBe(a.token);
    expect(d.signed).toHaveLength(2);
  });

  it('rate-limits fresh signatures per user; the held attestation is still served', async () => {
    const d = await desk({ freshSignBurst: 2 });
    await d.signing.attestation({ audience: 'https://a.example' }, 'uid:1000');
    await d.signing.attestation({ audience: 'https://b.example' }, 'uid:1000');
    expect(await codeOf(d.signing.attestation({ audience: 'https://c.example' }, 'uid:1000'))).toBe(
      'rate_limited',
    );
    expect(await codeOf(d.signing.attestation({ nonce: 'n' }, 'uid:1000'))).toBe('rate_limited');
    expect(await codeOf(d.signing.attestation({ audience: 'https://c.example' }, 'uid:1001'))).toBe(
      'resolved',
    );
    expect(await codeOf(d.signing.attestation({}, 'uid:1000'))).toBe('resolved');
  });

  it('a key that cannot sign another audience is no_attestation, and nothing is cached', async () => {
    const d = await desk({ failSigning: true });
    expect(await codeOf(d.signing.attestation({ audience: OTHER }, 'uid:0'))).toBe('no_attestation');
    expect(await codeOf(d.signing.attestation({ audience: OTHER }, 'uid:0'))).toBe('no_attestation');
  });
});

describe('daemon handlers for attestation and headers', () => {
  function status(partial: Partial<DaemonStatus>): DaemonStatus {
    return {
      state: 'running',
      startedAt: new Date(T0).toISOString(),
      agentVersion: '0.1.0',
      posture: null,
      lastRecheck: null,
      attestation: null,
      enrollment: { enrolled: false },
      problems: [],
      ...partial,
    };
  }

  function control(held: HeldAttestation | undefined, s: DaemonStatus): DaemonControl {
    return {
      currentStatus: () => s,
      currentAgent: () =>
        ({ attest: (r: { audience: string }) => sign(r.audience, Date.now()) }) as unknown as Agent,
      trigger: () => ({ coalesced: false, checks: [] }),
      reload: async () => ({ reloadedAt: '', changed: [] }),
      identityChanged: async () => undefined,
      heldAttestation: () => held,
      actionEnded: () => undefined,
    };
  }

  const who = { caller: { uid: 1000, administrator: false }, userKey: 'uid:1000' };

  it('answers the attestation with its audience, times and claims', async () => {
    const now = Date.now();
    const held = { attestation: await sign(OWN, now), report: report(undefined, now) };
    const handlers = daemonHandlers(control(held, status({})));
    const answer = await handlers.attestation({ apiVersion: 1 }, who);
    expect(answer).toMatchObject({ token: held.attestation.token, audience: OWN, claims: { aud: OWN } });
    expect(Date.parse(answer.expiresAt)).toBe(held.attestation.expiresAt);
    const headers = await handlers.headers({ apiVersion: 1, method: 'GET', url: `${OWN}/a` }, who);
    expect(headers.headers['Posture-Attestation']).toBe(held.attestation.token);
    expect(headers.audience).toBe(OWN);
  });

  it('says why there is none: starting, or the status problem that explains it', async () => {
    expect(whyNoAttestation(status({ state: 'starting' }))).toMatch(/starting/);
    const s = status({
      state: 'degraded',
      problems: [
        { code: 'no_audience', message: 'no audience configured', since: new Date(T0).toISOString() },
      ],
    });
    expect(whyNoAttestation(s)).toContain('[no_audience]');
    const handlers = daemonHandlers(control(undefined, s));
    expect(await codeOf(handlers.headers({ apiVersion: 1, method: 'GET', url: `${OWN}/a` }, who))).toBe(
      'no_attestation',
    );
  });
});

describe('what the local API accepts to sign for', () => {
  it.each(['https://app.example.com/x?y=1', 'http://127.0.0.1:8080/', 'https://[::1]/a'])(
    'accepts %s',
    (url) => {
      expect(isSignableUrl(url)).toBe(true);
      expect(headersRequestSchema.safeParse({ apiVersion: 1, method: 'GET', url }).success).toBe(true);
    },
  );

  it.each([
    ['relative', '/payroll'],
    ['no scheme', 'app.example.com/x'],
    ['another scheme', 'ftp://app.example.com/x'],
    ['javascript', 'javascript:alert(1)'],
    ['credentials', 'https://user:pw@app.example.com/x'],
    ['a user name', 'https://user@app.example.com/x'],
    ['a newline', 'https://app.example.com/x\r\nX-Evil: 1'],
    ['a NUL', 'https://app.example.com/x\u0000'],
    ['a tab', 'https://app.example.com/\tx'],
    ['a space', 'https://app.example.com/a b'],
    ['a C1 control', 'https://app.example.com/\u0085'],
    ['too long', `https://app.example.com/${'a'.repeat(8200)}`],
    ['empty', ''],
  ])('refuses a URL with %s', (_what, url) => {
    expect(isSignableUrl(url)).toBe(false);
    expect(headersRequestSchema.safeParse({ apiVersion: 1, method: 'GET', url }).success).toBe(false);
  });

  it.each([
    [{ apiVersion: 1, method: 'GE T', url: OWN }],
    [{ apiVersion: 1, method: '', url: OWN }],
    [{ apiVersion: 1, method: 'A'.repeat(17), url: OWN }],
    [{ apiVersion: 1, method: 'GET', url: OWN, extra: true }],
    [{ apiVersion: 1, method: 'GET' }],
    [{ apiVersion: 1, method: 'GET', url: OWN, audience: 'not a url' }],
    [{ apiVersion: 1, method: 'GET', url: OWN, audience: `https://a.example/${'a'.repeat(2100)}` }],
    [{ apiVersion: 1, method: 7, url: OWN }],
  ])('refuses the headers request %j', (body) => {
    expect(headersRequestSchema.safeParse(body).success).toBe(false);
  });

  it.each([
    [{ apiVersion: 1, nonce: 'a b' }],
    [{ apiVersion: 1, nonce: '' }],
    [{ apiVersion: 1, nonce: 'n'.repeat(513) }],
    [{ apiVersion: 1, audience: 'ftp://x.example' }],
    [{ apiVersion: 1, token: 'x' }],
  ])('refuses the attestation request %j', (body) => {
    expect(attestationRequestSchema.safeParse(body).success).toBe(false);
  });
});
