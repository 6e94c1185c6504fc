/**
 * A real Linux guest: Debian's kernel booted under qemu (TCG) by scripts/qemu-disk/run.sh, with the
 * storage layouts of scripts/qemu-disk/layouts.sh built inside it on virtual disks. The guest serves
 * a line protocol on a virtio-serial port (guest-init.sh): the host asks it to build a layout, then
 * every command and file the collector asks for is answered from inside that layout's root. `host`
 * is a Host whose run/readFile/stat go to the guest, so the agent's own collector decides what is
 * read. Not a fake: lsblk, /proc and /sys are the guest kernel's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import type { CommandOutcome, FileOutcome, Host, StatOutcome } from '../../src/host/host.js';

export const RUN_SCRIPT = 'scripts/qemu-disk/run.sh';
export const LAYOUTS_SCRIPT = 'scripts/qemu-disk/layouts.sh';

export interface DeclaredVolume {
  role: 'system' | 'home' | 'swap';
  where: string;
  state: 'encrypted' | 'unencrypted' | 'not_persistent';
  method?: string;
}

export interface QemuGuest {
  readonly host: Host;
  /** Builds a layout; `built` is the layout script's exit code, `truth` what it declared. */
  build(layout: string): Promise<{ built: number; truth: DeclaredVolume[] }>;
  /** Runs node with the collector inside the guest (slow under TCG); its JSON lands in outDir. */
  collectInGuest(layout: string): Promise<number>;
  teardown(): Promise<void>;
  quit(): Promise<void>;
  /** stderr of run.sh (kernel fetch, initramfs build, qemu). */
  log(): string;
}

/** `truth ROLE WHERE STATE [METHOD]` lines, as layouts.sh writes them. */
export function parseTruth(text: string): DeclaredVolume[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [role, where, state, method] = line.trim().split(/\s+/);
      if (
        (role !== 'system' && role !== 'home' && role !== 'swap') ||
        !where ||
        (state !== 'encrypted' && state !== 'unencrypted' && state !== 'not_persistent')
      ) {
        throw new Error(`truth line not understood: ${line}`);
      }
      return { role, where, state, ...(method ? { method } : {}) };
    });
}

/** The volume id the collector gives a declared volume. */
export function volumeId(v: DeclaredVolume): string {
  return v.role === 'swap' ? `[SWAP] ${v.where}` : v.where;
}

class Lines {
  private buffer = '';
  private readonly queued: string[] = [];
  private waiter: ((line: string) => void) | undefined;
  private closed: Error | undefined;
  private failWaiter: ((error: Error) => void) | undefined;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl = this.buffer.indexOf('\n');
      while (nl >= 0) {
        this.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
        nl = this.buffer.indexOf('\n');
      }
    });
    socket.on('close', () => this.fail(new Error('the guest closed its control port')));
    socket.on('error', (e) => this.fail(e));
  }

  private push(line: string): void {
    const w = this.waiter;
    this.waiter = undefined;
    this.failWaiter = undefined;
    if (w) w(line);
    else this.queued.push(line);
  }

  private fail(error: Error): void {
    this.closed = error;
    this.failWaiter?.(error);
  }

  next(timeoutMs: number): Promise<string> {
    const line = this.queued.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no answer from the guest within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiter = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.failWaiter = (e) => {
        clearTimeout(timer);
        reject(e);
      };
    });
  }
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

async function waitFor(path: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (child.exitCode !== null) throw new Error(`run.sh exited with ${child.exitCode} before qemu started`);
    if (Date.now() > until) throw new Error(`qemu did not open ${path} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Boots the guest (kernel fetched and initramfs built first by run.sh) and waits until it serves. */
export async function bootQemuGuest(repo: string, outDir: string): Promise<QemuGuest> {
  const socketPath = join(outDir, 'ctl.sock');
  const child = spawn(join(repo, RUN_SCRIPT), ['--serve', socketPath, outDir], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(socketPath, child, 300_000);
    const socket = await connect(socketPath);
    const lines = new Lines(socket);
    const [ready, release] = (await lines.next(180_000)).split(' ');
    if (ready !== 'READY' || !release)
      throw new Error(`the guest said ${String(ready).slice(0, 80)} instead of READY`);

    let queue: Promise<unknown> = Promise.resolve();
    const ask = <T>(request: string, parse: (answer: string) => T, timeoutMs = 120_000): Promise<T> => {
      const next = queue.then(async () => {
        socket.write(`${request}\n`);
        return parse(await lines.next(timeoutMs));
      });
      queue = next.catch(() => undefined);
      return next;
    };

    const host: Host = {
      platform: { os: 'linux', release, arch: 'x64' },
      run: (request) =>
        ask(
          `RUN ${1 + request.args.length}\n${[request.command, ...request.args].map(b64).join('\n')}`,
          (a) => toCommandOutcome(a, request.command),
        ),
      readFile: (path) => ask(`READ ${b64(path)}`, (a) => toFileOutcome(a, path)),
      stat: (path) => ask(`STAT ${b64(path)}`, (a) => toStatOutcome(a, path)),
      inventory: async () => ({}),
      now: () => new Date(),
    };

    return {
      host,
      build: (layout) =>
        ask(
          `LAYOUT ${layout}`,
          (a) => {
            const [word, rc, truth] = a.split(' ');
            if (word !== 'BUILT') throw new Error(`unexpected answer to LAYOUT: ${a.slice(0, 80)}`);
            return { built: Number(rc), truth: parseTruth(unb64(truth)) };
          },
          300_000,
        ),
      collectInGuest: (layout) => ask(`INGUEST ${layout}`, (a) => Number(a.split(' ')[1]), 300_000),
      teardown: () => ask('DONE', () => undefined),
      quit: async () => {
        socket.write('QUIT\n');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
        if (child.exitCode === null) child.kill('SIGTERM');
      },
      log: () => stderr,
    };
  } catch (error) {
    child.kill('SIGTERM');
    throw new Error(`${(error as Error).message}\n${stderr.slice(-4000)}`);
  }
}

function toCommandOutcome(answer: string, command: string): CommandOutcome {
  const [word, rc, out, err] = answer.split(' ');
  if (word === 'MISSING') return { ok: false, error: 'command_missing', detail: `${command} does not exist` };
  if (word !== 'RESULT') throw new Error(`unexpected answer to RUN: ${answer.slice(0, 80)}`);
  return { ok: true, exitCode: Number(rc), signal: null, stdout: unb64(out), stderr: unb64(err) };
}

function toFileOutcome(answer: string, path: string): FileOutcome {
  const [word, status, content] = answer.split(' ');
  if (word !== 'FILE') throw new Error(`unexpected answer to READ: ${answer.slice(0, 80)}`);
  if (status === 'ok') return { ok: true, content: unb64(content) };
  if (status === 'not_found') return { ok: false, error: 'not_found', detail: `${path} does not exist` };
  return { ok: false, error: 'read_failed', detail: `could not read ${path}` };
}

function toStatOutcome(answer: string, path: string): StatOutcome {
  const [word, status, mtime, kind] = answer.split(' ');
  if (word !== 'STAT') throw new Error(`unexpected answer to STAT: ${answer.slice(0, 80)}`);
  if (status !== 'ok') return { ok: false, error: 'not_found', detail: `${path} does not exist` };
  return { ok: true, mtimeMs: Number(mtime) * 1000, isDirectory: kind === 'dir' };
}
