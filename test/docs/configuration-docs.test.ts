/**
 * The configuration docs list exactly the settings the code accepts in a configuration file, in
 * docs/configuration.md and in the README's table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTING_NAMES } from '../../src/agent/config.js';

const read = (path: string) => readFileSync(join(process.cwd(), path), 'utf8');

/** The setting names in the first column of a Markdown table (`name` or `a`, `b`). */
function tableSettings(markdown: string): string[] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] as string));
}

describe('configuration docs', () => {
  it('docs/configuration.md lists every setting a file may hold, and no other', () => {
    expect(tableSettings(read('docs/configuration.md')).sort()).toEqual([...SETTING_NAMES].sort());
  });

  it('the README configuration table lists every setting', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('### Configuration'), readme.indexOf('## The checks'));
    expect(tableSettings(section).sort()).toEqual([...SETTING_NAMES].sort());
  });
});
