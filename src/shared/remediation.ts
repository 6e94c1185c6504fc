/** Remediation hints a person can act on, per platform. Shown by the CLI, the tray and deny pages. */
import type { OsFamily, PatchLevelObservation, UnknownReason } from './posture.js';

type Platform = OsFamily | 'unsupported';

const UNKNOWN_HINTS: Record<UnknownReason, string> = {
  timeout:
    'The check took too long. Try again in a minute; if it keeps happening, send `posture capture` output to IT.',
  insufficient_privilege:
    'The agent lacks the rights to read this. Run the agent as its installed service (or as administrator/root) rather than by hand.',
  command_missing:
    'A system tool this check needs is not installed. Ask IT which package provides it for your system.',
  unexpected_output:
    'The system answered in a way the agent does not understand. Send `posture capture --out capture.json` to IT so the agent can be fixed.',
  unsupported_platform:
    'This check is not supported on this system yet. Ask IT for an exception or a supported device.',
  not_in_capture:
    'The capture being replayed does not contain what this check reads; take a new capture with this agent version.',
  probe_error: 'The check failed unexpectedly. Send `posture capture --out capture.json` to IT.',
};

export const remediation = {
  unknown: (reason: UnknownReason): string => UNKNOWN_HINTS[reason],
  encrypt(platform: Platform): string {
    switch (platform) {
      case 'darwin':
        return 'Turn on FileVault: System Settings → Privacy & Security → FileVault → Turn On, then keep the Mac on power until it finishes.';
      case 'windows':
        return 'Turn on BitLocker: Settings → Privacy & security → Device encryption, or Control Panel → BitLocker Drive Encryption → Turn on BitLocker (needs Windows Pro, Enterprise or Education).';
      case 'linux':
        return 'Root, /home and swap must sit on LUKS (dm-crypt). Most distributions set this up only at installation ("Encrypt the new installation"); ask IT for the reinstall or in-place encryption procedure.';
      default:
        return 'Encrypt the disks holding your data, then check again.';
    }
  },
  resumeBitLocker:
    'Resume BitLocker: Control Panel → BitLocker Drive Encryption → Resume protection (or `manage-bde -protectors -enable C:` as administrator).',
  waitForEncryption:
    'Encryption is still running. Keep the device on power and awake until it finishes, then check again.',
  firewallOn(platform: Platform): string {
    switch (platform) {
      case 'darwin':
        return 'Turn on the firewall: System Settings → Network → Firewall → On.';
      case 'windows':
        return 'Turn on Windows Firewall for every profile: Windows Security → Firewall & network protection → Domain, Private and Public network → On.';
      case 'linux':
        return 'Enable a firewall that drops unsolicited incoming traffic for IPv4 and IPv6, e.g. `sudo ufw enable` (Ubuntu/Debian) or `sudo systemctl enable --now firewalld` (Fedora/RHEL/SUSE).';
      default:
        return 'Turn on the firewall, then check again.';
    }
  },
  updateOs(platform: Platform): string {
    switch (platform) {
      case 'darwin':
        return 'Update macOS: System Settings → General → Software Update.';
      case 'windows':
        return 'Update Windows: Settings → Windows Update → Check for updates (feature updates may have to be installed from there too).';
      default:
        return 'Upgrade to a supported release of your distribution (for example `sudo do-release-upgrade` on Ubuntu).';
    }
  },
  distroNotAllowed:
    'This Linux distribution is not on the approved list. Ask IT to add it or for an approved system.',
  refreshIndex(manager: PatchLevelObservation['manager']): string {
    switch (manager) {
      case 'apt':
        return 'Refresh the update list: `sudo apt update` (and make sure unattended-upgrades or a timer does it daily).';
      case 'dnf':
      case 'yum':
        return 'Refresh the update list: `sudo dnf makecache` (and enable dnf-makecache.timer).';
      case 'zypper':
        return 'Refresh the update list: `sudo zypper refresh`.';
      case 'pacman':
        return 'Refresh the package databases: `sudo pacman -Sy` together with an upgrade (`sudo pacman -Syu`).';
      default:
        return 'Check for updates in the system settings.';
    }
  },
  installUpdates(platform: Platform, manager: PatchLevelObservation['manager']): string {
    switch (manager) {
      case 'apt':
        return 'Install updates: `sudo apt update && sudo apt full-upgrade`, or use Software Updater.';
      case 'dnf':
      case 'yum':
        return 'Install updates: `sudo dnf upgrade --refresh`, or use GNOME Software.';
      case 'zypper':
        return 'Install updates: `sudo zypper patch` (or `sudo zypper dup` on Tumbleweed).';
      case 'pacman':
        return 'Install updates: `sudo pacman -Syu`.';
      case 'softwareupdate':
        return 'Install updates: System Settings → General → Software Update → Update Now.';
      case 'windows_update':
        return 'Install updates: Settings → Windows Update → Install all, then restart if asked.';
      default:
        return platform === 'linux'
          ? 'Install pending updates with your package manager.'
          : 'Install pending updates.';
    }
  },
  reboot: 'Restart the device to finish installing updates.',
};
