/**
 * The TPM store against a real TPM 2.0 (swtpm) through tpm2-tools.
 */
import { execFileSync } from 'node:child_process';
import { keyErrorCode, verifiesEs256 } from '../helpers/assert.js';
import { HANDLE_BASE, tpmStore } from '../../src/keys/tpm.js';
import type { Swtpm } from '../fakes/swtpm.js';
import { startSwtpm, swtpmAvailable } from '../fakes/swtpm.js';
import { describeWith } from '../helpers/real-part.js';

const describeReal = describeWith('swtpm and tpm2-tools', swtpmAvailable());

describeReal('TPM store on swtpm', () => {
  let tpm: Swtpm;
  beforeAll(async () => {
    tpm = await startSwtpm();
  });
  afterAll(async () => {
    await tpm.stop();
  });

  it('creates a non-exportable P-256 key at a persistent handle; its DER signatures become valid ES256', async () => {
    const store = tpmStore({ tcti: tpm.tcti });
    const handle = await store.freeHandle();
    expect(handle).toBe(`0x${HANDLE_BASE.toString(16)}`);
    const key = await store.create(handle);
    expect(key.protection).toBe('tpm');
    expect(key.ref).toBe(handle);
    for (let i = 0; i < 5; i++) {
      const data = new TextEncoder().encode(`attestation ${i}`);
      const signature = await key.sign(data);
      expect(signature).toHaveLength(64);
      expect(verifiesEs256(key.publicJwk, data, signature)).toBe(true);
    }
    const pub = execFileSync('/usr/bin/tpm2_readpublic', ['-T', tpm.tcti, '-c', handle], {
      encoding: 'utf8',
    });
    expect(pub).toMatch(/fixedtpm/);
    expect(pub).toMatch(/fixedparent/);
    expect(pub).toMatch(/sensitivedataorigin/);
  });

  it('keeps the key across a TPM restart', async () => {
    const store = tpmStore({ tcti: tpm.tcti });
    const handle = await store.freeHandle();
    const key = await store.create(handle);
    await tpm.restart();
    const reopened = await tpmStore({ tcti: tpm.tcti }).open(handle, key.createdAt);
    expect(reopened.kid).toBe(key.kid);
    const data = new TextEncoder().encode('after restart');
    expect(verifiesEs256(key.publicJwk, data, await reopened.sign(data))).toBe(true);
  });

  it('refuses to overwrite a used handle, and removes a key', async () => {
    const store = tpmStore({ tcti: tpm.tcti });
    const handle = await store.freeHandle();
    const key = await store.create(handle);
    expect(await keyErrorCode(store.create(handle))).toBe('ERR_ROTATION_FAILED');
    await store.remove(handle);
    expect(await keyErrorCode(store.open(handle, key.createdAt))).toBe('ERR_KEY_NOT_FOUND');
  });

  it('an unreachable TPM is ERR_TPM_UNAVAILABLE', async () => {
    const store = tpmStore({ tcti: 'swtpm:host=127.0.0.1,port=1', timeoutMs: 10_000 });
    expect(await keyErrorCode(store.open('0x81000100', ''))).toBe('ERR_TPM_UNAVAILABLE');
  });
});
