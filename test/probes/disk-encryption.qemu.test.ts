/**
 * The Linux disk-encryption collector against a real kernel: Debian's kernel under qemu (TCG), one
 * boot, every layout of scripts/qemu-disk/layouts.sh built inside it with cryptsetup, LVM, mdadm and
 * btrfs-progs. Each layout declares per volume whether it is encrypted and by what; the agent's own
 * collector reads the layout (its commands and files answered from inside the layout's root) and
 * must agree on every volume. A disagreement fails, whichever side is wrong.
 *
 * Needs qemu-system-x86_64, apt (the kernel is fetched with `apt-get download`) and the tools
 * scripts/test.sh installs. Without them the tests skip, except under CI, where they fail.
 * Recorded captures land in $POSTURE_QEMU_OUT (default: a temporary directory) as
 * <layout>/capture.json; test/fixtures/linux/qemu/ holds the ones kept as fixtures.
 * POSTURE_QEMU_LAYOUTS="a b" runs only those layouts (by hand, while working on one).
 * For one layout node also runs the collector inside the guest, from dist/ (built by scripts/test.sh;
 * skipped by hand when dist/ is missing, never under CI): it must ask for and read the same.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Capture } from '../../src/probes/capture.js';
import { createRecordingHost } from '../../src/probes/capture.js';
import { linuxDiskEncryption } from '../../src/probes/disk-encryption/linux.js';
import { AGENT } from '../../src/host/agent-info.js';
import { runProbe } from '../../src/probes/run.js';
import type { CheckResult, DiskEncryptionObservation } from '../../src/shared/posture.js';
import type { DeclaredVolume, QemuGuest } from '../fakes/qemu-guest.js';
import { bootQemuGuest, LAYOUTS_SCRIPT, volumeId } from '../fakes/qemu-guest.js';
import { describeWith } from '../helpers/real-part.js';

/** Generous: TCG is slow, and the first run downloads the kernel. Per hook and per layout. */
const BOOT_TIMEOUT_MS = 10 * 60_000;
const LAYOUT_TIMEOUT_MS = 6 * 60_000;

const REPO = resolve(import.meta.dirname, '../..');
const ALL_LAYOUTS = [
  ...readFileSync(join(REPO, LAYOUTS_SCRIPT), 'utf8').matchAll(/^layout_([a-z0-9_]+)\(\)/gm),
].map((m) => m[1] as string);
const only = process.env.POSTURE_QEMU_LAYOUTS?.split(/\s+/).filter(Boolean);
const LAYOUTS = only ? ALL_LAYOUTS.filter((l) => only.includes(l)) : ALL_LAYOUTS;
/** Also run node with the collector inside the guest for this layout, and compare. */
const IN_GUEST_LAYOUT = 'lvm_on_luks';

function hasTool(name: string): boolean {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = [
  'qemu-system-x86_64',
  'apt-get',
  'dpkg-deb',
  'cpio',
  'busybox',
  'cryptsetup',
  'lvm',
  'mdadm',
  'mkfs.btrfs',
].filter((t) => !hasTool(t));
const builtDist = existsSync(join(REPO, 'dist/probes/disk-encryption/linux.js'));
const describeQemu = describeWith(
  `qemu and the layout tools (missing: ${missing.join(', ')})`,
  missing.length === 0,
);

/** The Debian package versions the guest's tools came from, for the captures' notes. */
function toolVersions(): string {
  try {
    return execFileSync(
      '/usr/bin/dpkg-query',
      ['-W', '-f', '${Package} ${Version}, ', 'cryptsetup-bin', 'lvm2', 'util-linux', 'mdadm', 'btrfs-progs'],
      {
        encoding: 'utf8',
      },
    ).replace(/, $/, '');
  } catch {
    return 'tool versions not known';
  }
}

function compare(truth: DeclaredVolume[], result: CheckResult<DiskEncryptionObservation>) {
  const declared = Object.fromEntries(
    truth.map((v) => [volumeId(v), { state: v.state, ...(v.method ? { method: v.method } : {}) }]),
  );
  const seen =
    result.status === 'observed'
      ? Object.fromEntries(
          result.observation.volumes.map((v) => [
            v.id,
            { state: v.state, ...(v.state === 'encrypted' && v.method ? { method: v.method } : {}) },
          ]),
        )
      : { status: result.status, ...(result.status === 'unknown' ? { reason: result.reason } : {}) };
  return { declared, seen };
}

describeQemu('Linux disk encryption on a real kernel (qemu)', () => {
  let guest: QemuGuest;
  let outDir: string;
  const versions = toolVersions();

  beforeAll(async () => {
    outDir = process.env.POSTURE_QEMU_OUT
      ? resolve(process.env.POSTURE_QEMU_OUT)
      : mkdtempSync(join(tmpdir(), `posture-qemu-${process.pid}-`));
    mkdirSync(outDir, { recursive: true });
    guest = await bootQemuGuest(REPO, outDir);
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await guest?.quit();
    if (!process.env.POSTURE_QEMU_OUT && outDir) rmSync(outDir, { recursive: true, force: true });
  }, 60_000);

  it('has at least 15 layouts', () => {
    expect(ALL_LAYOUTS.length).toBeGreaterThanOrEqual(15);
  });

  it.each(LAYOUTS)(
    '%s: the collector agrees with the declared truth on every volume',
    async (layout) => {
      const { built, truth } = await guest.build(layout);
      try {
        if (built !== 0) {
          const log = readFileSync(join(outDir, layout, 'log'), 'utf8');
          throw new Error(`layout ${layout} could not be built (exit ${built}):\n${log.slice(-3000)}`);
        }
        expect(truth.length).toBeGreaterThan(0);
        const host = createRecordingHost(guest.host);
        const result = (await runProbe(host, linuxDiskEncryption)) as CheckResult<DiskEncryptionObservation>;
        const capture = host.toCapture(
          AGENT,
          `recorded under qemu (TCG), Debian kernel ${guest.host.platform.release}, tools of Debian 12 (${versions}), layout ${layout} of scripts/qemu-disk/layouts.sh`,
        );
        writeFileSync(join(outDir, layout, 'capture.json'), `${JSON.stringify(capture, null, 2)}\n`);
        writeFileSync(join(outDir, layout, 'host-result.json'), `${JSON.stringify(result, null, 2)}\n`);
        const verdict = compare(truth, result);
        expect(verdict.seen).toEqual(verdict.declared);
        if (layout === IN_GUEST_LAYOUT && (builtDist || process.env.CI)) {
          // The same collector, run by node inside the guest on its live host: the answers through
          // the control port must be what the guest itself sees.
          expect(await guest.collectInGuest(layout)).toBe(0);
          const inGuest = JSON.parse(readFileSync(join(outDir, layout, 'result.json'), 'utf8')) as {
            result: CheckResult<DiskEncryptionObservation>;
            capture: Capture;
          };
          expect(compare(truth, inGuest.result).seen).toEqual(verdict.declared);
          expect(inGuest.result.evidence).toEqual(result.evidence);
          // Same outputs, byte for byte, but for the two shares mounted for node's own run.
          const withoutAgentMounts = (c: Capture) =>
            c.files.map((f) =>
              f.outcome.ok
                ? {
                    ...f,
                    outcome: {
                      ...f.outcome,
                      content: f.outcome.content.replace(/^.* \/opt\/(posture|node) .*\n/gm, ''),
                    },
                  }
                : f,
            );
          expect(inGuest.capture.commands).toEqual(capture.commands);
          expect(withoutAgentMounts(inGuest.capture)).toEqual(withoutAgentMounts(capture));
        }
      } finally {
        await guest.teardown();
      }
    },
    LAYOUT_TIMEOUT_MS,
  );
});
