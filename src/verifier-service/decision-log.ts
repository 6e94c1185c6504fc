/**
 * The decision log: one JSON line per decision, appended to a file or written to stdout.
 *
 * Lines are gathered and written with one `write` every FLUSH_MS, or as soon as FLUSH_BYTES wait,
 * not one write per decision: under load a write per event-loop turn costs a thread-pool round trip
 * (a wake-up there and back) every few requests, which measured as a tenth of the service's CPU.
 * So a kill -9 can lose the last FLUSH_MS of lines; a graceful stop loses none. A write in flight
 * holds the next batch back, so lines stay in order. `close` waits for it and writes what is left before the
 * service exits. A failed or short write keeps the bytes not written and tries them again with the
 * next batch; the failure is reported once per run of failures and counted. What waits is bounded,
 * so a disk that stays full cannot eat the service's memory: past the bound, lines are dropped and
 * counted (at most twice the bound waits: one batch being retried, and the lines after it).
 */
import { closeSync, fsyncSync, openSync, write, writeSync } from 'node:fs';

/** One decision, as the log records it. */
export interface DecisionEntry {
  ts: string;
  decisionId: string;
  device: string | null;
  allowed: boolean;
  status: number;
  /** `code` or `code:check`. */
  reasons: string[];
  policyRevision: string;
  method: string;
  url: string;
  latencyMs: number;
}

export interface DecisionLog {
  write(entry: DecisionEntry): void;
  /** Failed or short writes, and lines dropped because too much was waiting. */
  readonly stats: { failures: number; dropped: number };
  /** Waits for a write in flight, writes what is left, and closes the file. */
  close(): Promise<void>;
}

const MAX_PENDING_BYTES = 64 * 1024 * 1024;
const FLUSH_MS = 100;
const FLUSH_BYTES = 64 * 1024;

export function openDecisionLog(target: string, onError: (error: Error) => void): DecisionLog {
  const fd = target === '-' ? 1 : openSync(target, 'a', 0o640);
  let pending: string[] = [];
  let pendingBytes = 0;
  /** Bytes handed to a write that did not take them (an error or a short write). */
  let carry: Buffer | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failing = false;
  let closed = false;
  const stats = { failures: 0, dropped: 0 };
  /** Drops are reported once per run of them: the count at the last successful write. */
  let droppedReported = 0;

  const take = (): Buffer => {
    const fresh = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingBytes = 0;
    const out = carry ? Buffer.concat([carry, fresh]) : fresh;
    carry = undefined;
    return out;
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inFlight || (pending.length === 0 && !carry)) return;
    const buffer = take();
    let done!: () => void;
    inFlight = new Promise((resolve) => (done = resolve));
    write(fd, buffer, 0, buffer.length, null, (error, written) => {
      if (error || written < buffer.length) {
        stats.failures += 1;
        if (!failing) onError(error ?? new Error(`short write to the decision log (${written} bytes)`));
        failing = true;
        carry = buffer.subarray(error ? 0 : written);
      } else {
        failing = false;
        droppedReported = stats.dropped;
      }
      inFlight = undefined;
      done();
      if ((pending.length || carry) && !closed) schedule(failing ? 1000 : FLUSH_MS);
    });
  };
  const schedule = (delayMs: number) => {
    if (timer) return;
    timer = setTimeout(flush, delayMs);
    timer.unref();
  };

  return {
    stats,
    write(entry) {
      if (closed) return;
      const line = `${JSON.stringify(entry)}\n`;
      if (pendingBytes + (carry?.length ?? 0) + line.length > MAX_PENDING_BYTES) {
        if (stats.dropped++ === droppedReported)
          onError(
            new Error(
              '64 MiB of decisions wait to be written; new ones are dropped until the log can be written',
            ),
          );
        return;
      }
      pending.push(line);
      pendingBytes += line.length;
      if (failing) return;
      if (pendingBytes >= FLUSH_BYTES && !inFlight) flush();
      else schedule(FLUSH_MS);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (inFlight) await inFlight;
      if (pending.length || carry) {
        try {
          writeSync(fd, take());
        } catch (error) {
          onError(error as Error);
        }
      }
      if (fd === 1) return;
      try {
        fsyncSync(fd);
      } catch {
        // Not every target (a pipe, /dev/stdout) can be synced.
      }
      closeSync(fd);
    },
  };
}
