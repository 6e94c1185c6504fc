// Runs inside the guest, chrooted into a layout's root: the agent's real Linux disk-encryption
// collector on the live host, wrapped in the recording host, so the capture lists exactly the
// commands and files the collector asked for. Prints {layout, kernel, result, capture} as JSON.
//   node guest-collect.mjs LAYOUT
import { release } from 'node:os';
import process from 'node:process';
import { createRecordingHost } from '../../dist/probes/capture.js';
import { linuxDiskEncryption } from '../../dist/probes/disk-encryption/linux.js';
import { createLiveHost } from '../../dist/probes/live-host.js';
import { AGENT } from '../../dist/host/agent-info.js';
import { runProbe } from '../../dist/probes/run.js';

const layout = process.argv[2] ?? 'unnamed';
const host = createRecordingHost(createLiveHost());
const result = await runProbe(host, linuxDiskEncryption);
const note = `recorded under qemu (TCG), Debian kernel ${release()}, layout ${layout} (scripts/qemu-disk/layouts.sh)`;
process.stdout.write(
  `${JSON.stringify({ layout, kernel: release(), result, capture: host.toCapture(AGENT, note) }, null, 2)}\n`,
);
