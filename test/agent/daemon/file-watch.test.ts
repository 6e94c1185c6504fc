/**
 * File watches on real files in a temp folder (inotify through node:fs.watch): edited in place,
 * replaced by rename as dpkg and editors do (several times: the watch must survive each), a
 * watched folder, and a path whose folder appears only later.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileWatchSource } from '../../../src/agent/daemon/events/file-watch.js';
import type { SourceProblem, Trigger } from '../../../src/agent/daemon/events/trigger.js';
import { manualTimers } from './manual-timers.js';

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fileWatchSource on real files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `pa-watch-${process.pid}-`));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sees a file edited in place and replaced by rename, again and again', async () => {
    const status = join(dir, 'status');
    await writeFile(status, 'Package: a\n');
    const triggers: Trigger[] = [];
    const source = fileWatchSource({
      paths: [{ path: status, checks: ['patch_level'] }],
      onTrigger: (t) => triggers.push(t),
    });
    await source.start();
    try {
      await writeFile(join(dir, 'unrelated'), 'x'); // another file in the folder: ignored
      await writeFile(status, 'Package: b\n');
      await until('the in-place edit', () => triggers.length > 0);
      for (let i = 0; i < 3; i++) {
        const before = triggers.length;
        await writeFile(join(dir, 'status-new'), `Package: c${i}\n`);
        await rename(join(dir, 'status-new'), status); // dpkg's way
        await until(`replacement ${i}`, () => triggers.length > before);
      }
      expect(triggers.every((t) => t.source === 'file_change' && t.checks.join() === 'patch_level')).toBe(
        true,
      );
      expect(triggers.some((t) => t.detail.includes('unrelated'))).toBe(false);
    } finally {
      await source.stop();
    }
  });

  it('watches a folder target (e.g. /etc/ufw) for any file in it', async () => {
    const ufw = join(dir, 'ufw');
    await mkdir(ufw);
    const triggers: Trigger[] = [];
    const source = fileWatchSource({
      paths: [{ path: ufw, checks: ['firewall'] }],
      onTrigger: (t) => triggers.push(t),
    });
    await source.start();
    try {
      await writeFile(join(ufw, 'ufw.conf'), 'ENABLED=yes\n');
      await until('the change in the folder', () => triggers.length > 0);
      expect(triggers[0]?.checks).toEqual(['firewall']);
      expect(triggers[0]?.detail).toContain('ufw.conf');
    } finally {
      await source.stop();
    }
  });

  it('a path whose folder is missing is reported, then watched once it exists', async () => {
    const firewalld = join(dir, 'firewalld', 'firewalld.conf');
    const timers = manualTimers();
    const triggers: Trigger[] = [];
    const problems: SourceProblem[] = [];
    const source = fileWatchSource({
      paths: [{ path: firewalld, checks: ['firewall'] }],
      onTrigger: (t) => triggers.push(t),
      onProblem: (p) => problems.push(p),
      timers,
      retryMs: 60_000,
    });
    await source.start();
    try {
      expect(problems.map((p) => p.code)).toEqual(['watch_failed']);
      expect(source.watching()).toEqual([]);
      await mkdir(join(dir, 'firewalld'));
      await timers.advance(60_000);
      await until('the retry to watch', () => source.watching().length === 1);
      await writeFile(firewalld, 'DefaultZone=public\n');
      await until('the change', () => triggers.length > 0);
    } finally {
      await source.stop();
    }
  });
});
