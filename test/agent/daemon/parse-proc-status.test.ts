import { consistentGroups, parseProcStatusCredentials } from '../../../src/agent/daemon/parse-proc-status.js';
import { fixture } from '../../helpers/fixtures.js';

const read = (name: string) => {
  const credentials = parseProcStatusCredentials(fixture(`linux/proc-status/${name}`));
  if (!credentials) throw new Error(`${name} did not parse`);
  return credentials;
};
const NOBODY = { uid: 65534, gid: 65534 };

describe('parseProcStatusCredentials', () => {
  it('reads root: four uids and gids 0, no supplementary groups ("Groups:\\t ")', () => {
    expect(read('root.txt')).toEqual({ uids: [0, 0, 0, 0], gids: [0, 0, 0, 0], groups: [] });
  });

  it('reads supplementary groups with their trailing space', () => {
    expect(read('nobody-supplementary-groups.txt')).toEqual({
      uids: [65534, 65534, 65534, 65534],
      gids: [65534, 65534, 65534, 65534],
      groups: [4, 61234],
    });
  });

  it('reads the four gids apart when a set-group-ID change is in effect', () => {
    expect(read('nobody-effective-gid-differs.txt').gids).toEqual([65534, 4, 4, 4]);
  });

  it('refuses a file without the credential lines, or with ids that are not numbers', () => {
    expect(parseProcStatusCredentials('Name:\tcat\nState:\tR (running)\n')).toBeUndefined();
    expect(parseProcStatusCredentials('Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n')).toBeUndefined();
    expect(parseProcStatusCredentials('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4 x\n')).toBeUndefined();
    expect(parseProcStatusCredentials('')).toBeUndefined();
  });
});

describe('consistentGroups', () => {
  it('is the gid and the supplementary groups of a process as the socket owner', () => {
    expect(consistentGroups(read('nobody-supplementary-groups.txt'), NOBODY)).toEqual([4, 61234, 65534]);
    expect(consistentGroups(read('nobody-no-groups.txt'), NOBODY)).toEqual([65534]);
  });

  it('is none when a set-group-ID program holds the socket (effective gid borrowed)', () => {
    expect(consistentGroups(read('nobody-effective-gid-differs.txt'), NOBODY)).toEqual([]);
  });

  it('is none when a set-user-ID change is in effect, or the holder is not the socket owner', () => {
    expect(consistentGroups(read('real-uid-nobody-effective-root.txt'), NOBODY)).toEqual([]);
    expect(consistentGroups(read('nobody-supplementary-groups.txt'), { uid: 1000, gid: 65534 })).toEqual([]);
    expect(consistentGroups(read('nobody-supplementary-groups.txt'), { uid: 65534, gid: 4 })).toEqual([]);
  });
});
