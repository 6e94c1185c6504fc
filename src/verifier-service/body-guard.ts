/**
 * Request bodies the service accepts: JSON only, never compressed. Fastify parses text/plain too by
 * default, and does not look at Content-Encoding, so a gzip body reached JSON.parse and a text body
 * reached the handlers as a string; both are 415 here, before any handler runs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problem } from './problem.js';

export async function refuseEncodedBody(req: FastifyRequest, reply: FastifyReply) {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity')
    return problem(
      reply,
      415,
      'unsupported_content_encoding',
      'Send the body uncompressed (no Content-Encoding).',
    );
  return undefined;
}

export function acceptJsonBodiesOnly(app: FastifyInstance) {
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', refuseEncodedBody);
}
