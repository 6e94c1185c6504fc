/**
 * `posture enroll` / `posture key rotate` while a daemon runs (src/cli/via-daemon.ts): who does the
 * work, and which code a refusal ends with. The daemon side is exercised for real in
 * test/agent/daemon/headers-via-daemon.real.test.ts.
 */
import { DaemonError } from '../../src/agent/daemon/errors.js';
import { DaemonRefusal } from '../../src/agent/daemon/status-client.js';
import { viaDaemon } from '../../src/cli/via-daemon.js';
import { exitCodeForError } from '../../src/cli/exit-codes.js';

const noDaemon = () => Promise.reject(new DaemonError('ERR_DAEMON_NOT_RUNNING', 'no daemon answers'));
const refuses = (code: ConstructorParameters<typeof DaemonRefusal>[0], agentCode?: string) => () =>
  Promise.reject(new DaemonRefusal(code, 'the verifier says this device key is revoked', agentCode));

describe('viaDaemon', () => {
  it('uses the daemon’s answer when it gives one', async () => {
    await expect(viaDaemon({}, async () => ({ keyId: 'k2' }), 'linux')).resolves.toEqual({ keyId: 'k2' });
  });

  it('leaves the work to this process when no daemon answers, unless --require-daemon', async () => {
    await expect(viaDaemon({}, noDaemon, 'linux')).resolves.toBeUndefined();
    await expect(viaDaemon({ requireDaemon: true }, noDaemon, 'linux')).rejects.toMatchObject({
      code: 'ERR_DAEMON_NOT_RUNNING',
    });
  });

  it('never asks with --no-daemon, and refuses contradicting flags', async () => {
    let asked = false;
    const ask = async () => {
      asked = true;
      return {};
    };
    await expect(viaDaemon({ daemon: false }, ask, 'linux')).resolves.toBeUndefined();
    expect(asked).toBe(false);
    await expect(viaDaemon({ daemon: false, requireDaemon: true }, ask, 'linux')).rejects.toMatchObject({
      code: 'ERR_USAGE',
    });
  });

  it('keeps the agent’s own code from the daemon’s refusal, so the exit code is the in-process one', async () => {
    const error = await viaDaemon({}, refuses('unavailable', 'ERR_DEVICE_REVOKED'), 'linux').catch((e) => e);
    expect(error).toMatchObject({ code: 'ERR_DEVICE_REVOKED' });
    expect(exitCodeForError(error.code)).toBe(8);
  });

  it('a caller who is not an administrator is refused, never served in process', async () => {
    const error = await viaDaemon({}, refuses('forbidden'), 'linux').catch((e) => e);
    expect(error).toMatchObject({ code: 'ERR_DAEMON_REFUSED' });
    expect(exitCodeForError(error.code)).toBe(12);
  });

  it('stays in process where the daemon cannot yet identify administrators, unless required', async () => {
    let asked = false;
    const ask = async () => {
      asked = true;
      return {};
    };
    await expect(viaDaemon({}, ask, 'darwin')).resolves.toBeUndefined();
    expect(asked).toBe(false);
    await expect(viaDaemon({ requireDaemon: true }, ask, 'win32')).resolves.toEqual({});
  });
});
