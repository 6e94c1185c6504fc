// Attestation, proof and verification benchmarks (part of `npm run bench`). Bounded counts; loopback only.
// Key stores run for real: the keychain through the Secret Service of the session that `npm run bench`
// starts (dbus-run-session + gnome-keyring), the TPM through swtpm started here.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, verify, webcrypto } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAttestation } from '../dist/attest/attestation.js';
import { benchReport } from './fixtures.js';
import { keychainStore } from '../dist/keys/keychain.js';
import { tpmStore } from '../dist/keys/tpm.js';
import { DEFAULT_POLICY, validatePolicy } from '../dist/shared/policy.js';
import { AttestationCache, MemoryReplayStore, verifyRequest } from '../dist/verifier/index.js';
import { quantile, row } from './lib.js';

const q = (samples, p) =>
  quantile(
    [...samples].sort((a, b) => a - b),
    p,
  );

const report = benchReport();

async function signBench(name, key, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await createAttestation({ report, key, audience: 'https://app.example.com' });
    samples.push(performance.now() - t);
  }
  row(
    `attestation build + sign, ${name} (${n} runs)`,
    `p50 ${q(samples, 0.5).toFixed(2)} ms`,
    `p99 ${q(samples, 0.99).toFixed(2)} ms`,
  );
  return key;
}

console.log(`Attestation and verification: node ${process.version}, ${process.platform} ${process.arch}`);
console.log(`${'what'.padEnd(52)} ${'value'.padEnd(14)} note`);

// Keychain.
let keychainKey;
try {
  keychainKey = await keychainStore().create(`bench-${Date.now()}`);
  await signBench('keychain', keychainKey, 300);
  await keychainStore().remove(keychainKey.ref);
} catch (e) {
  row(
    'attestation build + sign, keychain',
    'not measured',
    `${e.code ?? e.message} (run through npm run bench, which starts a Secret Service)`,
  );
}

// TPM (swtpm on loopback).
const port = 30000 + Math.floor(Math.random() * 10000) * 2;
const stateDir = mkdtempSync(join(tmpdir(), 'bench-swtpm-'));
const swtpm = spawn(
  '/usr/bin/swtpm',
  [
    'socket',
    '--tpm2',
    '--tpmstate',
    `dir=${stateDir}`,
    '--server',
    `type=tcp,port=${port},bindaddr=127.0.0.1`,
    '--ctrl',
    `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
    '--flags',
    'not-need-init,startup-clear',
  ],
  { stdio: 'ignore' },
);
swtpm.on('error', () => undefined);
const up = async () => {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};
try {
  if (!(await up())) throw new Error('swtpm did not start');
  const store = tpmStore({ tcti: `swtpm:host=127.0.0.1,port=${port}` });
  await signBench('tpm (swtpm)', await store.create(await store.freeHandle()), 50);
} catch (e) {
  row('attestation build + sign, tpm', 'not measured', e.code ?? e.message);
} finally {
  swtpm.kill();
}

// Proof creation per request.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = privateKey.export({ format: 'jwk' });
const { softwareKey } = await import('../dist/keys/software-key.js');
const key = await softwareKey(
  { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d },
  'keychain',
  'bench',
  new Date().toISOString(),
);
const attestation = await createAttestation({ report, key, audience: 'https://app.example.com' });
const URL_ = 'https://app.example.com/api/items';
for (let i = 0; i < 500; i++) attestation.session.proof('GET', URL_, attestation.token); // warm up
const proofSamples = [];
for (let i = 0; i < 5000; i++) {
  const t = performance.now();
  attestation.session.proof('GET', URL_, attestation.token);
  proofSamples.push(performance.now() - t);
}
row(
  'proof creation per request (5000)',
  `p50 ${(q(proofSamples, 0.5) * 1000).toFixed(0)} µs`,
  `p99 ${(q(proofSamples, 0.99) * 1000).toFixed(0)} µs (goal p99 < 200 µs)`,
);

// Raw ECDSA P-256 verify rates, the baselines.
const N = 4000;
const data = Buffer.from('x'.repeat(400));
const { privateKey: bk, publicKey: bp } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sig = sign('sha256', data, { key: bk, dsaEncoding: 'ieee-p1363' });
let t = performance.now();
for (let i = 0; i < N; i++) verify('sha256', data, { key: bp, dsaEncoding: 'ieee-p1363' }, sig);
const nodeRate = N / ((performance.now() - t) / 1000);
const ck = await webcrypto.subtle.importKey(
  'jwk',
  bp.export({ format: 'jwk' }),
  { name: 'ECDSA', namedCurve: 'P-256' },
  false,
  ['verify'],
);
t = performance.now();
for (let i = 0; i < N; i++) await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ck, sig, data);
const webRate = N / ((performance.now() - t) / 1000);
row('raw P-256 verify, node:crypto (sync)', `${nodeRate.toFixed(0)}/s`);
row('raw P-256 verify, WebCrypto (what the library uses)', `${webRate.toFixed(0)}/s`);

// verifyRequest, warm attestation cache, one core (this process).
const record = {
  deviceId: key.kid,
  kid: key.kid,
  jwk: key.publicJwk,
  status: 'active',
  keyProtection: 'keychain',
};
const options = {
  audience: 'https://app.example.com',
  lookupDevice: async (kid) => (kid === key.kid ? record : undefined),
  policy: validatePolicy({ ...DEFAULT_POLICY, revision: 'bench' }),
  replayStore: new MemoryReplayStore(100_000),
  cache: new AttestationCache(),
};
const proofs = Array.from({ length: N + 1000 }, () =>
  attestation.session.proof('GET', URL_, attestation.token),
);
for (let i = 0; i < 1000; i++)
  await verifyRequest(
    {
      method: 'GET',
      url: URL_,
      headers: { 'posture-attestation': attestation.token, 'posture-proof': proofs[i] },
    },
    options,
  );
t = performance.now();
let allowed = 0;
for (let i = 1000; i < N + 1000; i++) {
  const d = await verifyRequest(
    {
      method: 'GET',
      url: URL_,
      headers: { 'posture-attestation': attestation.token, 'posture-proof': proofs[i] },
    },
    options,
  );
  if (d.allowed) allowed++;
}
const verifyRate = N / ((performance.now() - t) / 1000);
if (allowed !== N) throw new Error(`only ${allowed} of ${N} benchmark requests were allowed`);
row(
  'verifyRequest, warm cache, one core',
  `${verifyRate.toFixed(0)}/s`,
  `${(verifyRate / webRate).toFixed(2)}× WebCrypto verify, ${(verifyRate / nodeRate).toFixed(2)}× node:crypto verify (goal ≥ 0.8)`,
);
