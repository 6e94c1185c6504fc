/**
 * What a denied person is shown: the failing checks of a recent denial and how to fix each, kept for
 * a few minutes under its decision id. Decision ids are random UUIDs (122 random bits), handed only
 * to the denied request (`X-Posture-Decision`) and the decision log, so a page cannot be found by
 * guessing; and a page holds nothing secret anyway: no device id, no URL, no key, no token, only the
 * reason codes, the checks, and the sentences of the policy. Bounded by count and by age; a page is
 * kept by the replica that decided (behind several replicas, the proxy's page request may reach
 * another one, which then answers that the page has expired).
 */
import type { Decision } from '../verifier/verify-request.js';

export interface DenialReason {
  code: string;
  message: string;
  check?: string;
  remediation?: string;
}

export interface Denial {
  status: number;
  reasons: DenialReason[];
  at: number;
}

const MAX_PAGES = 10_000;
const MAX_REASONS = 16;
const MAX_TEXT = 1000;
export const DENIAL_PAGE_TTL_MS = 10 * 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

export class DenialPages {
  // Insertion order is age order: the oldest page is the first key.
  private readonly pages = new Map<string, Denial>();

  constructor(private readonly now: () => number) {}

  remember(decisionId: string, status: number, reasons: Decision['reasons'] | DenialReason[]): void {
    if (!UUID.test(decisionId)) return;
    if (this.pages.size >= MAX_PAGES) this.pages.delete(this.pages.keys().next().value as string);
    this.pages.set(decisionId, {
      status,
      at: this.now(),
      reasons: reasons.slice(0, MAX_REASONS).map((r) => ({
        code: r.code,
        message: clip(r.message),
        ...(r.check ? { check: r.check } : {}),
        ...(r.remediation ? { remediation: clip(r.remediation) } : {}),
      })),
    });
  }

  find(decisionId: string): Denial | undefined {
    if (!UUID.test(decisionId)) return undefined;
    const page = this.pages.get(decisionId);
    if (!page) return undefined;
    if (this.now() - page.at > DENIAL_PAGE_TTL_MS) {
      this.pages.delete(decisionId);
      return undefined;
    }
    return page;
  }
}
