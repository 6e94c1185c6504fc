/**
 * The helper's "updates" data: a Windows Update Agent search (Microsoft.Update.Session,
 * "IsInstalled=0 and IsHidden=0", offline against the last scan) plus the newest hotfix date:
 *   {"updates":[{"Title":"…","KBArticleIDs":["5032339"],"MsrcSeverity":"Important","Categories":["Security Updates"],
 *     "LastDeploymentChangeTime":"\/Date(1699920000000)\/","RebootRequired":false}],
 *    "rebootRequired":false,"lastSearchSuccessDate":"\/Date(…)\/","lastInstallationSuccessDate":"\/Date(…)\/",
 *    "lastHotfixInstalledOn":"\/Date(…)\/"}
 * An update is a security update when MSRC rated it or it is in the "Security Updates" category.
 * LastDeploymentChangeTime is when it was published, so how long it has been pending is known.
 */
import type { PatchLevelObservation, PendingUpdate } from '../../shared/posture.js';
import { UnexpectedOutputError } from '../types.js';
import { asArray, parseJsonDate } from '../../host/native-protocol.js';

export function parseWindowsUpdates(data: Record<string, unknown>): PatchLevelObservation {
  if (!('updates' in data)) throw new UnexpectedOutputError('the updates helper printed no "updates"');
  const updates: PendingUpdate[] = asArray(data.updates).map((u) => {
    if (typeof u.Title !== 'string') throw new UnexpectedOutputError('a pending update has no Title');
    const categories = asArray(u.Categories)
      .map((c) => String(c.Name ?? ''))
      .concat(
        Array.isArray(u.Categories) ? u.Categories.filter((c): c is string => typeof c === 'string') : [],
      );
    const severity = typeof u.MsrcSeverity === 'string' ? u.MsrcSeverity : '';
    const releasedAt = parseJsonDate(u.LastDeploymentChangeTime);
    return {
      name: u.Title,
      ...(Array.isArray(u.KBArticleIDs) && u.KBArticleIDs.length
        ? { version: `KB${String(u.KBArticleIDs[0])}` }
        : {}),
      security: severity !== '' || categories.includes('Security Updates'),
      ...(releasedAt ? { releasedAt } : {}),
      ...(u.RebootRequired === true ? { restartRequired: true } : {}),
    };
  });
  const lastSearch = parseJsonDate(data.lastSearchSuccessDate);
  const lastInstall =
    parseJsonDate(data.lastInstallationSuccessDate) ?? parseJsonDate(data.lastHotfixInstalledOn);
  return {
    manager: 'windows_update',
    pending: updates.length,
    securityPending: updates.filter((u) => u.security).length,
    updates: updates.sort((a, b) => Number(b.security) - Number(a.security)).slice(0, 100),
    ...(lastSearch ? { indexRefreshedAt: lastSearch } : {}),
    ...(lastInstall ? { lastInstallAt: lastInstall } : {}),
    rebootRequired: typeof data.rebootRequired === 'boolean' ? data.rebootRequired : null,
  };
}

/** Newest InstalledOn among Win32_QuickFixEngineering objects (`Get-HotFix | ConvertTo-Json`). */
export function newestHotfix(hotfixes: Record<string, unknown>[]): string | undefined {
  const dates = hotfixes.map((h) => parseJsonDate(h.InstalledOn)).filter((d): d is string => d !== undefined);
  return dates.sort().at(-1);
}
