/**
 * A real TPM 2.0 for tests: swtpm (libtpms) on loopback TCP ports, reached by tpm2-tools through
 * the swtpm TCTI. State lives in a temporary folder, so "restarting" it keeps persistent keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortPair, waitForPort } from './ports.js';

export interface Swtpm {
  tcti: string;
  stateDir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function swtpmAvailable(): boolean {
  return existsSync('/usr/bin/swtpm') && existsSync('/usr/bin/tpm2_createprimary');
}

export async function startSwtpm(): Promise<Swtpm> {
  const stateDir = mkdtempSync(join(tmpdir(), 'posture-swtpm-'));
  const port = await freePortPair();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
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
    await waitForPort(port, 'swtpm');
  };
  const stop = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    tcti: `swtpm:host=127.0.0.1,port=${port}`,
    stateDir,
    restart: async () => {
      await stop();
      await start();
    },
    stop,
  };
}
