/**
 * HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion as JSON (Get-ItemProperty … | Select-Object … |
 * ConvertTo-Json): "CurrentBuild": "26100" (string), "UBR": 2033 (DWORD), "DisplayVersion": "24H2"
 * (20H2 and later; ReleaseId stays "2009"), "ProductName": "Windows 10 Enterprise" — still "Windows 10"
 * on Windows 11, so the name is derived from the build: 22000 and above is Windows 11 on clients.
 */
import type { OsVersionObservation } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export function parseWindowsCurrentVersion(v: Record<string, unknown>): OsVersionObservation {
  const build = Number(v.CurrentBuild ?? v.CurrentBuildNumber);
  if (!Number.isSafeInteger(build) || build <= 0)
    throw new UnexpectedOutputError(`CurrentBuild is ${JSON.stringify(v.CurrentBuild)}`);
  const ubr =
    typeof v.UBR === 'number'
      ? v.UBR
      : typeof v.UBR === 'string' && /^(0x)?[0-9a-f]+$/i.test(v.UBR)
        ? Number(v.UBR)
        : undefined;
  const productName = typeof v.ProductName === 'string' ? v.ProductName : 'Windows';
  const server =
    v.InstallationType === 'Server' || v.InstallationType === 'Server Core' || /Server/i.test(productName);
  const name = !server && build >= 22000 ? productName.replace(/^Windows 10\b/, 'Windows 11') : productName;
  const obs: OsVersionObservation = {
    platform: 'windows',
    name,
    version: `10.0.${build}${ubr === undefined ? '' : `.${ubr}`}`,
    build: String(build),
  };
  if (ubr !== undefined) obs.ubr = ubr;
  const display =
    typeof v.DisplayVersion === 'string'
      ? v.DisplayVersion
      : typeof v.ReleaseId === 'string'
        ? v.ReleaseId
        : undefined;
  if (display) obs.displayVersion = display;
  if (typeof v.EditionID === 'string') obs.edition = v.EditionID;
  return obs;
}
