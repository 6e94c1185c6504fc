/** The agent's name and version come from package.json, the one source. */
import { readFileSync } from 'node:fs';
import { AGENT } from '../../src/host/agent-info.js';

it('AGENT is package.json name and version', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };
  expect(AGENT).toEqual({ name: pkg.name, version: pkg.version });
});
