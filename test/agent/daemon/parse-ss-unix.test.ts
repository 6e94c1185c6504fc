import { findPeerSocket, parseSsUnix } from '../../../src/agent/daemon/parse-ss-unix.js';
import { fixture } from '../../helpers/fixtures.js';

describe('parseSsUnix', () => {
  const text = fixture('linux/ss/debian-12-ss-xpnH-daemon-socket-own-190981.txt');

  it('reads every stream socket with its peer inode and holders', () => {
    const lines = parseSsUnix(text);
    expect(lines.length).toBeGreaterThanOrEqual(16);
    const chromium = lines.find((l) => l.holders.some((h) => h.pid === 15865));
    expect(chromium?.holders.length).toBe(3);
  });

  it('finds the client end of the daemon connection (own inode 190981)', () => {
    const peer = findPeerSocket(parseSsUnix(text), 190981);
    expect(peer).toEqual({ inode: 190980, peerInode: 190981, holders: [{ pid: 22491, fd: 18 }] });
  });

  it('answers nothing for an inode nobody is connected to, and for garbage', () => {
    expect(findPeerSocket(parseSsUnix(text), 1)).toBeUndefined();
    expect(parseSsUnix('garbage\n\u0000\nu_str ESTAB x y')).toEqual([]);
  });
});
