/** The human table of `posture check`. */
import type { Evaluation } from '../shared/evaluate.js';
import type { AnyCheckResult, PostureReport } from '../shared/posture.js';
import { summarizeObservation } from '../shared/summary.js';

const LABELS: Record<string, string> = {
  disk_encryption: 'Disk encryption',
  os_version: 'OS version',
  firewall: 'Firewall',
  patch_level: 'Patch level',
};

export function formatCheckTable(report: PostureReport, evaluation: Evaluation, width = 100): string {
  const lines: string[] = [];
  const source = report.replayedFrom
    ? `replay of ${report.replayedFrom}`
    : (report.device.hostname ?? 'this device');
  lines.push(
    `Posture of ${source} (${report.platform}) at ${report.collectedAt}, policy ${evaluation.policyRevision}`,
  );
  lines.push('');
  for (const v of evaluation.checks) {
    const result = report.checks[v.check] as AnyCheckResult | undefined;
    const verdict = v.verdict.toUpperCase().replace('_', ' ');
    lines.push(
      `${(LABELS[v.check] ?? v.check).padEnd(16)} ${verdict.padEnd(14)} ${result ? summarizeObservation(result) : 'not collected'}`,
    );
    if (v.verdict !== 'pass') lines.push(...wrap(`why: ${v.reason}`, width));
    else lines.push(...wrap(v.reason, width));
    if (v.remediation && v.verdict !== 'pass' && v.verdict !== 'not_applicable')
      lines.push(...wrap(`fix: ${v.remediation}`, width));
  }
  lines.push('');
  lines.push(`Overall: ${evaluation.overall.toUpperCase()}`);
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const indent = ' '.repeat(32);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + word.length + 1 > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}
