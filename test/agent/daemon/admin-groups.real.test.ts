/**
 * `adminGroups` through the whole daemon on real parts: the built `posture daemon` (as root) with
 * `adminGroups: ["adm"]` resolved by the real getent, and clients running as a second Unix user
 * (uid 65534 through setpriv, so no user is created) whose groups the real kernel reports. A member
 * of the group (supplementary or primary) may reload; the same user without it, or holding the group
 * only as a set-group-ID effective gid, is refused `forbidden`. A reload that drops the setting
 * drops the member's rights. `adm` is gid 4 on every Debian (base-passwd).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execCommand } from '../../../src/host/exec.js';
import { resolveAdminGroups } from '../../../src/agent/daemon/admin-groups.js';
import { localApiErrorSchema, statusResponseSchema } from '../../../src/shared/local-api.js';
import { assertBuilt, CLI } from '../../helpers/cli.js';
import { callApi, callApiAs, type ApiAnswer } from './local-api-client.js';
import { describeWithPart, executable, isRoot } from './real-parts.js';

const NOBODY = 65534;
const RELOAD = JSON.stringify({ apiVersion: 1 });
const errorCode = (a: ApiAnswer) => localApiErrorSchema.parse(a.body).error;

describeWithPart(
  isRoot() && executable('/usr/bin/ss') && executable('/usr/bin/setpriv') && executable('/usr/bin/getent'),
  'root, /usr/bin/ss, /usr/bin/setpriv and /usr/bin/getent',
)('adminGroups: administrators by group, from the kernel', () => {
  let dir: string;
  let socketPath: string;
  let configPath: string;
  let daemon: ChildProcess | undefined;
  let adm: number;
  const logs: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    const resolved = await resolveAdminGroups(['adm'], execCommand);
    const gid = [...resolved.gids][0];
    if (gid === undefined) throw new Error('getent knows no group "adm" (Debian base-passwd has it)');
    adm = gid;
    dir = mkdtempSync(join(tmpdir(), `pa-admgrp-${process.pid}-`));
    chmodSync(dir, 0o755); // the second user reaches the socket through it
    mkdirSync(join(dir, 'run'), { mode: 0o755 });
    socketPath = join(dir, 'run', 'api.sock');
    configPath = join(dir, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        adminGroups: ['adm', `posture-none-${process.pid}`],
        schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['os_version'] }] },
      }),
    );
    daemon = spawn(process.execPath, [CLI, 'daemon'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        NODE_OPTIONS: '',
        POSTURE_CONFIG: configPath,
        POSTURE_CACHE_DIR: join(dir, 'cache'),
        POSTURE_STATE_DIR: join(dir, 'state'),
        POSTURE_KEY_STORE: 'file',
        POSTURE_KEY_FILE: join(dir, 'device-key.json'),
        POSTURE_SOCKET: socketPath,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    daemon.stdout?.on('data', (c: Buffer) => logs.push(c.toString('utf8')));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const answer = await callApi(socketPath, 'GET', '/v1/status').catch(() => undefined);
      if (answer?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`daemon did not answer: ${logs.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon?.once('exit', r));
      daemon.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says in its log which configured group names resolve to nothing', async () => {
    const unresolved = () =>
      logs
        .join('')
        .split('\n')
        .slice(0, -1) // complete lines only
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.code === 'admin_group_unresolved');
    for (let i = 0; i < 50 && !unresolved(); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(unresolved()).toMatchObject({ group: `posture-none-${process.pid}` });
  });

  it('a member of the group (supplementary) is an administrator and may reload', async () => {
    const groups = [`--regid=${NOBODY}`, `--groups=${adm}`];
    const status = await callApiAs(NOBODY, socketPath, 'GET', '/v1/status', undefined, groups);
    expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: NOBODY, administrator: true });
    const reload = await callApiAs(NOBODY, socketPath, 'POST', '/v1/admin/reload', RELOAD, groups);
    expect(reload.status).toBe(200);
  }, 60_000);

  it('a member through its primary gid is an administrator', async () => {
    const groups = [`--regid=${adm}`, '--clear-groups'];
    const status = await callApiAs(NOBODY, socketPath, 'GET', '/v1/status', undefined, groups);
    expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: NOBODY, administrator: true });
  }, 30_000);

  it('the same user without the group is refused administrator actions with forbidden', async () => {
    const status = await callApiAs(NOBODY, socketPath, 'GET', '/v1/status');
    expect(statusResponseSchema.parse(status.body).caller).toEqual({ uid: NOBODY, administrator: false });
    for (const path of ['/v1/admin/reload', '/v1/admin/rotate']) {
      const answer = await callApiAs(NOBODY, socketPath, 'POST', path, RELOAD);
      expect(answer.status).toBe(403);
      expect(errorCode(answer)).toBe('forbidden');
    }
  }, 60_000);

  it('a group held only as the effective gid (a set-group-ID program) does not count', async () => {
    const groups = [`--rgid=${NOBODY}`, `--egid=${adm}`, '--clear-groups'];
    const answer = await callApiAs(NOBODY, socketPath, 'POST', '/v1/admin/reload', RELOAD, groups);
    expect(errorCode(answer)).toBe('forbidden');
  }, 30_000);

  it('a reload without adminGroups takes the rights away (root keeps them)', async () => {
    writeFileSync(
      configPath,
      JSON.stringify({
        schedule: { entries: [{ name: 'rare', cron: '0 0 1 1 *', checks: ['os_version'] }] },
      }),
    );
    const reload = await callApi(socketPath, 'POST', '/v1/admin/reload', RELOAD);
    expect(reload.status).toBe(200);
    const groups = [`--regid=${NOBODY}`, `--groups=${adm}`];
    const answer = await callApiAs(NOBODY, socketPath, 'POST', '/v1/admin/reload', RELOAD, groups);
    expect(errorCode(answer)).toBe('forbidden');
  }, 60_000);
});
