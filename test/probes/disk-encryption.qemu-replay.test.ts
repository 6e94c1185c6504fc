/**
 * The qemu oracle's recordings, kept as fixtures so the Linux disk-encryption collector is held to
 * them without qemu: each test/fixtures/linux/qemu/<layout>.capture.json is what the collector read
 * from a layout built on a real kernel (lsblk, /proc/self/mountinfo, /proc/swaps, dm uuids), and
 * <layout>.truth is what the layout script declared. Replayed through the same collector, every
 * volume must come out as declared. See test/probes/disk-encryption.qemu.test.ts.
 */
import { createReplayHost, parseCapture } from '../../src/probes/capture.js';
import { linuxDiskEncryption } from '../../src/probes/disk-encryption/linux.js';
import { runProbe } from '../../src/probes/run.js';
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
