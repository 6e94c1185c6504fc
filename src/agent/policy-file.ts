/** The policy a local check judges by: a policy file (JSON or YAML) when configured, else the built-in default. */
import { readFile } from 'node:fs/promises';
import { PostureError } from '../shared/errors.js';
import type { Policy } from '../shared/policy.js';
import { DEFAULT_POLICY, parsePolicy } from '../shared/policy.js';

export async function loadPolicyFile(path: string | undefined): Promise<Policy> {
  if (!path) return DEFAULT_POLICY;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PostureError(
      'ERR_POLICY_UNREADABLE',
      `cannot read policy file ${path} (${(error as NodeJS.ErrnoException).code ?? error}). Check the path.`,
    );
  }
  return parsePolicy(text, path);
}
