/**
 * `zypper --non-interactive --no-refresh -x list-updates` and `… -x list-patches --category security`
 * (XML, stable across SLES 12 to Leap 16): <stream><update-status><update-list><update kind="package"
 * name="…" edition="…"/> or <update kind="patch" name="openSUSE-…" category="security" status="needed">
 * with a child <issue-date time_t="1766061723" text="2025-12-18T12:42:03Z"/> (Leap 16; zypper 1.14.42
 * recorded here): when the patch was issued, the publication date the policy's age can count from.
 * <message type="error"> carries failures: a repository that could not be read (zypper 1.14.42, exit
 * 106, "Skipping repository … because of the above error") still prints an empty <update-list>, which
 * must not read as "nothing pending".
 */
import { createRequire } from 'node:module';
import type { XMLParser } from 'fast-xml-parser';
import type { PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

interface ZypperUpdate {
  kind: string;
  name: string;
  edition?: string;
  category?: string;
  status?: string;
  restart?: string;
  /** ISO time the patch was issued (from <issue-date time_t>), where zypper printed one. */
  issuedAt?: string;
}

let parser: XMLParser | undefined;

/**
 * The XML parser, loaded on first use: only openSUSE/SLES run zypper, so the agent (and its daemon)
 * elsewhere never holds fast-xml-parser in memory. Loaded synchronously (its CommonJS build, same
 * version) because the parsers are synchronous.
 */
function zypperXmlParser(): XMLParser {
  if (!parser) {
    const { XMLParser } = createRequire(import.meta.url)(
      'fast-xml-parser',
    ) as typeof import('fast-xml-parser');
    parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => name === 'update' || name === 'message',
    });
  }
  return parser;
}

export function parseZypperUpdates(xml: string): ZypperUpdate[] {
  let doc: Record<string, unknown>;
  try {
    doc = zypperXmlParser().parse(xml, true) as Record<string, unknown>;
  } catch (error) {
    throw new UnexpectedOutputError(
      `zypper did not print valid XML: ${(error as Error).message.slice(0, 80)}`,
    );
  }
  const stream = doc.stream as Record<string, unknown> | undefined;
  if (!stream) throw new UnexpectedOutputError('zypper XML has no <stream>');
  const errors = ((stream.message as { type?: string; '#text'?: string }[] | undefined) ?? []).filter(
    (m) => m.type === 'error',
  );
  if (errors.length > 0)
    throw new UnexpectedOutputError(
      `zypper reported: ${errors
        .map((e) => e['#text'] ?? '')
        .join('; ')
        .slice(0, 160)}`,
    );
  const status = stream['update-status'] as Record<string, unknown> | undefined;
  if (!status) throw new UnexpectedOutputError('zypper XML has no <update-status>');
  const list = status['update-list'];
  const updates =
    (typeof list === 'object' && list !== null ? (list as { update?: unknown[] }).update : undefined) ?? [];
  return updates.map((u) => {
    const r = u as Record<string, unknown>;
    if (typeof r.name !== 'string' || typeof r.kind !== 'string')
      throw new UnexpectedOutputError('zypper <update> lacks name or kind');
    const issuedAt = issueDate(r['issue-date']);
    return { ...(r as unknown as ZypperUpdate), ...(issuedAt ? { issuedAt } : {}) };
  });
}

/** <issue-date time_t="…" text="…"/>: seconds since 1970; anything else gives no date. */
function issueDate(element: unknown): string | undefined {
  if (typeof element !== 'object' || element === null) return undefined;
  const seconds = Number((element as { time_t?: unknown }).time_t);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Pending packages, marked security when a needed security patch names them is not known: patches are counted separately. */
export function zypperPending(
  packages: ZypperUpdate[],
  patches: ZypperUpdate[],
): { updates: PendingUpdate[]; securityPending: number; rebootRequired: boolean } {
  const needed = patches.filter(
    (p) => p.kind === 'patch' && p.category === 'security' && (p.status ?? 'needed') === 'needed',
  );
  const updates: PendingUpdate[] = [
    ...needed.map((p) => ({
      name: p.name,
      ...(p.edition ? { version: p.edition } : {}),
      security: true,
      ...(p.issuedAt ? { releasedAt: p.issuedAt } : {}),
      restartRequired: p.restart === 'true',
    })),
    ...packages
      .filter((p) => p.kind === 'package')
      .map((p) => ({ name: p.name, ...(p.edition ? { version: p.edition } : {}), security: false })),
  ];
  return {
    updates,
    securityPending: needed.length,
    rebootRequired: needed.some((p) => p.restart === 'true'),
  };
}
