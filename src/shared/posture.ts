/**
 * The posture model: what probes observed. Probes report facts; policy (./policy.ts) decides.
 * This is the `posture` part of the JSON schema documented in docs/schema.md; change both together.
 */

export const CHECK_IDS = ['disk_encryption', 'os_version', 'firewall', 'patch_level'] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export type OsFamily = 'darwin' | 'windows' | 'linux';

/** Why a probe could not tell. Stable codes; documented in docs/schema.md. */
export const UNKNOWN_REASONS = [
  'timeout',
  'insufficient_privilege',
  'command_missing',
  'unexpected_output',
  'unsupported_platform',
  'not_in_capture',
  'probe_error',
] as const;
export type UnknownReason = (typeof UNKNOWN_REASONS)[number];

/** How a fact was obtained: the command (absolute path and arguments) or the file read. */
export type Evidence =
  | { kind: 'command'; command: string; args: string[]; exitCode: number | null; error?: string }
  | { kind: 'file'; path: string; error?: string }
  | { kind: 'inventory'; source: string };

interface ResultBase {
  check: CheckId;
  /** ISO 8601 time the observation was made (for cached results, when it was first made). */
  observedAt: string;
  evidence: Evidence[];
}

export interface Observed<T> extends ResultBase {
  status: 'observed';
  observation: T;
}

export interface Unknown extends ResultBase {
  status: 'unknown';
  reason: UnknownReason;
  /** A sentence a person can read: what could not be told and why. */
  detail: string;
}

export type CheckResult<T> = Observed<T> | Unknown;

// ---- disk encryption -------------------------------------------------------------------------

/** The state of one volume that holds data. */
export type VolumeEncryptionState =
  | 'encrypted'
  | 'unencrypted'
  | 'encrypting'
  | 'decrypting'
  /** BitLocker: encrypted but protection suspended (key stored in the clear on disk). */
  | 'suspended'
  /** Holds nothing at rest (zram swap, tmpfs): not a disk-encryption question. */
  | 'not_persistent'
  | 'unknown';

export interface VolumeEncryption {
  /** Mount point, drive letter or swap path: "/", "/home", "[SWAP] /dev/dm-2", "C:". */
  id: string;
  role: 'system' | 'home' | 'swap' | 'data';
  device?: string;
  state: VolumeEncryptionState;
  /** "LUKS2", "LUKS1", "PLAIN", "FileVault", "BitLocker XtsAes128", "ZFS aes-256-gcm"… */
  method?: string;
  /** Percent converted, for encrypting / decrypting. */
  percent?: number;
  /** The device stack from the filesystem down to the disk, e.g. ["vg-root (lvm)", "luks-1 (crypt)", "nvme0n1p3 (part)"]. */
  stack?: string[];
  reason?: UnknownReason;
  detail?: string;
}

export interface DiskEncryptionObservation {
  volumes: VolumeEncryption[];
}

// ---- OS version ------------------------------------------------------------------------------

export interface OsVersionObservation {
  platform: OsFamily;
  /** "macOS", "Windows 11 Pro", "Debian GNU/Linux 12 (bookworm)". */
  name: string;
  /** The version policy compares: macOS "14.6.1"; Windows "10.0.22631.4317"; Linux VERSION_ID ("22.04"), absent on rolling distros. */
  version?: string;
  build?: string;
  /** macOS Rapid Security Response suffix, e.g. "(a)". */
  rapidSecurityResponse?: string;
  /** Windows: feature update name ("23H2"), update build revision. */
  displayVersion?: string;
  ubr?: number;
  edition?: string;
  /** Linux: os-release ID and ID_LIKE, kernel release; rolling when the distro has no VERSION_ID. */
  distroId?: string;
  distroLike?: string[];
  rolling?: boolean;
  kernel?: string;
}

// ---- firewall --------------------------------------------------------------------------------

export interface FirewallComponent {
  /** "application_firewall", "pf", "domain", "private", "public", "nftables", "iptables-legacy", "ufw", "firewalld". */
  name: string;
  /** true: filters inbound traffic; false: does not; null: could not tell (see reason). */
  enabled: boolean | null;
  detail: string;
  reason?: UnknownReason;
}

/** A port (or range) that unsolicited connections from the world reach while the firewall filters. */
export interface OpenPort {
  family: 'ipv4' | 'ipv6';
  protocol: 'tcp' | 'udp';
  port: number;
  /** Last port of a range; absent for a single port. */
  endPort?: number;
}

export interface FirewallObservation {
  /** Whether inbound traffic is filtered, as far as was observed. */
  enabled: boolean;
  /** macOS: stealth mode and block-all. Linux: which address families are filtered. */
  stealth?: boolean;
  blockAll?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
  /**
   * Linux: the ports unsolicited new connections from the world reach, per address family that
   * could be decided (at most a few in a filtered family; docs/checks.md). Absent when not known.
   */
  openPorts?: OpenPort[];
  components: FirewallComponent[];
}

// ---- patch level -----------------------------------------------------------------------------

export interface PendingUpdate {
  name: string;
  version?: string;
  security: boolean;
  /** When the update was published, where the OS says (Windows Update deployment date, dnf5 advisory Issued). */
  releasedAt?: string;
  /** When this agent first saw it pending (filled in by the agent's state, not the probe). */
  firstSeenAt?: string;
  restartRequired?: boolean;
}

export interface PatchLevelObservation {
  manager: 'apt' | 'dnf' | 'yum' | 'zypper' | 'pacman' | 'softwareupdate' | 'windows_update';
  pending: number;
  /** Pending security updates; null when the package manager cannot say which are security. */
  securityPending: number | null;
  /** At most 100, security ones first. */
  updates: PendingUpdate[];
  /** Last time updates were installed. */
  lastInstallAt?: string;
  /** Last time the list of available updates was refreshed (a stale list hides pending updates). */
  indexRefreshedAt?: string;
  rebootRequired: boolean | null;
  /**
   * Secondary sources that could not be read (security advisories, reboot flag, index date), each
   * with its reason: what they would have decided is left unknown (null / absent), nothing else is.
   */
  unreadable?: SourceProblem[];
}

export interface SourceProblem {
  /** The command or file, e.g. "dnf updateinfo list --security". */
  source: string;
  reason: UnknownReason;
  detail: string;
}

// ---- the report ------------------------------------------------------------------------------

export interface ObservationByCheck {
  disk_encryption: DiskEncryptionObservation;
  os_version: OsVersionObservation;
  firewall: FirewallObservation;
  patch_level: PatchLevelObservation;
}

export type AnyCheckResult = { [K in CheckId]: CheckResult<ObservationByCheck[K]> & { check: K } }[CheckId];

export type PostureChecks = { [K in CheckId]?: CheckResult<ObservationByCheck[K]> };

export interface DeviceInventory {
  hostname?: string;
  manufacturer?: string;
  model?: string;
  serial?: string;
  hardwareUuid?: string;
  osPlatform?: string;
  arch?: string;
}

export interface PostureReport {
  schema: 'posture-report/v1';
  collectedAt: string;
  platform: OsFamily | 'unsupported';
  agent: { name: string; version: string };
  device: DeviceInventory;
  checks: PostureChecks;
  /** Set when the report came from a capture file instead of this machine. */
  replayedFrom?: string;
}
