/**
 * The qemu oracle's recordings, kept as fixtures so the Linux disk-encryption collector is held to
 * them without qemu: each test/fixtures/linux/qemu/<layout>.capture.json is what the collector read
 * from a layout built on a real kernel (lsblk, /proc/self/mountinfo, /proc/swaps, dm uuids), and
 * <layout>.truth is what the layout script declared. Replayed through the same collector, every
 * volume must come out as declared. See test/probes/disk-encryption.qemu.test.ts.
 */
import { createReplayHost, parseCapture } from '../../src/probes/capture.js';
import { linuxDiskEncryption, LSBLK_ARGS } from '../../src/probes/disk-encryption/linux.js';
import type { BlockNode } from '../../src/probes/disk-encryption/parse-lsblk.js';
import { parseDmsetupTable } from '../../src/probes/disk-encryption/parse-dmsetup-table.js';
import { parseLsblkJson } from '../../src/probes/disk-encryption/parse-lsblk.js';
import { parseMountinfo } from '../../src/probes/disk-encryption/parse-mountinfo.js';
import { parseProcSwaps } from '../../src/probes/disk-encryption/parse-proc-swaps.js';
import { traceDataVolumes } from '../../src/probes/disk-encryption/trace-linux.js';
import { runProbe } from '../../src/probes/run.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import type { CheckResult, DiskEncryptionObservation } from '../../src/shared/posture.js';
import { parseTruth, volumeId } from '../fakes/qemu-guest.js';
import { fixture, fixtureNames } from '../helpers/fixtures.js';

const LAYOUTS = fixtureNames('linux/qemu')
  .filter((f) => f.endsWith('.capture.json'))
  .map((f) => f.slice(0, -'.capture.json'.length));

async function replay(layout: string) {
  const capture = parseCapture(fixture(`linux/qemu/${layout}.capture.json`));
  return (await runProbe(
    createReplayHost(capture),
    linuxDiskEncryption,
  )) as CheckResult<DiskEncryptionObservation>;
}

describe('Linux disk encryption replayed from layouts recorded under qemu', () => {
  it('has the recordings of at least 15 layouts', () => {
    expect(LAYOUTS.length).toBeGreaterThanOrEqual(15);
  });

  it.each(LAYOUTS)('%s: every declared volume, and only those, as declared', async (layout) => {
    const truth = parseTruth(fixture(`linux/qemu/${layout}.truth`));
    const result = await replay(layout);
    expect(result.status).toBe('observed');
    if (result.status !== 'observed') return;
    const seen = Object.fromEntries(
      result.observation.volumes.map((v) => [
        v.id,
        v.state === 'encrypted' ? `${v.state} ${v.method}` : v.state,
      ]),
    );
    const declared = Object.fromEntries(
      truth.map((v) => [volumeId(v), v.state === 'encrypted' ? `${v.state} ${v.method}` : v.state]),
    );
    expect(seen).toEqual(declared);
  });
});

/** The recorded outputs of one layout, parsed, without the dm uuids. */
function recorded(layout: string) {
  const capture = parseCapture(fixture(`linux/qemu/${layout}.capture.json`));
  const lsblk = capture.commands.find((c) => JSON.stringify(c.args) === JSON.stringify(LSBLK_ARGS));
  const file = (path: string) => {
    const f = capture.files.find((x) => x.path === path);
    if (!f?.outcome.ok) throw new Error(`${layout}: no ${path} recorded`);
    return f.outcome.content;
  };
  if (!lsblk?.outcome.ok) throw new Error(`${layout}: no lsblk recorded`);
  const dmUuids = new Map(
    capture.files.flatMap((f) => {
      const majMin = /^\/sys\/dev\/block\/(\d+:\d+)\/dm\/uuid$/.exec(f.path)?.[1];
      return majMin && f.outcome.ok ? [[majMin, f.outcome.content.trim()] as const] : [];
    }),
  );
  const dmsetup = capture.commands.find((c) => c.command.endsWith('/dmsetup'));
  return {
    tree: parseLsblkJson(lsblk.outcome.stdout),
    mounts: parseMountinfo(file('/proc/self/mountinfo')),
    swaps: parseProcSwaps(file('/proc/swaps')),
    dmUuids,
    dmsetupTable: dmsetup?.outcome.ok ? dmsetup.outcome.stdout : undefined,
  };
}

function withoutUuids(nodes: readonly BlockNode[]): BlockNode[] {
  return nodes.map(({ uuid: _uuid, ...n }) => ({ ...n, children: withoutUuids(n.children) }));
}

const noUuids = (layout: string) => {
  const { tree, mounts, swaps } = recorded(layout);
  return { tree, mounts, swaps };
};

describe('dmsetup table recorded under qemu', () => {
  it("reads each crypt device's cipher, and LVM's linear segments", () => {
    const tables = parseDmsetupTable(recorded('luks2_cipher_null_root').dmsetupTable ?? '');
    expect(tables.get('cr_root')).toEqual([{ target: 'crypt', cipher: 'cipher_null-ecb' }]);
    const lvm = parseDmsetupTable(recorded('lvm_on_luks').dmsetupTable ?? '');
    expect(lvm.get('cr_pv')).toEqual([{ target: 'crypt', cipher: 'aes-xts-plain64' }]);
    expect(lvm.get('vg0-root')).toEqual([{ target: 'linear' }]);
  });

  it('without it (the collector not running as root), cipher_null is not seen: reported encrypted', () => {
    const { dmsetupTable: _table, ...withoutTable } = recorded('luks2_cipher_null_root');
    expect(traceDataVolumes(withoutTable)[0]).toMatchObject({ state: 'encrypted', method: 'LUKS2' });
  });

  it('a crypt device whose table also has a linear segment (LUKS2 encryption in progress) is unencrypted', () => {
    // No recording of an interrupted `cryptsetup reencrypt` exists: the table is the recorded
    // luks1_root one with a linear segment added, as dm-crypt shows a partly encrypted device.
    const r = recorded('luks1_root');
    const dmTables = new Map([
      ['cr_root', [{ target: 'crypt', cipher: 'aes-xts-plain64' }, { target: 'linear' }]],
    ]);
    expect(traceDataVolumes({ ...r, dmTables })[0]).toMatchObject({ state: 'unencrypted' });
    expect(traceDataVolumes({ ...r, dmTables: new Map() })[0]?.state).toBe('unknown');
  });

  it.each(['garbage', 'cr_root 0 1 crypt'])('refuses %p', (text) =>
    expect(() => parseDmsetupTable(text)).toThrow(UnexpectedOutputError),
  );
});

describe('the same recordings with less evidence: unknown, never encrypted', () => {
  it('dm-integrity alone, without its dm uuid, is a "crypt" node that proves nothing', () => {
    const [root] = traceDataVolumes(noUuids('integrity_only_root'));
    expect(root).toMatchObject({ id: '/', state: 'unknown', reason: 'unexpected_output' });
  });

  it('dm-verity, without its dm uuid, likewise', () => {
    expect(traceDataVolumes(noUuids('verity_root'))[0]?.state).toBe('unknown');
  });

  it('LUKS without its dm uuid still counts: the LUKS signature is right beneath the crypt node', () => {
    expect(traceDataVolumes(noUuids('luks1_root'))[0]).toMatchObject({ state: 'encrypted', method: 'LUKS' });
  });

  it('plain dm-crypt without its dm uuid is unknown: nothing beneath tells it from dm-integrity', () => {
    expect(traceDataVolumes(noUuids('plain_dmcrypt_root'))[0]?.state).toBe('unknown');
  });

  it('btrfs without filesystem UUIDs is unknown: the plain second device cannot be found', () => {
    const r = noUuids('btrfs_multi_device');
    const [root] = traceDataVolumes({ ...r, tree: withoutUuids(r.tree) });
    expect(root).toMatchObject({ id: '/', state: 'unknown', reason: 'unexpected_output' });
  });
});
