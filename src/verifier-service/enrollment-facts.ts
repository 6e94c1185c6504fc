/**
 * The facts a device reports at enrollment (shown in admin listings): each known field a short,
 * display-safe string; anything else refuses the enrollment with 400 naming the fields, instead of
 * being dropped while the enrollment succeeds.
 */
import { z } from 'zod';
import { issuePaths } from './problem.js';
import { displayText } from './text-safety.js';

const enrollFacts = z
  .object({
    hostname: displayText(255).optional(),
    model: displayText(255).optional(),
    serial: displayText(255).optional(),
    os: displayText(255).optional(),
  })
  .strict();

export type EnrollFacts = z.output<typeof enrollFacts>;

export function parseEnrollFacts(
  value: unknown,
): { ok: true; facts: EnrollFacts } | { ok: false; fields: string[] } {
  const result = enrollFacts.safeParse(value ?? {});
  if (result.success) return { ok: true, facts: result.data };
  const fields = result.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => `facts.${k}`)
      : issuePaths([i]).map((p) => (p === '(root)' ? 'facts' : `facts.${p}`)),
  );
  return { ok: false, fields: [...new Set(fields)] };
}
