import {
  adminGidsFor,
  parseGetentGroup,
  resolveAdminGroups,
} from '../../../src/agent/daemon/admin-groups.js';
import { execCommand } from '../../../src/host/exec.js';
import type { CommandOutcome, CommandRequest } from '../../../src/host/host.js';
import { fixture } from '../../helpers/fixtures.js';
import { describeWithPart, executable } from './real-parts.js';

/** Answers `getent group -- NAME` from recorded outputs; any other command fails the test. */
function recordedGetent(answers: Record<string, CommandOutcome>) {
  const asked: string[] = [];
  const run = async (request: CommandRequest): Promise<CommandOutcome> => {
    const [kind, dashes, name] = request.args;
    if (request.command !== '/usr/bin/getent' || kind !== 'group' || dashes !== '--' || !name)
      throw new Error(`unexpected command ${request.command} ${request.args.join(' ')}`);
    asked.push(name);
    return answers[name] ?? { ok: true, exitCode: 2, signal: null, stdout: '', stderr: '' };
  };
  return { run, asked };
}

const found = (stdout: string): CommandOutcome => ({
  ok: true,
  exitCode: 0,
  signal: null,
  stdout,
  stderr: '',
});

describe('parseGetentGroup', () => {
  it('reads the gid of the named group from a real getent line', () => {
    expect(parseGetentGroup(fixture('linux/getent-group/adm.txt'), 'adm')).toBe(4);
    expect(parseGetentGroup(fixture('linux/getent-group/root.txt'), 'root')).toBe(0);
  });

  it('answers nothing for another name, an empty output or a gid that is not a number', () => {
    expect(parseGetentGroup(fixture('linux/getent-group/adm.txt'), 'ad')).toBeUndefined();
    expect(parseGetentGroup('', 'adm')).toBeUndefined();
    expect(parseGetentGroup('adm:x:four:\n', 'adm')).toBeUndefined();
  });
});

describe('resolveAdminGroups', () => {
  it('resolves each name through getent and lists those that name no group', async () => {
    const getent = recordedGetent({ adm: found(fixture('linux/getent-group/adm.txt')) });
    const resolved = await resolveAdminGroups(['adm', 'posture-admins'], getent.run);
    expect([...resolved.gids]).toEqual([4]);
    expect(resolved.unresolved.map((u) => u.name)).toEqual(['posture-admins']);
    expect(getent.asked).toEqual(['adm', 'posture-admins']);
  });

  it('a getent that cannot run resolves nothing (nobody is admitted by that name)', async () => {
    const run = async (): Promise<CommandOutcome> => ({
      ok: false,
      error: 'command_missing',
      detail: 'ENOENT',
    });
    const resolved = await resolveAdminGroups(['adm'], run);
    expect(resolved.gids.size).toBe(0);
    expect(resolved.unresolved).toHaveLength(1);
  });
});

describe('adminGidsFor', () => {
  it('is none and asks nothing without adminGroups', async () => {
    const getent = recordedGetent({});
    const gids = await adminGidsFor({ names: [], platform: 'linux', run: getent.run, log: () => undefined });
    expect(gids.size).toBe(0);
    expect(getent.asked).toEqual([]);
  });

  it('is none on macOS and Windows, and says so in the log', async () => {
    for (const platform of ['darwin', 'win32']) {
      const logged: Array<Record<string, unknown>> = [];
      const getent = recordedGetent({ adm: found('adm:x:4:\n') });
      const gids = await adminGidsFor({
        names: ['adm'],
        platform,
        run: getent.run,
        log: (_e, fields) => logged.push(fields),
      });
      expect(gids.size).toBe(0);
      expect(logged.map((l) => l.code)).toEqual(['admin_groups_unsupported']);
    }
  });

  it('logs each name that resolves to nothing', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const getent = recordedGetent({ adm: found('adm:x:4:\n') });
    const gids = await adminGidsFor({
      names: ['adm', 'nope'],
      platform: 'linux',
      run: getent.run,
      log: (_e, fields) => logged.push(fields),
    });
    expect([...gids]).toEqual([4]);
    expect(logged).toEqual([expect.objectContaining({ code: 'admin_group_unresolved', group: 'nope' })]);
  });
});

describeWithPart(executable('/usr/bin/getent'), '/usr/bin/getent (glibc)')('real getent', () => {
  it('resolves root to gid 0, and a name nobody has to nothing', async () => {
    const name = `posture-none-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const resolved = await resolveAdminGroups(['root', name], execCommand);
    expect([...resolved.gids]).toEqual([0]);
    expect(resolved.unresolved).toEqual([{ name, detail: 'no such group' }]);
  });
});
