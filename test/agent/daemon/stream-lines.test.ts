/** streamLines (src/host/exec.ts): the long-running-process half of the exec module, on real programs. */
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
});
