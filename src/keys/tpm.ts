/**
 * tpm (Linux): a non-exportable P-256 key made inside the TPM (fixedTPM, fixedParent,
 * sensitiveDataOrigin) and made persistent at an owner handle, so it survives restarts. Driven
 * through tpm2-tools (5.x) by absolute path; the TCTI selects the TPM: `device:/dev/tpmrm0` (the
 * kernel's resource manager; the user needs the `tss` group) in production, `swtpm:host=…,port=…`
 * in tests. The TPM returns ECDSA signatures in DER; they are converted to JOSE r‖s.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PublicJwk } from '../shared/claims.js';
import { execCommand } from '../host/exec.js';
import type { CommandOutcome } from '../host/host.js';
import { derToJose } from './der.js';
import { KeyError } from './errors.js';
import { thumbprint } from './software-key.js';
import type { DeviceKey, KeyStore } from './types.js';

export interface TpmOptions {
  /** TCTI configuration, e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". */
  tcti: string;
  /** Directory of the tpm2-tools binaries. */
  toolsDir?: string;
  timeoutMs?: number;
}

export const DEFAULT_TCTI = 'device:/dev/tpmrm0';
/** Persistent handles the agent uses, in the owner range; the first free one is taken. */
export const HANDLE_BASE = 0x81000100;
const HANDLE_COUNT = 16;

const ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign';

export function tpmStore(options: TpmOptions): KeyStore & { freeHandle(): Promise<string> } {
  const tools = options.toolsDir ?? '/usr/bin';
  const run = async (tool: string, args: string[]): Promise<Extract<CommandOutcome, { ok: true }>> => {
    const outcome = await execCommand({
      command: `${tools}/${tool}`,
      args: ['-T', options.tcti, ...args],
      timeoutMs: options.timeoutMs ?? 20_000,
    });
    if (!outcome.ok) {
      if (outcome.error === 'command_missing') {
        throw new KeyError(
          'ERR_TPM_UNAVAILABLE',
          `${tool} is not installed. Install tpm2-tools (Debian/Ubuntu: \`apt install tpm2-tools\`) or use the keychain store.`,
        );
      }
      throw new KeyError('ERR_TPM_FAILED', `${tool} failed: ${outcome.detail}`);
    }
    if (outcome.exitCode !== 0) throw tpmError(tool, outcome.stderr);
    return outcome;
  };
  const flush = () => run('tpm2_flushcontext', ['-t']).catch(() => undefined);

  const publicOf = async (handle: string): Promise<PublicJwk> => {
    const dir = await mkdtemp(join(tmpdir(), 'posture-tpm-'));
    try {
      await run('tpm2_readpublic', ['-c', handle, '-f', 'pem', '-o', join(dir, 'pub.pem'), '-Q']);
      const jwk = createPublicKey(await readFile(join(dir, 'pub.pem'), 'utf8')).export({ format: 'jwk' });
      if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y)
        throw new KeyError(
          'ERR_KEY_CORRUPT',
          `the TPM object at ${handle} is not a P-256 key; it was not made by this agent. Configure another handle.`,
        );
      return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const keyAt = async (handle: string, createdAt: string): Promise<DeviceKey> => {
    const publicJwk = await publicOf(handle);
    return {
      kid: await thumbprint(publicJwk),
      publicJwk,
      protection: 'tpm',
      createdAt,
      ref: handle,
      async sign(data) {
        const dir = await mkdtemp(join(tmpdir(), 'posture-tpm-'));
        try {
          await writeFile(join(dir, 'msg'), data, { mode: 0o600 });
          await run('tpm2_sign', [
            '-c',
            handle,
            '-g',
            'sha256',
            '-s',
            'ecdsa',
            '-f',
            'plain',
            '-o',
            join(dir, 'sig'),
            join(dir, 'msg'),
          ]);
          return derToJose(new Uint8Array(await readFile(join(dir, 'sig'))));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  };

  const persistentHandles = async (): Promise<Set<string>> => {
    const out = await run('tpm2_getcap', ['handles-persistent']);
    return new Set([...out.stdout.matchAll(/0x[0-9a-f]{8}/gi)].map((m) => m[0].toLowerCase()));
  };

  return {
    kind: 'tpm',
    async freeHandle() {
      const used = await persistentHandles();
      for (let i = 0; i < HANDLE_COUNT; i++) {
        const handle = `0x${(HANDLE_BASE + i).toString(16)}`;
        if (!used.has(handle)) return handle;
      }
      throw new KeyError(
        'ERR_TPM_FAILED',
        `all ${HANDLE_COUNT} persistent handles from 0x${HANDLE_BASE.toString(16)} are in use; remove stale ones with tpm2_evictcontrol.`,
      );
    },
    async create(handle) {
      if ((await persistentHandles()).has(handle.toLowerCase())) {
        throw new KeyError(
          'ERR_ROTATION_FAILED',
          `TPM handle ${handle} is already in use; refusing to overwrite it.`,
        );
      }
      const dir = await mkdtemp(join(tmpdir(), 'posture-tpm-'));
      const file = (name: string) => join(dir, name);
      try {
        await run('tpm2_createprimary', [
          '-C',
          'o',
          '-g',
          'sha256',
          '-G',
          'ecc256',
          '-c',
          file('primary.ctx'),
          '-Q',
        ]);
        await flush();
        await run('tpm2_create', [
          '-C',
          file('primary.ctx'),
          '-G',
          'ecc256:ecdsa-sha256',
          '-a',
          ATTRIBUTES,
          '-u',
          file('key.pub'),
          '-r',
          file('key.priv'),
          '-Q',
        ]);
        await flush();
        await run('tpm2_load', [
          '-C',
          file('primary.ctx'),
          '-u',
          file('key.pub'),
          '-r',
          file('key.priv'),
          '-c',
          file('key.ctx'),
          '-Q',
        ]);
        await run('tpm2_evictcontrol', ['-C', 'o', '-c', file('key.ctx'), handle]);
      } finally {
        await flush();
        await rm(dir, { recursive: true, force: true });
      }
      return keyAt(handle, new Date().toISOString());
    },
    open: keyAt,
    async remove(handle) {
      if (!(await persistentHandles()).has(handle.toLowerCase())) return;
      await run('tpm2_evictcontrol', ['-C', 'o', '-c', handle]);
    },
  };
}

function tpmError(tool: string, stderr: string): KeyError {
  const text = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300);
  if (
    /tcti|connection refused|no such file|failed to initiali[sz]e|Could not open|Permission denied/i.test(
      stderr,
    )
  ) {
    return new KeyError(
      'ERR_TPM_UNAVAILABLE',
      `the TPM cannot be reached (${text}). Check that /dev/tpmrm0 exists and the agent's user is in the "tss" group, or configure key.tpmTcti.`,
    );
  }
  if (/0x18b|0x28b|handle|object does not exist/i.test(stderr) && tool === 'tpm2_readpublic') {
    return new KeyError(
      'ERR_KEY_NOT_FOUND',
      `no key at that TPM handle (${text}). Was the TPM cleared? Run \`posture key rotate --force-new\` and enroll again.`,
    );
  }
  return new KeyError('ERR_TPM_FAILED', `${tool} failed: ${text}`);
}
