/**
 * The keychain store against a real Secret Service: gnome-keyring on the D-Bus session that the
 * test command (scripts/test.sh) runs jest in, as a desktop login would provide.
 *
 * The binding keeps one D-Bus connection per process and reads the real process environment, so the
 * broken-keychain cases each run in a process of their own against the built store (dist/), as a
 * real agent start would.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { keyErrorCode, verifiesEs256 } from '../helpers/assert.js';
import { keychainStore } from '../../src/keys/keychain.js';
import {
  activatableNames,
  secretServiceAvailable,
  sessionBusAddress,
  sessionHasSecretService,
  startSecretService,
} from '../fakes/secret-service.js';
import { describeWith } from '../helpers/real-part.js';

const describeSession = describeWith(
  'a Secret Service on the session bus (run jest through scripts/test.sh)',
  sessionHasSecretService(),
);
const describeReal = describeWith('dbus-daemon and gnome-keyring-daemon', secretServiceAvailable());

const ref = (name: string) => `test-${name}-${process.pid}-${Date.now()}`;

describeSession('keychain store on a real Secret Service', () => {
  it('the session bus of the test command (scripts/with-keyring.sh) starts no service on demand', () => {
    expect(activatableNames(sessionBusAddress() ?? '')).toEqual(['org.freedesktop.DBus']);
  });

  it('creates a key whose private part lives only in the keychain, and reopens it', async () => {
    const name = ref('create');
    const key = await keychainStore().create(name);
    expect(key.protection).toBe('keychain');
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.publicJwk).not.toHaveProperty('d');
    const data = new TextEncoder().encode('hello');
    expect(verifiesEs256(key.publicJwk, data, await key.sign(data))).toBe(true);
    const reopened = await keychainStore().open(name, key.createdAt);
    expect(reopened.kid).toBe(key.kid);
    expect(verifiesEs256(key.publicJwk, data, await reopened.sign(data))).toBe(true);
    await keychainStore().remove(name);
  });

  it('never overwrites an existing key', async () => {
    const name = ref('twice');
    await keychainStore().create(name);
    expect(await keyErrorCode(keychainStore().create(name))).toBe('ERR_ROTATION_FAILED');
    await keychainStore().remove(name);
  });

  it('a removed key is ERR_KEY_NOT_FOUND, and removing twice is fine', async () => {
    const name = ref('remove');
    const key = await keychainStore().create(name);
    await keychainStore().remove(name);
    await keychainStore().remove(name);
    expect(await keyErrorCode(keychainStore().open(name, key.createdAt))).toBe('ERR_KEY_NOT_FOUND');
  });
});

function inChild(busAddress: string, action: 'create' | 'open'): Promise<string> {
  const code = `
    const { keychainStore } = await import(${JSON.stringify(join(process.cwd(), 'dist', 'keys', 'keychain.js'))});
    try { await keychainStore({ timeoutMs: 5000 }).${action}('child-key', ''); console.log('OK'); }
    catch (e) { console.log(e.code ?? e.message); }`;
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    DBUS_SESSION_BUS_ADDRESS: busAddress,
  };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { env, timeout: 30_000 },
      (error, stdout) => {
        if (error && !stdout) reject(error);
        else resolve(stdout.trim());
      },
    );
  });
}

describeReal('keychain store without a usable Secret Service', () => {
  it('no session bus is ERR_KEYCHAIN_UNAVAILABLE for create and open — never a plaintext fallback, never "no key"', async () => {
    expect(await inChild('unix:path=/nonexistent/posture-test-bus', 'create')).toBe(
      'ERR_KEYCHAIN_UNAVAILABLE',
    );
    expect(await inChild('unix:path=/nonexistent/posture-test-bus', 'open')).toBe('ERR_KEYCHAIN_UNAVAILABLE');
  });

  it('a test bus starts no service on demand, whatever this machine has installed for activation', async () => {
    const bus = await startSecretService({ unlock: true, keyring: false });
    try {
      expect(activatableNames(bus.address)).toEqual(['org.freedesktop.DBus']);
    } finally {
      await bus.stop();
    }
  });

  it('a session bus without a Secret Service is ERR_KEYCHAIN_UNAVAILABLE', async () => {
    const bus = await startSecretService({ unlock: true, keyring: false });
    try {
      expect(await inChild(bus.address, 'create')).toBe('ERR_KEYCHAIN_UNAVAILABLE');
      expect(await inChild(bus.address, 'open')).toBe('ERR_KEYCHAIN_UNAVAILABLE');
    } finally {
      await bus.stop();
    }
  });

  it('a keyring that was never unlocked refuses with a keychain error', async () => {
    const locked = await startSecretService({ unlock: false });
    try {
      expect(['ERR_KEYCHAIN_LOCKED', 'ERR_KEYCHAIN_UNAVAILABLE']).toContain(
        await inChild(locked.address, 'create'),
      );
    } finally {
      await locked.stop();
    }
  });
});
