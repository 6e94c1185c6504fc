/**
 * writeFileAtomic: the target is replaced whole; temporaries of the same target left by a writer
 * that no longer runs (killed mid-write) are removed by the next write; those of a running writer,
 * and other files, are left alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/host/write-atomic.js';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `pa-atomic-${process.pid}-`));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the target and clears temporaries of writers that no longer run', async () => {
    const target = join(dir, 'enrollment.json');
    writeFileSync(target, '{"old":true}');
    // A pid that ran and ended: a writer killed in the middle.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const abandoned = `enrollment.json.${gone}.0123456789ab.tmp`;
    const live = `enrollment.json.1.0123456789ab.tmp`; // pid 1 runs
    const otherTarget = `device-key.json.${gone}.0123456789ab.tmp`;
    for (const n of [abandoned, live, otherTarget, 'enrollment.json.bak'])
      writeFileSync(join(dir, n), '{"half');

    await writeFileAtomic(target, '{"new":true}');

    expect(JSON.parse(readFileSync(target, 'utf8'))).toEqual({ new: true });
    expect(readdirSync(dir).sort()).toEqual(
      ['enrollment.json', 'enrollment.json.bak', live, otherTarget].sort(),
    );
  });
});
