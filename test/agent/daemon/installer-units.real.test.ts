/**
 * The service definitions in installer/: the systemd unit checked by systemd's own analyzers
 * (verify, and the offline security audit with an exposure bound), the launchd plist parsed as
 * XML and checked against launchd.plist(5)'s keys. The Windows script cannot be run here (no
 * PowerShell, no Windows); docs/daemon.md says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describeWithPart, executable } from './real-parts.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const UNIT = 'installer/linux/posture-agent.service';
const PLIST = 'installer/darwin/com.posture-agent.daemon.plist';
/** The unit's overall exposure ("3.0 OK" when written); a change that weakens it fails here. */
const MAX_EXPOSURE = 3.5;

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describeWithPart(executable(SYSTEMD_ANALYZE), SYSTEMD_ANALYZE)(
  'installer/linux/posture-agent.service',
  () => {
    it('passes systemd-analyze verify; its only complaint here is the posture command not installed on this machine', async () => {
      const { code, out } = await run(SYSTEMD_ANALYZE, ['verify', UNIT]);
      const complaints = out.split('\n').filter((l) => l.trim() !== '');
      if (executable('/usr/bin/posture')) {
        expect({ code, complaints }).toEqual({ code: 0, complaints: [] });
      } else {
        expect(complaints).toEqual([
          'posture-agent.service: Command /usr/bin/posture is not executable: No such file or directory',
        ]);
      }
    });

    it('passes systemd-analyze verify cleanly with an ExecStart that exists', async () => {
      const dir = await mkdtemp(join(tmpdir(), `pa-unit-${process.pid}-`));
      try {
        const unit = (await readFile(UNIT, 'utf8')).replace(
          /^ExecStart=\/usr\/bin\/posture daemon$/m,
          `ExecStart=${process.execPath} --version`,
        );
        expect(unit).toContain(`ExecStart=${process.execPath}`);
        await writeFile(join(dir, 'posture-agent.service'), unit);
        expect(await run(SYSTEMD_ANALYZE, ['verify', join(dir, 'posture-agent.service')])).toEqual({
          code: 0,
          out: '',
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it(`has an offline security exposure of at most ${MAX_EXPOSURE}`, async () => {
      const threshold = String(Math.round(MAX_EXPOSURE * 10));
      const { code, out } = await run(SYSTEMD_ANALYZE, [
        'security',
        '--offline=true',
        `--threshold=${threshold}`,
        UNIT,
      ]);
      const exposure = /Overall exposure level for posture-agent\.service: (\d+\.\d)/.exec(out)?.[1];
      expect(exposure).toBeDefined();
      expect(Number(exposure)).toBeLessThanOrEqual(MAX_EXPOSURE);
      expect(code).toBe(0);
    });

    it('keeps what the probes need: V8 JIT, a real /home in mountinfo, the TPM, other users in /proc', async () => {
      const unit = await readFile(UNIT, 'utf8');
      expect(unit).toMatch(/^ExecStart=\/usr\/bin\/posture daemon$/m);
      expect(unit).toMatch(/^MemoryDenyWriteExecute=no$/m);
      expect(unit).toMatch(/^ProtectHome=read-only$/m);
      expect(unit).toMatch(/^DeviceAllow=\/dev\/tpmrm0 rw$/m);
      expect(unit).not.toMatch(/^ProtectProc=/m);
      expect(unit).not.toMatch(/^PrivateDevices=yes$/m);
      expect(unit).toMatch(/^RuntimeDirectoryMode=0755$/m);
    });
  },
);

/** A plist <dict>/<array> in fast-xml-parser's ordered form, turned into plain values. */
type Node = Record<string, unknown>;
function plistValue(node: Node): unknown {
  const tag = Object.keys(node).find((k) => k !== ':@') ?? '';
  const children = (node[tag] as Node[]) ?? [];
  const text = () => String((children[0] as Node | undefined)?.['#text'] ?? '');
  switch (tag) {
    case 'string':
      return text();
    case 'integer':
      return Number.parseInt(text(), 10);
    case 'true':
      return true;
    case 'false':
      return false;
    case 'array':
      return children.map(plistValue);
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < children.length; i += 2) {
        const key = String(((children[i] as Node).key as Node[])[0]?.['#text']);
        out[key] = plistValue(children[i + 1] as Node);
      }
      return out;
    }
    default:
      throw new Error(`unexpected plist element <${tag}>`);
  }
}

/** Keys this plist may use, each documented in launchd.plist(5). */
const LAUNCHD_KEYS = [
  'Label',
  'ProgramArguments',
  'UserName',
  'RunAtLoad',
  'KeepAlive',
  'ThrottleInterval',
  'ExitTimeOut',
  'ProcessType',
  'Umask',
  'WorkingDirectory',
  'StandardOutPath',
  'StandardErrorPath',
];

describe('installer/darwin/com.posture-agent.daemon.plist', () => {
  it('is well-formed XML and a launchd job for `posture daemon` as root, restarted on failure', async () => {
    const xml = await readFile(PLIST, 'utf8');
    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({
      preserveOrder: true,
      ignoreAttributes: false,
      parseTagValue: false,
    }).parse(xml) as Node[];
    const plist = parsed.find((n) => 'plist' in n) as Node;
    expect((plist[':@'] as Node)['@_version']).toBe('1.0');
    const job = plistValue((plist.plist as Node[])[0] as Node) as Record<string, unknown>;
    expect(Object.keys(job).filter((k) => !LAUNCHD_KEYS.includes(k))).toEqual([]);
    expect(job.Label).toBe(basename(PLIST, '.plist'));
    expect(job.ProgramArguments).toEqual(['/usr/local/bin/posture', 'daemon']);
    expect(job.UserName).toBe('root');
    expect(job.RunAtLoad).toBe(true);
    expect(job.KeepAlive).toEqual({ SuccessfulExit: false });
    expect(job.Umask).toBe(0o077);
    expect(job.ProcessType).toBe('Background');
    expect(Number(job.ExitTimeOut)).toBeGreaterThan(0);
  });
});
