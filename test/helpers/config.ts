import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../src/agent/config.js';
import { loadConfig } from '../../src/agent/config.js';

/** A config that reads no file of the machine and caches in a fresh temporary folder. */
export function testConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  const dir = mkdtempSync(join(tmpdir(), 'posture-test-'));
  return {
    ...loadConfig({
      env: { POSTURE_CACHE_DIR: join(dir, 'cache') },
      platform: 'linux',
      home: dir,
      uid: 1000,
      readText: () => undefined,
    }),
    ...overrides,
  };
}
