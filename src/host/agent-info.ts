/**
 * The agent's name and version, read once from the package's own package.json (src/host and
 * dist/host are both two folders below it), so no second copy can drift from the release.
 */
import { readFileSync } from 'node:fs';

export interface AgentInfo {
  readonly name: string;
  readonly version: string;
}

function readAgentInfo(): AgentInfo {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name?: unknown;
    version?: unknown;
  };
  if (typeof pkg.name !== 'string' || typeof pkg.version !== 'string')
    throw new Error('package.json has no name or version');
  return Object.freeze({ name: pkg.name, version: pkg.version });
}

export const AGENT: AgentInfo = readAgentInfo();
