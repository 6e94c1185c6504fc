/** Reads recorded outputs from test/fixtures (see test/fixtures/SOURCES.md for where each came from). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

export function fixtureJson(path: string): unknown {
  return JSON.parse(fixture(path));
}

export function fixtureNames(dir: string): string[] {
  return readdirSync(join(FIXTURES, dir)).sort();
}
