/**
 * The daemon's structured log: one JSON object per line on a stream (stdout under systemd, which
 * hands it to the journal). Every line has `at` (ISO 8601) and `event`; the rest depends on it.
 */
export type LogEvent =
  | 'started'
  | 'recheck'
  | 'attestation'
  | 'attestation_failed'
  | 'device_key'
  | 'push'
  | 'push_skipped'
  | 'rotation_resumed'
  | 'problem'
  | 'reloaded'
  | 'reload_failed'
  | 'stopping'
  | 'stopped';

export type DaemonLog = (event: LogEvent, fields?: Record<string, unknown>) => void;

export function jsonLinesLog(write: (line: string) => void, now: () => Date = () => new Date()): DaemonLog {
  return (event, fields = {}) => {
    try {
      write(`${JSON.stringify({ at: now().toISOString(), event, ...fields })}\n`);
    } catch {
      // A log that cannot be written (closed stdout) must not stop the daemon.
    }
  };
}
