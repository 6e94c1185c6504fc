/**
 * `Get-NetFirewallProfile -PolicyStore ActiveStore | ConvertTo-Json` (Windows PowerShell 5.1):
 * an array of objects with "Name" (or the alias "Profile"): "Domain" | "Private" | "Public", and
 * "Enabled": GpoBoolean as a number, 1 True, 0 False, 2 NotConfigured (booleans with -EnumsAsStrings
 * or PowerShell 7 may print true/false or "True"/"False"). The active store already includes Group Policy.
 */
import type { FirewallComponent } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';

export function parseNetFirewallProfiles(profiles: Record<string, unknown>[]): FirewallComponent[] {
  const byName = new Map<string, FirewallComponent>();
  for (const p of profiles) {
    const name = String(p.Name ?? p.Profile ?? '').toLowerCase();
    if (!['domain', 'private', 'public'].includes(name))
      throw new UnexpectedOutputError(`firewall profile named "${name}"`);
    const e = p.Enabled;
    const enabled =
      e === 1 || e === true || e === 'True' ? true : e === 0 || e === false || e === 'False' ? false : null;
    byName.set(
      name,
      enabled === null
        ? {
            name,
            enabled: null,
            reason: 'unexpected_output',
            detail: `Enabled is ${JSON.stringify(e)} (not configured in the active store?)`,
          }
        : { name, enabled, detail: enabled ? 'on' : 'off' },
    );
  }
  for (const name of ['domain', 'private', 'public']) {
    if (!byName.has(name))
      byName.set(name, {
        name,
        enabled: null,
        reason: 'unexpected_output',
        detail: 'profile missing from the output',
      });
  }
  return ['domain', 'private', 'public'].map((n) => byName.get(n) as FirewallComponent);
}
