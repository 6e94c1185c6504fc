// A stand-in for the native event helpers (native-probes/darwin/posture-events,
// native-probes/windows/posture-events.ps1): prints lines of their protocol (native-probes/PROTOCOL.md,
// "Event helpers") and garbage, as the mode asks. Run by the test as `node native-events-helper.mjs <mode>`.
//   script: ready, network, a non-JSON line, a JSON line outside the protocol, sleep, wake; exits 3
//   hang:   ready, then waits to be killed
//   garbage: prints non-protocol lines for ever (until killed)
import process from 'node:process';
import { setInterval } from 'node:timers';

const mode = process.argv[2] ?? 'script';

function print(lines) {
  return new Promise((resolve) => process.stdout.write(lines.map((l) => `${l}\n`).join(''), resolve));
}

if (mode === 'script') {
  await print([
    '{"v":1,"event":"ready"}',
    '{"v":1,"event":"network","detail":"State:/Network/Global/IPv4"}',
    'Register-WmiEvent : Access denied',
    '{"v":2,"event":"wake"}',
    '{"v":1,"event":"sleep"}',
    '{"v":1,"event":"wake"}',
  ]);
  process.stderr.write('fake helper done\n');
  process.exit(3);
} else if (mode === 'hang') {
  await print(['{"v":1,"event":"ready"}']);
  setInterval(() => undefined, 60_000);
} else if (mode === 'garbage') {
  const tick = () => void print(['not the protocol']);
  setInterval(tick, 5);
}
