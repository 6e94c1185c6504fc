/** One line saying what a probe observed, for the CLI table and the tray. */
import type { AnyCheckResult, OpenPort } from './posture.js';

export function summarizeObservation(result: AnyCheckResult): string {
  if (result.status === 'unknown') return `unknown (${result.reason}): ${result.detail}`;
  switch (result.check) {
    case 'disk_encryption':
      return result.observation.volumes
        .map(
          (v) =>
            `${v.id}: ${v.state.replace('_', ' ')}${v.percent === undefined ? '' : ` ${v.percent}%`}${v.method && v.state === 'encrypted' ? ` (${v.method})` : ''}`,
        )
        .join('; ');
    case 'os_version': {
      const o = result.observation;
      const parts = [o.name];
      if (o.version && !o.name.includes(o.version)) parts.push(o.version);
      if (o.rapidSecurityResponse) parts.push(o.rapidSecurityResponse);
      if (o.displayVersion) parts.push(`(${o.displayVersion})`);
      if (o.build && o.platform === 'darwin') parts.push(`build ${o.build}`);
      if (o.kernel && o.platform === 'linux') parts.push(`kernel ${o.kernel}`);
      return parts.join(' ');
    }
    case 'firewall': {
      const o = result.observation;
      const parts = o.components.map((c) => `${c.name}: ${c.enabled === null ? 'unknown' : c.detail}`);
      const open = o.enabled && o.openPorts ? ` (open to the world: ${describeOpenPorts(o.openPorts)})` : '';
      return `${o.enabled ? 'on' : 'off'}${open}${parts.length ? ` — ${parts.join('; ')}` : ''}`;
    }
    case 'patch_level': {
      const o = result.observation;
      const security = o.securityPending === null ? 'security unknown' : `${o.securityPending} security`;
      const reboot = o.rebootRequired ? ', restart needed' : '';
      return `${o.pending} pending (${security}) via ${o.manager}${reboot}`;
    }
  }
}

/** "tcp 22, 80 (IPv4, IPv6); udp 546 (IPv6)", or "none". */
export function describeOpenPorts(ports: readonly OpenPort[]): string {
  if (ports.length === 0) return 'none';
  const byPort = new Map<string, { protocol: string; label: string; first: number; families: Set<string> }>();
  for (const p of ports) {
    const label = p.endPort === undefined ? String(p.port) : `${p.port}-${p.endPort}`;
    const key = `${p.protocol} ${label}`;
    const entry = byPort.get(key) ?? {
      protocol: p.protocol,
      label,
      first: p.port,
      families: new Set<string>(),
    };
    entry.families.add(p.family === 'ipv4' ? 'IPv4' : 'IPv6');
    byPort.set(key, entry);
  }
  const groups = new Map<string, string[]>();
  for (const e of [...byPort.values()].sort(
    (a, b) => a.protocol.localeCompare(b.protocol) || a.first - b.first,
  )) {
    const key = `${e.protocol}|${[...e.families].sort().join(', ')}`;
    groups.set(key, [...(groups.get(key) ?? []), e.label]);
  }
  return [...groups.entries()]
    .map(([key, labels]) => {
      const [protocol, families] = key.split('|');
      return `${protocol} ${labels.join(', ')} (${families})`;
    })
    .join('; ');
}
