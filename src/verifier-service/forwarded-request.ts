/** The original request, from forwarded headers set by a trusted proxy (nginx, Caddy, Traefik, Envoy). */
import type { FastifyRequest } from 'fastify';

export interface OriginalRequest {
  method: string;
  url: string;
}

export function originalRequest(req: FastifyRequest): OriginalRequest | undefined {
  const h = req.headers;
  const one = (name: string) => {
    const v = h[name];
    return typeof v === 'string' && !v.includes(',') ? v : undefined;
  };
  const method = one('x-original-method') ?? one('x-forwarded-method');
  const originalUrl = one('x-original-url');
  if (method && originalUrl) return { method, url: originalUrl };
  const proto = one('x-forwarded-proto');
  const host = one('x-forwarded-host') ?? one('host');
  const uri = one('x-forwarded-uri');
  if (method && proto && host && uri) return { method, url: `${proto}://${host}${uri}` };
  // Envoy ext_authz (HTTP): the original method, and the original path after /v1/forward-auth.
  const envoyPath = req.url.startsWith('/v1/forward-auth/')
    ? req.url.slice('/v1/forward-auth'.length)
    : undefined;
  if (envoyPath && proto && host) return { method: req.method, url: `${proto}://${host}${envoyPath}` };
  return undefined;
}
