/** streamLines (src/host/exec.ts): the long-running-process half of the exec module, on real programs. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { streamLines, type LineStreamExit } from '../../../src/host/exec.js';

function run(command: string, args: string[], maxLineBytes?: number) {
  const lines: string[] = [];
  const exited = new Promise<LineStreamExit>((resolve) => {
    const stream = streamLines({
      command,
      args,
      maxLineBytes,
      onLine: (l) => lines.push(l),
      onExit: resolve,
    });
    void stream;
  });
  return { lines, exited };
}

describe('streamLines', () => {
  it('delivers stdout line by line and reports the exit', async () => {
    const { lines, exited } = run('/usr/bin/seq', ['1', '5']);
    expect(await exited).toMatchObject({ ok: true, exitCode: 0 });
    expect(lines).toEqual(['1', '2', '3', '4', '5']);
  });

  it('kills a process whose line grows past the cap', async () => {
    const { exited } = run('/usr/bin/head', ['-c', '200000', '/dev/zero'], 1024);
    expect(await exited).toMatchObject({ ok: false, error: 'output_too_large' });
  });

  it('refuses a relative path and reports a missing program', async () => {
    expect(await run('sleep', ['1']).exited).toMatchObject({ ok: false, error: 'spawn_failed' });
    expect(await run('/nonexistent/nft', []).exited).toMatchObject({ ok: false, error: 'command_missing' });
  });

  it('stop() ends the process and reports nothing', async () => {
    let exits = 0;
    const stream = streamLines({
      command: '/usr/bin/sleep',
      args: ['100'],
      onLine: () => undefined,
      onExit: () => exits++,
    });
    expect(stream.pid).toBeGreaterThan(0);
    await stream.stop();
    expect(() => process.kill(stream.pid ?? 0, 0)).toThrow();
    expect(exits).toBe(0);
  });

  it('a child does not outlive a daemon killed with SIGKILL (Linux: setpriv --pdeathsig)', async () => {
    // A node process in the daemon's place, on the built exec module, starts a long-running child
    // and prints its pid; then it is killed outright, as kill -9 would.
    const script = `import { streamLines } from ${JSON.stringify(join(process.cwd(), 'dist/host/exec.js'))};
      const s = streamLines({ command: '/usr/bin/sleep', args: ['300'], onLine() {}, onExit() {} });
      console.log(s.pid); setInterval(() => {}, 1000);`;
    const daemon = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      daemon.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      daemon.once('exit', () => reject(new Error('the stand-in daemon exited early')));
    });
    expect(childPid).toBeGreaterThan(0);
    expect(() => process.kill(childPid, 0)).not.toThrow();
    daemon.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(childPid)).toBe(false);
  });
});

/** Whether a pid is a live process (a zombie reaped by init counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}
