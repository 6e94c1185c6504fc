/**
 * /etc/os-release (freedesktop.org os-release(5)): KEY=value lines, values optionally quoted with
 * shell-style escapes. Rolling distributions (Arch, openSUSE Tumbleweed, Gentoo) have no VERSION_ID.
 * Sample (Debian 12): PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" / ID=debian / VERSION_ID="12"
 * Sample (Kali 2023.3): VERSION_ID="2023.3" / VERSION_CODENAME=kali-rolling / ID=kali / ID_LIKE=debian
 */
import { UnexpectedOutputError } from '../types.js';

export interface OsRelease {
  id: string;
  idLike: string[];
  name: string;
  prettyName: string;
  versionId?: string;
  version?: string;
  /** VERSION_CODENAME: "bookworm"; "kali-rolling" on Kali, which is how a rolling Kali says so. */
  versionCodename?: string;
  buildId?: string;
}

export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match?.[1]) continue;
    fields.set(match[1], unquote(match[2] ?? ''));
  }
  const id = fields.get('ID');
  const name = fields.get('NAME');
  if (!id && !name) throw new UnexpectedOutputError('os-release has neither ID nor NAME');
  const result: OsRelease = {
    // os-release(5): ID defaults to "linux", NAME to "Linux".
    id: (id ?? 'linux').toLowerCase(),
    idLike: (fields.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
    name: name ?? 'Linux',
    prettyName: fields.get('PRETTY_NAME') ?? name ?? 'Linux',
  };
  const versionId = fields.get('VERSION_ID');
  if (versionId) result.versionId = versionId;
  const version = fields.get('VERSION');
  if (version) result.version = version;
  const codename = fields.get('VERSION_CODENAME');
  if (codename) result.versionCodename = codename;
  const buildId = fields.get('BUILD_ID');
  if (buildId) result.buildId = buildId;
  return result;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0])) {
    const inner = v.slice(1, -1);
    return v[0] === '"' ? inner.replace(/\\(["\\`$])/g, '$1') : inner;
  }
  return v;
}
