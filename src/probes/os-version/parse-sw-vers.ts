/**
 * `/usr/bin/sw_vers`: "Key:<tabs>value" lines; one tab up to 12, two-tab alignment from 13
 * (pastes often show spaces). ProductName "Mac OS X" up to 10.15, "macOS" after. From 13,
 * a Rapid Security Response adds "ProductVersionExtra:\t(a)" and a build such as 22E772610a.
 *   ProductName:		macOS / ProductVersion:		13.3.1 / ProductVersionExtra:	(a) / BuildVersion:		22E772610a
 */
import { parseVersion } from '../../shared/version.js';
import { UnexpectedOutputError } from '../types.js';

export interface SwVers {
  productName: string;
  productVersion: string;
  buildVersion?: string;
  productVersionExtra?: string;
}

export function parseSwVers(text: string): SwVers {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(.*?)\s*$/.exec(line);
    if (match?.[1] && match[2] !== undefined) fields.set(match[1], match[2]);
  }
  const productName = fields.get('ProductName');
  const productVersion = fields.get('ProductVersion');
  if (!productName || !productVersion || !parseVersion(productVersion)) {
    throw new UnexpectedOutputError('sw_vers printed no ProductName and numeric ProductVersion');
  }
  const result: SwVers = { productName, productVersion };
  const build = fields.get('BuildVersion');
  if (build) result.buildVersion = build;
  const extra = fields.get('ProductVersionExtra');
  if (extra) result.productVersionExtra = extra;
  return result;
}
