/**
 * softwareupdate on every recorded format: tab or space indentation, "*" or "-" markers, K or KiB,
 * detail lines with or without a Recommended field; secondary sources degrade only what they decide.
 */
import { darwinPatchLevel, SOFTWAREUPDATE } from '../../src/probes/patch-level/darwin.js';
import {
  markMacSecurity,
  parseSoftwareUpdateList,
} from '../../src/probes/patch-level/parse-softwareupdate.js';
import { runProbe } from '../../src/probes/run.js';
import { UnexpectedOutputError } from '../../src/probes/types.js';
import { replayHost } from '../helpers/capture.js';
import { fixture } from '../helpers/fixtures.js';

const list = (file: string) => parseSoftwareUpdateList(fixture(`darwin/softwareupdate-list/${file}`));

describe('parseSoftwareUpdateList', () => {
  it('reads detail lines indented with spaces instead of a tab (macOS 12.1), K and KiB sizes', () => {
    const updates = list('space-indented-mixed-k-kib-macos12.1.txt');
    expect(updates.map((u) => [u.name, u.version, u.recommended, u.restartRequired])).toEqual([
      ['Command Line Tools for Xcode', '13.2', true, false],
      ['Command Line Tools for Xcode', '13.4', true, false],
      ['Command Line Tools for Xcode', '14.2', true, false],
      ['macOS Monterey 12.6.7', '12.6.7', true, true],
      ['macOS Ventura 13.4.1', '13.4.1', true, true],
    ]);
    const marked = markMacSecurity(updates, '12.1');
    expect(marked.filter((u) => u.security).map((u) => u.name)).toEqual(['macOS Monterey 12.6.7']);
  });

  it('reads "-" items with 6-space indented old-format details (OS X 10.9)', () => {
    const updates = list('old-format-dash-items-space-indented-macos10.9.txt');
    expect(updates.map((u) => [u.name, u.version])).toEqual([
      ['Command Line Developer Tools for OS X Mavericks', '5.1.0.0'],
      ['Safari', '7.1'],
      ['Command Line Tools (OS X 10.9)', '6.0'],
      ['iBooks Update', '1.0.1'],
      ['iTunes', '11.4'],
    ]);
    expect(updates.every((u) => u.recommended === true)).toBe(true);
  });

  it('reads the macOS 26.5 list (KiB, trailing comma)', () => {
    const updates = list('label-format-kib-macos26.5-mac-mini.txt');
    expect(updates.map((u) => [u.name, u.restartRequired])).toEqual([
      ['Command Line Tools for Xcode 26.5', false],
      ['macOS Tahoe 26.5', true],
    ]);
  });

  // No recorded item without "Recommended:" was found (test/fixtures/SOURCES.md); this line is a
  // recorded one with the field removed, to pin down what an absent field means.
  it('an item whose line has no Recommended field is not "not recommended": it can still be security', () => {
    const text = fixture('darwin/softwareupdate-list/label-format-kib-macos26.5-mac-mini.txt').replace(
      ' Recommended: YES,',
      '',
    );
    const updates = parseSoftwareUpdateList(text);
    expect(updates[0]?.recommended).toBeNull();
    const tahoe = updates.find((u) => u.name === 'macOS Tahoe 26.5');
    expect(tahoe?.recommended).toBe(true);
    expect(markMacSecurity(updates, '26.4').find((u) => u.name === 'macOS Tahoe 26.5')?.security).toBe(true);
  });

  it.each(['* Label: x\n', '* Label: x\nsomething\n', 'Segmentation fault', ''])('refuses %p', (text) =>
    expect(() => parseSoftwareUpdateList(text)).toThrow(UnexpectedOutputError),
  );
});

describe('macOS patch probe degrades per source', () => {
  const base = [
    {
      command: SOFTWAREUPDATE,
      args: ['--list', '--no-scan'],
      stdout: fixture('darwin/softwareupdate-list/space-indented-mixed-k-kib-macos12.1.txt'),
    },
  ];
  it('garbage from sw_vers and defaults is noted; the list is still reported', async () => {
    const host = replayHost({
      os: 'darwin',
      commands: [
        ...base,
        { command: '/usr/bin/sw_vers', args: [], stdout: 'garbage' },
        {
          command: '/usr/bin/defaults',
          args: ['read', '/Library/Preferences/com.apple.SoftwareUpdate', 'LastSuccessfulDate'],
          stdout: 'yesterday\n',
        },
      ],
    });
    const result = await runProbe(host, darwinPatchLevel);
    expect(result.status === 'observed' && result.observation).toMatchObject({
      pending: 5,
      // Without the running version, the Ventura upgrade counts as security too (the stricter reading).
      securityPending: 2,
      unreadable: [
        expect.objectContaining({ source: 'sw_vers', reason: 'unexpected_output' }),
        expect.objectContaining({ reason: 'unexpected_output' }),
      ],
    });
    expect(result.status === 'observed' && 'indexRefreshedAt' in (result.observation as object)).toBe(false);
  });
});
