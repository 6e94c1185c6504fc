import { parseBitLockerVolumes } from '../../src/probes/disk-encryption/parse-bitlocker.js';
import { parseFdesetupStatus } from '../../src/probes/disk-encryption/parse-fdesetup.js';
import { parseLsblkJson } from '../../src/probes/disk-encryption/parse-lsblk.js';
import { mountFor, parseMountinfo } from '../../src/probes/disk-encryption/parse-mountinfo.js';
import { parseProcSwaps } from '../../src/probes/disk-encryption/parse-proc-swaps.js';
import { parseZfsGet } from '../../src/probes/disk-encryption/parse-zfs.js';
import { traceDataVolumes } from '../../src/probes/disk-encryption/trace-linux.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { asArray } from '../../src/host/native-protocol.js';
import { fixture, fixtureJson } from '../helpers/fixtures.js';

const GARBAGE = ['', '\n', 'Segmentation fault', '{"truncated": ', '\u0000\u0001binary'];

function expectUnexpected(fn: () => unknown): void {
  expect(fn).toThrow(UnexpectedOutputError);
}

describe('parseFdesetupStatus (macOS)', () => {
  it('reads On and Off', () => {
    expect(parseFdesetupStatus(fixture('darwin/fdesetup-status/on.txt')).state).toBe('encrypted');
    expect(parseFdesetupStatus(fixture('darwin/fdesetup-status/off.txt')).state).toBe('unencrypted');
  });
  it('treats "Off, but needs to be restarted" as not yet encrypted', () => {
    const s = parseFdesetupStatus(
      fixture('darwin/fdesetup-status/off-needs-restart-deferred-macos10.12.txt'),
    );
    expect(s.state).toBe('unencrypted');
    expect(s.detail).toMatch(/restarted/);
  });
  // No real capture of the in-progress wording was found (test/fixtures/SOURCES.md); these lines
  // follow the format fdesetup(8) documents and are kept inline, not presented as recorded files.
  it('reads encryption and decryption progress', () => {
    expect(parseFdesetupStatus('Encryption in progress: Percent completed = 45\n')).toEqual({
      state: 'encrypting',
      percent: 45,
    });
    expect(parseFdesetupStatus('Decryption in progress: Percent completed = 3\n')).toEqual({
      state: 'decrypting',
      percent: 3,
    });
  });
  it.each(GARBAGE)('refuses garbage %p', (text) => expectUnexpected(() => parseFdesetupStatus(text)));
});

describe('parseBitLockerVolumes (Windows)', () => {
  const fleet = asArray(
    fixtureJson(
      'windows/encryptablevolume/get-bitlockervolume_convertto-json_os-encrypted_data-decrypted.json',
    ),
  );

  it('reads the system drive and every fixed data volume from Get-BitLockerVolume JSON', () => {
    const volumes = parseBitLockerVolumes(fleet, 'C:');
    expect(volumes).toEqual([
      { id: 'C:', role: 'system', state: 'encrypted', method: 'BitLocker XTS-AES-128' },
      { id: 'E:', role: 'data', state: 'unencrypted' },
    ]);
  });

  it('uses the real system drive, not C:', () => {
    const volumes = parseBitLockerVolumes(fleet, 'D:');
    expect(volumes[0]).toMatchObject({ id: 'D:', role: 'system', state: 'unknown' });
  });

  it('calls fully encrypted with protection off "suspended", not encrypted', () => {
    const suspended = fleet.map((v) => (v.MountPoint === 'C:' ? { ...v, ProtectionStatus: 0 } : v));
    expect(parseBitLockerVolumes(suspended, 'C:')[0]?.state).toBe('suspended');
  });

  it('reports conversion in progress with its percentage', () => {
    const converting = [
      { MountPoint: 'C:', VolumeType: 0, VolumeStatus: 2, ProtectionStatus: 0, EncryptionPercentage: 37 },
    ];
    expect(parseBitLockerVolumes(converting, 'C:')[0]).toMatchObject({ state: 'encrypting', percent: 37 });
  });

  it('reads the Win32_EncryptableVolume property names too', () => {
    const cim = [
      { DriveLetter: 'C:', VolumeType: 0, ConversionStatus: 1, ProtectionStatus: 1, EncryptionMethod: 7 },
    ];
    expect(parseBitLockerVolumes(cim, 'C:')[0]).toMatchObject({
      state: 'encrypted',
      method: 'BitLocker XTS-AES-256',
    });
  });

  it('ignores removable volumes and refuses objects without a drive', () => {
    expect(
      parseBitLockerVolumes(
        [
          { MountPoint: 'C:', VolumeType: 0, VolumeStatus: 1, ProtectionStatus: 1 },
          { MountPoint: 'F:', VolumeType: 2, VolumeStatus: 0 },
        ],
        'C:',
      ),
    ).toHaveLength(1);
    expectUnexpected(() => parseBitLockerVolumes([{ VolumeStatus: 1 }], 'C:'));
  });
});

describe('Linux volume tracing on recorded lsblk output', () => {
  const trace = (file: string) => traceDataVolumes({ tree: parseLsblkJson(fixture(`linux/lsblk/${file}`)) });

  // These outputs have only NAME/TYPE/MOUNTPOINT columns and come without dm uuids. lsblk's "crypt"
  // is also dm-integrity and dm-verity (both made by cryptsetup), so a crypt node alone is traced
  // but not taken as proof: unknown, never encrypted. The collector always reads the dm uuids.
  it('LVM on LUKS on NVMe (mountpoints array): traced through the crypt node, unknown without its dm uuid', () => {
    const volumes = trace('ubuntu-luks-lvm-nvme-mountpoints.json');
    const root = volumes.find((v) => v.id === '/');
    expect(root).toMatchObject({ state: 'unknown', reason: 'unexpected_output' });
    expect(root?.stack?.some((s) => s.endsWith('(crypt)'))).toBe(true);
    expect(root?.stack?.[0]).toMatch(/\(lvm\)$/);
  });

  it('an older lsblk (single "mountpoint") with LVM on LUKS: root and the swap LV are traced, unknown without dm uuids', () => {
    expect(trace('ubuntu-luks-lvm-nvme-mountpoint-reindented.json').map((v) => [v.id, v.state])).toEqual([
      ['/', 'unknown'],
      ['[SWAP] vgubuntu-swap_1', 'unknown'],
    ]);
  });

  it('btrfs without filesystem UUIDs is unknown: its other member devices cannot be found', () => {
    const volumes = trace('fedora-40-luks-btrfs-nvme-mountpoints.json');
    expect(volumes.find((v) => v.id === '/')).toMatchObject({
      state: 'unknown',
      reason: 'unexpected_output',
    });
    expect(volumes.find((v) => v.id === '/home')?.state).toBe('unknown');
  });

  it('root on a plain partition stays unencrypted although another device is LUKS', () => {
    const volumes = trace('ubuntu-plain-root-other-device-luks-mountpoint.json');
    expect(volumes.find((v) => v.id === '/')).toMatchObject({
      state: 'unencrypted',
      stack: ['sda2 (part)', 'sda (disk)'],
    });
  });

  it('full-path names (lsblk -p) trace the same way', () => {
    const root = trace('debian-lsblk-pJ-luks-lvm-nvme-mountpoint-fullpaths.json').find((v) => v.id === '/');
    expect(root?.state).toBe('unknown');
    expect(root?.stack?.some((s) => s.endsWith('(crypt)'))).toBe(true);
  });

  it('LVM below LUKS (crypt on top of an LV) counts as encrypted', () => {
    const tree = parseLsblkJson(fixture('linux/lsblk/nixos-lvm-then-luks-bytes-mountpoint.json'));
    const crypts = JSON.stringify(tree).match(/"type":"crypt"/g) ?? [];
    expect(crypts.length).toBeGreaterThan(0);
    const volumes = traceDataVolumes({ tree });
    // This lsblk shows only one mountpoint per device, and the root LV shows a bind mount instead of "/".
    expect(volumes[0]).toMatchObject({ id: '/', state: 'unknown', reason: 'unexpected_output' });
  });

  it('says unknown, not unencrypted, when the root device is not in the tree', () => {
    expect(traceDataVolumes({ tree: [] })[0]).toMatchObject({ id: '/', state: 'unknown' });
  });

  it.each(GARBAGE.concat(['{"blockdevices": "x"}', '{"blockdevices": [{"type": "disk"}]}']))(
    'lsblk garbage %p is refused',
    (text) => {
      expectUnexpected(() => parseLsblkJson(text));
    },
  );
});

describe('mountinfo, /proc/swaps and dm uuids', () => {
  it('parses a real mountinfo with an LVM root and finds the mount holding a path', () => {
    const mounts = parseMountinfo(fixture('linux/mountinfo/ubuntu-lvm-root-jc-pid_mountinfo'));
    const root = mountFor(mounts, '/');
    expect(root?.mountPoint).toBe('/');
    expect(root?.source).toMatch(/^\/dev\/mapper\//);
    expect(mountFor(mounts, '/etc/passwd')).toBe(root);
  });

  it('matches the root mount to its LVM-on-LUKS device by major:minor, and reads the LUKS version from the dm uuid', () => {
    const tree = parseLsblkJson(
      JSON.stringify({
        blockdevices: [
          {
            name: 'nvme0n1',
            'maj:min': '259:0',
            type: 'disk',
            mountpoint: null,
            children: [
              {
                name: 'nvme0n1p3',
                'maj:min': '259:3',
                type: 'part',
                fstype: 'crypto_LUKS',
                mountpoint: null,
                children: [
                  {
                    name: 'dm_crypt-0',
                    'maj:min': '253:0',
                    type: 'crypt',
                    fstype: 'LVM2_member',
                    mountpoint: null,
                    children: [
                      {
                        name: 'ubuntu--vg-ubuntu--lv',
                        'maj:min': '253:1',
                        type: 'lvm',
                        fstype: 'ext4',
                        mountpoint: '/',
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const mounts = parseMountinfo(
      '29 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/ubuntu--vg-ubuntu--lv rw\n',
    );
    const dmUuids = new Map([['253:0', fixture('linux/sysfs/dm-0-dm-uuid-crypt-luks2.txt').trim()]]);
    const [root] = traceDataVolumes({ tree, mounts, swaps: [], dmUuids });
    expect(root).toMatchObject({ id: '/', state: 'encrypted', method: 'LUKS2' });
  });

  it('a swap file is judged by the filesystem holding it; zram holds nothing at rest', () => {
    const tree = parseLsblkJson(
      '{"blockdevices":[{"name":"vda","maj:min":"254:0","type":"disk","mountpoint":"/"}]}',
    );
    const mounts = parseMountinfo('27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n');
    const swaps = parseProcSwaps(
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t2097148\t\t0\t\t-2\n/dev/zram0                              partition\t8388604\t\t0\t\t100\n',
    );
    const volumes = traceDataVolumes({ tree, mounts, swaps });
    expect(volumes.map((v) => [v.id, v.state])).toEqual([
      ['/', 'unencrypted'],
      ['[SWAP] /swapfile', 'unencrypted'],
      ['[SWAP] /dev/zram0', 'not_persistent'],
    ]);
  });

  it('a container root (overlay) is unknown, never encrypted or unencrypted', () => {
    const mounts = parseMountinfo(
      '500 400 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n',
    );
    expect(traceDataVolumes({ tree: [], mounts, swaps: [] })[0]).toMatchObject({
      state: 'unknown',
      reason: 'unsupported_platform',
    });
  });

  it.each(['', 'garbage line', '1 2 3'])('mountinfo garbage %p is refused', (text) =>
    expectUnexpected(() => parseMountinfo(text)),
  );
  it('a /proc/swaps without its header is refused', () =>
    expectUnexpected(() => parseProcSwaps('/dev/sda2 partition 1 0 -2\n')));
});

describe('parseZfsGet', () => {
  it('reads aes-256-gcm and off from recorded `zfs get` output', () => {
    expect(
      parseZfsGet(fixture('linux/zfs/zfsbootmenu-zfs-get-all-egrep-encryption-aes-256-gcm.txt')).get('zroot')
        ?.encryption,
    ).toBe('aes-256-gcm');
    expect(
      parseZfsGet(fixture('linux/zfs/ubuntu-22.04-zfs-get-all-otus-encryption-off-trimmed.txt')).get('otus')
        ?.encryption,
    ).toBe('off');
  });
  it('an encrypted root dataset with its key loaded is encrypted; encryption off is not called unencrypted', () => {
    const mounts = parseMountinfo('30 1 0:40 / / rw - zfs rpool/ROOT/ubuntu rw\n');
    const on = traceDataVolumes({
      tree: [],
      mounts,
      swaps: [],
      zfs: parseZfsGet(
        'rpool/ROOT/ubuntu\tencryption\taes-256-gcm\nrpool/ROOT/ubuntu\tkeystatus\tavailable\n',
      ),
    });
    expect(on[0]).toMatchObject({ state: 'encrypted', method: 'ZFS aes-256-gcm' });
    const off = traceDataVolumes({
      tree: [],
      mounts,
      swaps: [],
      zfs: parseZfsGet('rpool/ROOT/ubuntu\tencryption\toff\nrpool/ROOT/ubuntu\tkeystatus\t-\n'),
    });
    expect(off[0]?.state).toBe('unknown');
  });
  it('refuses lines it cannot read', () => expectUnexpected(() => parseZfsGet('rpool\n')));
});
