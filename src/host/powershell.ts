/** Windows PowerShell 5.1 by absolute path, for the probe helper and the device-key helper alike. */
export function powershellPath(systemRoot: string): string {
  return `${systemRoot}\\System32\\WindowsPowerShell\\v1.0\\powershell.exe`;
}

/** Windows PowerShell 5.1 running one script: no profile, no prompts, by absolute path. */
export function powershellScript(
  systemRoot: string,
  script: string,
  args: readonly string[],
): { command: string; args: string[] } {
  return {
    command: powershellPath(systemRoot),
    args: [
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-File',
      script,
      ...args,
    ],
  };
}
