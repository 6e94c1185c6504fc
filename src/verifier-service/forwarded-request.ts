/**
 * The original request behind a forward-auth call, read from exactly the headers that the calling
 * proxy sets, and from nothing a client can add on its own. Each trusted peer is configured with its
 * kind (config `trustedProxies: [{address, proxy}]`), because every proxy sets different headers and
 * passes the rest of the client's headers along unchanged:
 *
 * - nginx `auth_request`: our documented location sets `X-Original-Method $request_method` and
 *   `X-Original-URL $scheme://$http_host$request_uri` with `proxy_set_header`, which replaces any
 *   client header of the same name (nginx 1.22, checked with the real nginx in
 *   test/verifier-service/forwarded-headers.real.test.ts). Every other header the client sent is
 *   passed to the subrequest, so X-Forwarded-* from nginx's client are ignored.
 * - Caddy `forward_auth`: sets `X-Forwarded-Method {method}` and `X-Forwarded-Uri {uri}` (header_up,
 *   replacing), and since 2.5 `reverse_proxy` overwrites `X-Forwarded-Proto`/`-Host` from clients it
 *   does not trust (caddyserver.com/docs/caddyfile/directives/forward_auth; Caddy 2.5.0 release notes).
 *   It passes `X-Original-URL` and the like along untouched, so they are never read for Caddy.
 * - Traefik `ForwardAuth`: `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` (doc.traefik.io, ForwardAuth,
 *   "Forward-Request Headers"); with `trustForwardHeader: false` (its default) it overwrites them.
 * - Envoy `ext_authz` (HTTP service): the check request keeps the original method, its path is
 *   `path_prefix` + the original path, `Host` is the original authority, and `x-forwarded-proto` is
 *   what Envoy set from the downstream connection (an edge Envoy sanitises a client's copy), sent when
 *   listed in `allowed_headers` (envoyproxy.io: ext_authz HttpService; HTTP header manipulation).
 *
 * Each part is then validated (scheme http/https; host per RFC 3986 `host [":" port]`, no userinfo,
 * no percent-encoding; path from `/` with no control characters or whitespace), and the path must be
 * canonical: no dot segments (also `..;`), no percent-encoded unreserved characters (`%2e`, `%41`…),
 * no encoded slash or backslash, no backslash, no empty segment. A canonical path is the same path
 * the proxy routes on after its own normalisation, so the proof is checked against what the upstream
 * will serve.
 */
import { isIPv6 } from 'node:net';

export const PROXY_KINDS = ['nginx', 'caddy', 'traefik', 'envoy'] as const;
export type ProxyKind = (typeof PROXY_KINDS)[number];

export interface OriginalRequest {
  method: string;
  url: string;
}

/** Why no original request could be taken: each is its own reason code. */
export type ForwardedFailure =
  | { code: 'original_request_unknown'; part?: undefined }
  | { code: 'forwarded_header_repeated'; part: string }
  | { code: 'forwarded_request_invalid'; part: 'method' | 'scheme' | 'host' | 'path' | 'url' }
  | { code: 'path_not_canonical'; part: 'path' };

export type ForwardedResult = ({ ok: true } & OriginalRequest) | ({ ok: false } & ForwardedFailure);

/** What forward-auth needs of the incoming request (Fastify's or Node's request fits). */
export interface ForwardAuthCall {
  method: string;
  /** The path the proxy called on the verifier, e.g. `/v1/forward-auth/payroll/2026` from Envoy. */
  url: string;
  rawHeaders: readonly string[];
}

export const FORWARD_AUTH_PATH = '/v1/forward-auth';

/** One header's value, or `repeated` when it came more than once; names compared case-insensitively. */
function single(rawHeaders: readonly string[], name: string): string | undefined | { repeated: string } {
  let value: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i] as string;
    if (key.length !== name.length || key.toLowerCase() !== name) continue;
    if (value !== undefined) return { repeated: name };
    value = rawHeaders[i + 1] as string;
  }
  return value;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/; // RFC 9110 method token
const REG_NAME = /^[A-Za-z0-9._~!$&'()*+,;=-]{1,253}$/; // RFC 3986 reg-name without pct-encoding
const PORT = /^[0-9]{1,5}$/;
// The path: RFC 3986 pchar and "/", plus "|", "^", "[", "]" that browsers send unencoded. The query:
// any printable ASCII but "#". Nothing else: no space, no control character, no raw non-ASCII byte.
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/|^[\]\\]*$/;
const QUERY = /^[\x21\x22\x24-\x7e]*$/;
const BAD_PCT = /%(?![0-9A-Fa-f]{2})/;
// Percent-encoded unreserved characters (RFC 3986 §6.2.2.2; %2E is "."), "/" (%2F) and "\\" (%5C).
const ENCODED_UNRESERVED_OR_SLASH = /%(2[dDeEfF]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[cCfF]|7[eE])/;

export function validHost(host: string): boolean {
  let name = host;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return false;
    name = host.slice(1, end);
    const rest = host.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return false;
    port = rest === '' ? undefined : rest.slice(1);
    if (!isIPv6(name)) return false;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (!REG_NAME.test(name)) return false;
  }
  return port === undefined || (PORT.test(port) && Number(port) <= 65535);
}

/** `invalid`, `not_canonical`, or undefined when the path (with its query) is fine. */
export function checkPath(pathAndQuery: string): 'invalid' | 'not_canonical' | undefined {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q + 1);
  if (!PATH.test(path) || !QUERY.test(query) || BAD_PCT.test(pathAndQuery)) return 'invalid';
  // A backslash is a separator to some servers and a character to others.
  if (path.includes('\\') || ENCODED_UNRESERVED_OR_SLASH.test(path)) return 'not_canonical';
  const segments = path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    if (s === '' && i < segments.length - 1) return 'not_canonical'; // "//"
    if (/^\.\.?(;|$)/.test(s)) return 'not_canonical'; // ".", "..", "..;x" (servlet containers)
  }
  return undefined;
}

/** Validates each part and joins them; the path is checked for canonical form. */
export function joinParts(
  method: string,
  scheme: string,
  host: string,
  pathAndQuery: string,
): ForwardedResult {
  if (!TOKEN.test(method)) return { ok: false, code: 'forwarded_request_invalid', part: 'method' };
  if (scheme !== 'http' && scheme !== 'https')
    return { ok: false, code: 'forwarded_request_invalid', part: 'scheme' };
  if (!validHost(host)) return { ok: false, code: 'forwarded_request_invalid', part: 'host' };
  const path = checkPath(pathAndQuery);
  if (path === 'invalid') return { ok: false, code: 'forwarded_request_invalid', part: 'path' };
  if (path === 'not_canonical') return { ok: false, code: 'path_not_canonical', part: 'path' };
  return { ok: true, method, url: `${scheme}://${host}${pathAndQuery}` };
}

function read(call: ForwardAuthCall, names: readonly string[]): string[] | ForwardedResult {
  const values: string[] = [];
  for (const name of names) {
    const v = single(call.rawHeaders, name);
    if (v === undefined) return { ok: false, code: 'original_request_unknown' };
    if (typeof v !== 'string') return { ok: false, code: 'forwarded_header_repeated', part: v.repeated };
    values.push(v);
  }
  return values;
}

/** nginx: X-Original-Method and X-Original-URL (`$scheme://$http_host$request_uri`). */
function fromNginx(call: ForwardAuthCall): ForwardedResult {
  const got = read(call, ['x-original-method', 'x-original-url']);
  if (!Array.isArray(got)) return got;
  const [method, url] = got as [string, string];
  const m = /^([a-z]+):\/\/([^/?#]*)(\/.*)$/s.exec(url);
  if (!m) return { ok: false, code: 'forwarded_request_invalid', part: 'url' };
  return joinParts(method, m[1] as string, m[2] as string, m[3] as string);
}

/** Caddy and Traefik: X-Forwarded-Method, -Proto, -Host, -Uri, all set by the proxy. */
function fromForwardedHeaders(call: ForwardAuthCall): ForwardedResult {
  const got = read(call, ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri']);
  if (!Array.isArray(got)) return got;
  const [method, proto, host, uri] = got as [string, string, string, string];
  return joinParts(method, proto, host, uri);
}

/** Envoy: its own method, the path after path_prefix, Host, and the X-Forwarded-Proto Envoy set. */
function fromEnvoy(call: ForwardAuthCall): ForwardedResult {
  if (!call.url.startsWith(`${FORWARD_AUTH_PATH}/`)) return { ok: false, code: 'original_request_unknown' };
  const got = read(call, ['host', 'x-forwarded-proto']);
  if (!Array.isArray(got)) return got;
  const [host, proto] = got as [string, string];
  return joinParts(call.method, proto, host, call.url.slice(FORWARD_AUTH_PATH.length));
}

export function originalRequest(kind: ProxyKind, call: ForwardAuthCall): ForwardedResult {
  switch (kind) {
    case 'nginx':
      return fromNginx(call);
    case 'caddy':
    case 'traefik':
      return fromForwardedHeaders(call);
    case 'envoy':
      return fromEnvoy(call);
  }
}
