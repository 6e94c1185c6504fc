/**
 * Where "auto" puts the device key for the system service (`posture daemon`), per OS, with the
 * machine's answers injected (which paths exist, what a native helper answers), so each OS's choice
 * is tested here. The helpers' answers are written from native-probes/PROTOCOL.md (no Windows or Mac
 * here); the TPM and file cases run for real in test/agent/daemon/service-key.real.test.ts.
 */
import { constants, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import type { CommandOutcome, CommandRequest } from '../../src/host/host.js';
import { deviceKeyHome, loadDeviceKey, readKeyState } from '../../src/keys/manager.js';
import type { KeyConfig, KeySystem } from '../../src/keys/select.js';
import { keyManagerDeps } from '../../src/keys/select.js';
import { keyErrorCode } from '../helpers/assert.js';

const INSTALL = '/opt/posture-agent';
const HELPER = join(INSTALL, 'native-probes', 'darwin', 'posture-keyhelper');

function config(overrides: Partial<KeyConfig> = {}): KeyConfig {
  return {
    stateDir: mkdtempSync(join(tmpdir(), `posture-svckey-${process.pid}-`)),
    keyStore: 'auto',
    tpmTcti: 'device:/dev/tpmrm0',
    platform: 'linux',
    systemRoot: 'C:\\Windows',
    service: true,
    ...overrides,
  };
}

/** Paths that exist, each with the access it grants (F_OK always). */
function machine(paths: Record<string, number>, exec: KeySystem['exec'] = neverRun): KeySystem {
  return {
    exists: async (path, mode = constants.F_OK) => path in paths && ((paths[path] ?? 0) & mode) === mode,
    exec,
  };
}

const RW = constants.R_OK | constants.W_OK;
const X = constants.X_OK;
const TOOLS = { '/usr/bin/tpm2_sign': X };

async function neverRun(req: CommandRequest): Promise<CommandOutcome> {
  throw new Error(`no command should run here: ${req.command}`);
}

/**
 * Answers like a key helper holding one real P-256 key per ref: `unsupported` for the providers
 * listed in `missing`, signatures over the digest (CNG) or the message (CryptoKit, --blob).
 */
function helperExec(missing: string[] = []) {
  const calls: string[][] = [];
  const keys = new Map<string, Uint8Array>();
  const answer = (body: object): CommandOutcome => ({
    ok: true,
    exitCode: 0,
    signal: null,
    stderr: '',
    stdout: JSON.stringify({ protocol: 'posture-native/1', probe: 'device_key', ...body }),
  });
  const exec = async (req: CommandRequest): Promise<CommandOutcome> => {
    calls.push([...req.args]);
    const a = req.args;
    const blob = a[1] === '--blob';
    const op = blob ? a[0] : a[a.indexOf('-Op') + 1];
    const ref = blob ? a[2] : a[a.indexOf('-Name') + 1];
    const provider = blob ? 'SecureEnclave' : a[a.indexOf('-Provider') + 1];
    if (op === 'create' && missing.includes(provider ?? ''))
      return answer({ ok: false, error: { code: 'unsupported', message: `no ${provider}` } });
    if (op === 'create') keys.set(`${provider}:${ref}`, p256.utils.randomSecretKey());
    const secret = keys.get(`${provider}:${ref}`);
    if (!secret) return answer({ ok: false, error: { code: 'failed', message: 'no such key' } });
    const point = p256.getPublicKey(secret, false);
    const xy = {
      x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(point.subarray(33)).toString('base64url'),
    };
    if (op === 'create') return answer({ ok: true, data: { ...xy, ref } });
    if (op === 'public') return answer({ ok: true, data: xy });
    const signature = blob
      ? p256.sign(Buffer.from(a[a.indexOf('--message') + 1] ?? '', 'base64url'), secret, {
          format: 'compact',
        })
      : p256.sign(Buffer.from(a[a.indexOf('-Digest') + 1] ?? '', 'base64url'), secret, {
          prehash: false,
          format: 'compact',
        });
    return answer({
      ok: true,
      data: { signature: Buffer.from(signature).toString('base64url'), format: 'p1363' },
    });
  };
  return { exec, calls };
}

const validEs256 = (jwk: object, data: Uint8Array, signature: Uint8Array) =>
  cryptoVerify(
    'sha256',
    data,
    { key: createPublicKey({ key: { ...jwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    signature,
  );

describe('the system service’s device key on Linux', () => {
  it.each([
    ['no /dev/tpmrm0', { ...TOOLS }],
    ['/dev/tpmrm0 not accessible', { '/dev/tpmrm0': 0, ...TOOLS }],
    ['no tpm2-tools', { '/dev/tpmrm0': RW }],
  ])('%s → ERR_NO_SERVICE_KEY_STORE at the choice, no keychain, nothing written', async (_what, paths) => {
    const c = config();
    const deps = keyManagerDeps(c, INSTALL, machine(paths));
    expect(await keyErrorCode(deps.chooseStore())).toBe('ERR_NO_SERVICE_KEY_STORE');
    expect(await keyErrorCode(deviceKeyHome(deps))).toBe('ERR_NO_SERVICE_KEY_STORE');
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_NO_SERVICE_KEY_STORE');
    expect(readdirSync(c.stateDir)).toEqual([]);
  });

  it('a TPM (/dev/tpmrm0 and tpm2-tools) → the TPM store', async () => {
    const deps = keyManagerDeps(config(), INSTALL, machine({ '/dev/tpmrm0': RW, ...TOOLS }));
    expect((await deps.chooseStore()).kind).toBe('tpm');
    expect(await deviceKeyHome(deps)).toEqual({ protection: 'tpm', recorded: false });
  });

  it('a configured TCTI counts as a TPM (the device node is not asked)', async () => {
    const c = config({ tpmTcti: 'swtpm:host=127.0.0.1,port=2321' });
    const deps = keyManagerDeps(c, INSTALL, machine({ ...TOOLS }));
    expect((await deps.chooseStore()).kind).toBe('tpm');
  });

  it('keyStore "file" with keyFile is used as configured (reported "file"); without keyFile it is refused', async () => {
    const c = config({ keyStore: 'file' });
    const withFile = keyManagerDeps({ ...c, keyFile: join(c.stateDir, 'k.json') }, INSTALL, machine({}));
    expect((await withFile.chooseStore()).kind).toBe('file');
    expect(await keyErrorCode(keyManagerDeps(c, INSTALL, machine({})).chooseStore())).toBe(
      'ERR_FILE_KEY_NOT_ALLOWED',
    );
  });

  it('the interactive CLI (not the service) keeps today’s choice: no TPM → the keychain', async () => {
    const deps = keyManagerDeps(config({ service: false }), INSTALL, machine({ ...TOOLS }));
    expect((await deps.chooseStore()).kind).toBe('keychain');
  });
});

describe('the system service’s device key on macOS (helper contract; no Mac here)', () => {
  it('a Secure Enclave key through CryptoKit, its wrapped form in a file in the state folder; signs the message', async () => {
    const { exec, calls } = helperExec();
    const c = config({ platform: 'darwin' });
    const deps = keyManagerDeps(c, INSTALL, machine({ [HELPER]: X }, exec));
    const key = await loadDeviceKey(deps);
    expect(key.protection).toBe('secure_enclave');
    expect(isAbsolute(key.ref)).toBe(true);
    expect(key.ref.startsWith(`${c.stateDir}/device-key-`)).toBe(true);
    expect(calls[0]).toEqual(['create', '--blob', key.ref]);
    const data = new TextEncoder().encode('header.payload');
    expect(validEs256(key.publicJwk, data, await key.sign(data))).toBe(true);
    expect(calls.at(-1)).toEqual([
      'sign',
      '--blob',
      key.ref,
      '--message',
      Buffer.from(data).toString('base64url'),
    ]);
    expect((await readKeyState(deps.statePath))?.active).toMatchObject({
      store: 'secure_enclave',
      ref: key.ref,
    });
    // opened again from the state by the blob path
    expect((await loadDeviceKey(deps)).kid).toBe(key.kid);
    expect(calls.at(-1)).toEqual(['public', '--blob', key.ref]);
  });

  it('no helper installed, or no Secure Enclave → ERR_NO_SERVICE_KEY_STORE, never the keychain, no state', async () => {
    const c = config({ platform: 'darwin' });
    expect(await keyErrorCode(keyManagerDeps(c, INSTALL, machine({})).chooseStore())).toBe(
      'ERR_NO_SERVICE_KEY_STORE',
    );
    const { exec } = helperExec(['SecureEnclave']);
    const deps = keyManagerDeps(c, INSTALL, machine({ [HELPER]: X }, exec));
    expect(await keyErrorCode(loadDeviceKey(deps))).toBe('ERR_NO_SERVICE_KEY_STORE');
    expect(existsSync(deps.statePath)).toBe(false);
  });

  it('a user’s agent keeps the keychain-held Secure Enclave key by name, signing the digest', async () => {
    const { exec, calls } = helperExec();
    const deps = keyManagerDeps(
      config({ platform: 'darwin', service: false }),
      INSTALL,
      machine({ [HELPER]: X }, exec),
    );
    const key = await loadDeviceKey(deps);
    expect(isAbsolute(key.ref)).toBe(false);
    expect(calls[0]).toEqual(['create', key.ref]);
  });
});

describe('the system service’s device key on Windows (helper contract; no Windows here)', () => {
  const args = (call: string[] | undefined) => call?.slice(call.indexOf('-Op')) ?? [];

  it('a TPM → a Platform Crypto Provider machine key, reported "tpm"', async () => {
    const { exec, calls } = helperExec();
    const deps = keyManagerDeps(config({ platform: 'win32' }), INSTALL, machine({}, exec));
    const key = await loadDeviceKey(deps);
    expect(key.protection).toBe('tpm');
    expect(args(calls[0])).toEqual(['-Op', 'create', '-Name', key.ref, '-Provider', 'Platform', '-Machine']);
    const data = new TextEncoder().encode('x.y');
    expect(validEs256(key.publicJwk, data, await key.sign(data))).toBe(true);
  });

  it('no TPM → a Software KSP machine key, reported "os_keystore" (never "tpm"), and opened there again', async () => {
    const { exec, calls } = helperExec(['Platform']);
    const deps = keyManagerDeps(config({ platform: 'win32' }), INSTALL, machine({}, exec));
    const key = await loadDeviceKey(deps);
    expect(key.protection).toBe('os_keystore');
    expect(args(calls[1])).toEqual(['-Op', 'create', '-Name', key.ref, '-Provider', 'Software', '-Machine']);
    expect((await readKeyState(deps.statePath))?.active.store).toBe('os_keystore');
    expect((await loadDeviceKey(deps)).protection).toBe('os_keystore');
    expect(args(calls.at(-1))).toEqual([
      '-Op',
      'public',
      '-Name',
      key.ref,
      '-Provider',
      'Software',
      '-Machine',
    ]);
  });

  it('a user’s agent: a TPM key of the user (no -Machine), else the keychain as before', async () => {
    const { exec, calls } = helperExec();
    const deps = keyManagerDeps(config({ platform: 'win32', service: false }), INSTALL, machine({}, exec));
    await loadDeviceKey(deps);
    expect(calls[0]).not.toContain('-Machine');
  });
});

describe('elsewhere', () => {
  it('an OS with no supported store for a service → ERR_NO_SERVICE_KEY_STORE', async () => {
    const deps = keyManagerDeps(config({ platform: 'freebsd' }), INSTALL, machine({}));
    expect(await keyErrorCode(deps.chooseStore())).toBe('ERR_NO_SERVICE_KEY_STORE');
  });
});
