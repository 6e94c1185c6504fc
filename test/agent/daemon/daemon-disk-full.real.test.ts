/**
 * A full disk under the whole built daemon: its state folder and key file live on a small real
 * tmpfs, mounted in a private mount namespace (`unshare -m --propagation private`, held by a
 * sleeping process; the daemon, `posture enroll` and the filler enter it with `nsenter -m`), so
 * nothing is mounted on this machine's own tree. Filled to the last byte:
 * - an administrator's key rotation fails with a coded answer, a `problem` log line
 *   (`rotate_failed`, the errno in it) and a status problem; the daemon stays up (one start), keeps
 *   its key, and its attestations are still accepted by the verifier (a patch level that cannot
 *   record a newly pending update is unknown: first-seen-faults.test.ts, as whether this machine
 *   has pending updates is not the test's to choose);
 * - space back: the same rotation works, the problem clears, the verifier follows the new key.
 * A damaged key state file under a running daemon: a coded `attestation_failed`, no attestation
 * made or pushed, the daemon stays up.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertBuilt } from '../../helpers/cli.js';
import { describeWith } from '../../helpers/real-part.js';
import { callApi } from './local-api-client.js';
import { waitFor, type RunningDaemon } from './daemon-process.js';
import { carriesOn, enrolledDevice, verifierBehindTap, type VerifierBehindTap } from './enrolled-daemon.js';
import { executable, isRoot } from './real-parts.js';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const MOUNT = '/usr/bin/mount';

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A process holding a private mount namespace; `enter` runs a command inside it. */
async function privateMounts() {
  const holder: ChildProcess = spawn(
    UNSHARE,
    ['-m', '--propagation', 'private', '--', '/usr/bin/sleep', 'infinity'],
    {
      stdio: 'ignore',
    },
  );
  const pid = holder.pid as number;
  const mine = readlinkSync('/proc/self/ns/mnt');
  await waitFor(
    'the private mount namespace',
    () => {
      try {
        return readlinkSync(`/proc/${pid}/ns/mnt`) !== mine ? true : undefined;
      } catch {
        return undefined;
      }
    },
    10_000,
    20,
  );
  const enter = ['/usr/bin/nsenter', '-t', String(pid), '-m', '--'];
  return {
    enter,
    run: (file: string, args: string[]) => run(NSENTER, ['-t', String(pid), '-m', '--', file, ...args]),
    stop: () => holder.kill('SIGKILL'),
  };
}

const rotate = (socket: string) =>
  callApi(socket, 'POST', '/v1/admin/rotate', JSON.stringify({ apiVersion: 1 }));

describeWith('root, unshare, nsenter and mount', isRoot() && [UNSHARE, NSENTER, MOUNT].every(executable))(
  'posture daemon: a full disk and a damaged state file',
  () => {
    beforeAll(assertBuilt);
    let v: VerifierBehindTap;
    const daemons: RunningDaemon[] = [];
    beforeAll(async () => {
      v = await verifierBehindTap();
    });
    afterAll(async () => {
      for (const d of daemons.splice(0)) await d.kill9();
      await v.close();
    });

    it('a full state disk: coded errors, a status problem, no crash, no pass; recovers when space returns', async () => {
      const ns = await privateMounts();
      const agentDir = (dir: string) => join(dir, 'agent');
      // The state folder and the key file on a 1 MiB tmpfs, mounted inside the private namespace only.
      const device = await enrolledDevice(v, 'disk-full', {
        wrap: ns.enter,
        prepare: async (dir) => {
          mkdirSync(agentDir(dir), { mode: 0o700 });
          const mounted = await ns.run(MOUNT, [
            '-t',
            'tmpfs',
            '-o',
            'size=1m,mode=0700',
            'tmpfs',
            agentDir(dir),
          ]);
          if (mounted.code !== 0) throw new Error(`mount: ${mounted.stderr}`);
          return {
            POSTURE_STATE_DIR: join(agentDir(dir), 'state'),
            POSTURE_KEY_FILE: join(agentDir(dir), 'device-key.json'),
          };
        },
      });
      try {
        const daemon = device.start();
        daemons.push(daemon);
        await carriesOn(device, daemon);
        const kidBefore = (await device.atVerifier()).kid;
        const socket = device.env.POSTURE_SOCKET as string;

        // Fill it: dd stops at ENOSPC.
        const filler = join(agentDir(device.dir), 'filler');
        const filled = await ns.run('/usr/bin/dd', ['if=/dev/zero', `of=${filler}`, 'bs=4096']);
        expect(filled.stderr).toMatch(/No space left on device/);

        const refused = await rotate(socket);
        expect(refused.status).not.toBe(200);
        expect(refused.body.error).toBe('unavailable');
        expect(refused.body.agentCode).toBe('ERR_KEY_WRITE_FAILED');
        // No half-written private key left beside the key file.
        const keyFile = device.env.POSTURE_KEY_FILE as string;
        const listed = await ns.run('/usr/bin/ls', ['-A', dirname(keyFile)]);
        expect(listed.stdout.split('\n').filter((name) => name.includes('.new-'))).toEqual([]);
        const logged = await daemon.waitForLog(
          'the failure logged',
          (l) => l.event === 'problem' && l.code === 'rotate_failed',
        );
        expect(String(logged.error)).toMatch(/ENOSPC/);
        const degraded = await waitFor('rotate_failed in the status', async () => {
          const s = await daemon.status();
          return s?.status.problems.some((p) => p.code === 'rotate_failed') ? s : undefined;
        });
        expect(degraded.status.state).toBe('degraded');
        // A re-check on the full disk runs and publishes (the first-seen record's part is in first-seen-faults.test.ts).
        const recheck = await callApi(socket, 'POST', '/v1/recheck', JSON.stringify({ apiVersion: 1 }));
        expect(recheck.status).toBe(200);
        await waitFor('a re-check on the full disk', async () => {
          const s = await daemon.status();
          return s?.status.lastRecheck?.trigger === 'request' ? s : undefined;
        });
        // Still up, still the same key, still accepted.
        expect((await device.atVerifier()).kid).toBe(kidBefore);
        expect(daemon.child.exitCode).toBeNull();
        expect(daemon.logs.filter((l) => l.event === 'started')).toHaveLength(1);
        expect(daemon.logs.some((l) => l.event === 'push' && l.outcome === 'refused')).toBe(false);

        // Space returns: the same rotation works, the problem clears, the verifier follows.
        expect((await ns.run('/usr/bin/rm', ['-f', filler])).code).toBe(0);
        const rotated = await rotate(socket);
        expect(rotated.status).toBe(200);
        await waitFor('the verifier on the new key', async () =>
          (await device.atVerifier()).kid === rotated.body.keyId ? true : undefined,
        );
        await waitFor('rotate_failed cleared', async () => {
          const s = await daemon.status();
          return s && !s.status.problems.some((p) => p.code === 'rotate_failed') ? s : undefined;
        });
        const from = daemon.logs.length;
        await daemon.waitForLog(
          'an accepted push with the new key',
          (l) => l.event === 'push' && l.outcome === 'accepted',
          from,
        );
      } finally {
        for (const d of daemons.splice(0)) await d.kill9();
        ns.stop();
        device.remove();
      }
    }, 150_000);

    it('a damaged key state file: a coded attestation_failed, nothing pushed, no crash', async () => {
      const device = await enrolledDevice(v, 'damaged-key-state');
      try {
        const daemon = device.start();
        daemons.push(daemon);
        await carriesOn(device, daemon);
        writeFileSync(join(device.env.POSTURE_STATE_DIR as string, 'device-key.json'), '{"version":1,"act');
        const seen = daemon.logs.length;
        // A rotation must read the key state: refused with its code, logged.
        const refused = await rotate(device.env.POSTURE_SOCKET as string);
        expect(refused.status).not.toBe(200);
        await daemon.waitForLog(
          'the failure logged',
          (l) => l.event === 'problem' && l.code === 'rotate_failed',
          seen,
        );
        // The re-check the failed rotation did not reach: signing fails with a code, nothing new is pushed.
        await callApi(
          device.env.POSTURE_SOCKET as string,
          'POST',
          '/v1/recheck',
          JSON.stringify({ apiVersion: 1 }),
        );
        const s = await waitFor('a status with the problem', async () => {
          const st = await daemon.status();
          return st?.status.problems.some((p) => p.code === 'rotate_failed') &&
            st.status.lastRecheck?.trigger === 'request'
            ? st
            : undefined;
        });
        expect(s.status.state).toBe('degraded');
        expect(daemon.logs.slice(seen).some((l) => l.event === 'push' && l.heartbeat === false)).toBe(false);
        expect(daemon.child.exitCode).toBeNull();
        // Restarted on the damaged file: up, coded, nothing signed.
        await daemon.kill9();
        const again = device.start();
        daemons.push(again);
        const failed = await again.waitForLog('attestation_failed', (l) => l.event === 'attestation_failed');
        expect(String(failed.error)).toMatch(/\[ERR_[A-Z_]+\]/);
        const st = await waitFor('attestation_failed in the status', async () => {
          const x = await again.status();
          return x?.status.problems.some((p) => p.code === 'attestation_failed') ? x : undefined;
        });
        expect(st.status.attestation).toBeNull();
        expect(again.logs.some((l) => l.event === 'push')).toBe(false);
        expect(again.child.exitCode).toBeNull();
      } finally {
        for (const d of daemons.splice(0)) await d.kill9();
        device.remove();
      }
    }, 150_000);
  },
);
