/**
 * `/usr/libexec/ApplicationFirewall/socketfilterfw` (no root needed). The wording changed across
 * releases; the state number did not, so it decides:
 *   --getglobalstate  "Firewall is enabled. (State = 1)"  "Firewall is disabled. (State = 0)"
 *                     "Firewall is enabled. (State = 2)" (≤ 13)  "Firewall is blocking all non-essential incoming connections. (State = 2)" (15)
 *   --getstealthmode  "Stealth mode enabled" / "Stealth mode disabled" (≤ 13); "Firewall stealth mode is on" / "… off" (14+)
 *   --getblockall     "Block all DISABLED!" / "Block all ENABLED!" (≤ 13); "Firewall has block all state set to disabled." (14+)
 * The plist /Library/Preferences/com.apple.alf.plist is gone in macOS 15 and is not read.
 */
import { UnexpectedOutputError } from '../types.js';

export function parseGlobalState(text: string): 'off' | 'on' | 'block_all' {
  const state = /\(State = (\d)\)/.exec(text)?.[1];
  if (state === '0') return 'off';
  if (state === '1') return 'on';
  if (state === '2') return 'block_all';
  throw new UnexpectedOutputError(`socketfilterfw --getglobalstate printed "${text.trim().slice(0, 80)}"`);
}

export function parseStealthMode(text: string): boolean {
  const t = text.trim();
  if (/^Stealth mode enabled|stealth mode is on/i.test(t)) return true;
  if (/^Stealth mode disabled|stealth mode is off/i.test(t)) return false;
  throw new UnexpectedOutputError(`socketfilterfw --getstealthmode printed "${t.slice(0, 80)}"`);
}

export function parseBlockAll(text: string): boolean {
  const t = text.trim();
  if (/^Block all ENABLED|block all state set to enabled/i.test(t)) return true;
  if (/^Block all DISABLED|block all state set to disabled/i.test(t)) return false;
  throw new UnexpectedOutputError(`socketfilterfw --getblockall printed "${t.slice(0, 80)}"`);
}

/** `pfctl -s info` (root only): "Status: Enabled for 0 days 00:12:31           Debug: Urgent". */
export function parsePfInfo(text: string): boolean {
  const status = /^Status:\s*(Enabled|Disabled)/m.exec(text)?.[1];
  if (!status) throw new UnexpectedOutputError('pfctl -s info printed no "Status:" line');
  return status === 'Enabled';
}
