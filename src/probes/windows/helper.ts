/** Runs the Windows PowerShell helper for one probe: powershell.exe by absolute path, -File, no profile. */
import type { Unknown } from '../../shared/posture.js';
import type { ProbeContext } from '../types.js';
import { UnexpectedOutputError } from '../types.js';
import { parseNativeOutput } from '../../host/native-protocol.js';
import { powershellScript } from '../../host/powershell.js';

export interface WindowsPaths {
  /** %SystemRoot%, normally C:\Windows. */
  systemRoot: string;
  /** Absolute path of native-probes/windows/posture-probe.ps1 as installed. */
  helperScript: string;
}

export async function runHelper(
  ctx: ProbeContext,
  paths: WindowsPaths,
  probe: 'bitlocker' | 'firewall' | 'os_version' | 'updates',
  timeoutMs = 30_000,
): Promise<{ data: Record<string, unknown> } | { unknown: Unknown }> {
  const out = await ctx.run({
    ...powershellScript(paths.systemRoot, paths.helperScript, ['-Probe', probe]),
    timeoutMs,
  });
  if (!out.ok) return { unknown: ctx.unknownFrom(out) };
  try {
    const result = parseNativeOutput(out.stdout, probe);
    if (!result.ok) return { unknown: ctx.unknown(result.reason, result.message) };
    return { data: result.data };
  } catch (error) {
    if (error instanceof UnexpectedOutputError) {
      const stderr = out.stderr.trim().slice(0, 160);
      return {
        unknown: ctx.unknown('unexpected_output', `${error.message}${stderr ? ` (stderr: ${stderr})` : ''}`),
      };
    }
    throw error;
  }
}

/** The helper's install path and %SystemRoot% as a capture recorded them, so a replay asks for the same commands. */
export function windowsPathsFromCommands(
  commands: readonly { command: string; args: readonly string[] }[],
): WindowsPaths | undefined {
  for (const c of commands) {
    const suffix = '\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
    const file = c.args.indexOf('-File');
    const script = file >= 0 ? c.args[file + 1] : undefined;
    if (c.command.toLowerCase().endsWith(suffix.toLowerCase()) && script) {
      return { systemRoot: c.command.slice(0, -suffix.length), helperScript: script };
    }
  }
  return undefined;
}
