/** One line saying what a probe observed, for the CLI table and the tray. */
import type { AnyCheckResult } from './posture.js';

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
      return `${o.enabled ? 'on' : 'off'}${parts.length ? ` — ${parts.join('; ')}` : ''}`;
    }
    case 'patch_level': {
      const o = result.observation;
      const security = o.securityPending === null ? 'security unknown' : `${o.securityPending} security`;
      const reboot = o.rebootRequired ? ', restart needed' : '';
      return `${o.pending} pending (${security}) via ${o.manager}${reboot}`;
    }
  }
}
