/**
 * The denial page: an HTML page that tells a person why the access proxy refused and how to fix it.
 * Every piece of text is escaped; the page loads nothing (no script, no image, no font) and its
 * Content-Security-Policy forbids it to.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Denial, DenialPages } from './denial-pages.js';

const CHECK_LABELS: Record<string, string> = {
  disk_encryption: 'Disk encryption',
  os_version: 'OS version',
  firewall: 'Firewall',
  patch_level: 'Patch level',
};

export const DENIAL_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/**
 * Escaped text whose `backtick spans` (the remediation texts name commands that way) become <code>
 * elements that do not wrap. The text is escaped first, so a span can only hold escaped text.
 */
export function richText(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}li{margin:0 0 1rem}.check{font-weight:600}.fix{background:#f4f6f8;border-left:4px solid #2563eb;padding:.5rem .75rem}
footer{color:#6b7280;font-size:.85rem;margin-top:2rem}code{font-size:.9em;white-space:nowrap;background:#e5e7eb;padding:0 .2em;border-radius:3px}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}</main></body></html>
`;
}

export function renderDenial(decisionId: string, denial: Denial): string {
  const title =
    denial.status === 403
      ? 'Access denied: this device does not meet the access policy'
      : 'Access needs a verified device';
  const items = denial.reasons
    .map((r) => {
      const what = r.check ? (CHECK_LABELS[r.check] ?? r.check) : 'Device check';
      const fix = r.remediation
        ? `<div class="fix"><strong>How to fix:</strong> ${richText(r.remediation)}</div>`
        : '';
      return `<li data-check="${escapeHtml(r.check ?? '')}" data-code="${escapeHtml(r.code)}"><div class="check">${escapeHtml(what)}</div><div>${richText(r.message)}</div>${fix}</li>`;
    })
    .join('\n');
  return page(
    title,
    `<p>What failed, and how to fix it:</p>
<ul>
${items}
</ul>
<p>When it is fixed, reload this page; if access is still denied, the new page says why. For anything you cannot fix yourself, give IT the reference below.</p>
<footer>Reference for IT: decision <code>${escapeHtml(decisionId)}</code>, ${escapeHtml(new Date(denial.at).toISOString())}</footer>`,
  );
}

export function renderExpired(): string {
  return page(
    'Access denied',
    '<p>The details of this denial have expired or are not known here. Reload the page to try again; if access is still denied, the new page says why.</p>',
  );
}

/** Whether the person's client asked for a web page (a browser navigation), not JSON. */
export function wantsHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

/** `GET /v1/denied/:id`: the page for a recent denial (nginx's `error_page` fetches it). */
export async function denialPage(pages: DenialPages, req: FastifyRequest, reply: FastifyReply) {
  const id = (req.params as { id: string }).id;
  const denial = pages.find(id);
  if (!denial) return reply.code(404).headers(DENIAL_PAGE_HEADERS).send(renderExpired());
  return reply.code(denial.status).headers(DENIAL_PAGE_HEADERS).send(renderDenial(id, denial));
}
