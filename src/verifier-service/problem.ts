/** Error answers: a JSON body with a stable `error` code and a message saying what to do. */
import type { FastifyReply } from 'fastify';

export function problem(
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  extra: object = {},
) {
  return reply
    .code(status)
    .type('application/json')
    .send({ error, message, ...extra });
}

/** The paths of the fields a schema refused, for the `issues` list of a 400. */
export function issuePaths(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey> }>): string[] {
  return issues.map((i) => i.path.map(String).join('.') || '(root)');
}
