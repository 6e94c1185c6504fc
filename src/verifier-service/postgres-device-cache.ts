/**
 * Devices by key id, in memory, for the PostgreSQL store: a verified request then costs no round
 * trip to PostgreSQL for its device (status, key, newest attestation), and several replicas still
 * agree, because every change to a device row is announced by PostgreSQL itself.
 *
 * A trigger on `devices` (postgres-store.ts) calls `pg_notify('posture_devices', device_id)` for
 * every insert and every update of a column verification reads; this cache LISTENs on its own
 * connection and drops that device at once. PostgreSQL delivers a notification to every listening
 * session when the writing transaction commits, and never to a session that was not listening then.
 *
 * Fail closed: the cache is used only while its LISTEN connection is up and answering. When the
 * connection ends, errors, or does not answer the periodic check (`SELECT 1` every
 * `checkIntervalMs`, bounded by the query timeout), everything cached is dropped and every lookup
 * reads through to PostgreSQL until the connection is back and listening again. A read that began
 * before a notification for its device (or before the channel went down) is not cached, so a row
 * read just before a change cannot outlive it; notifications for other devices (one device pushing
 * often) do not keep the rest from being cached.
 */
import pg from 'pg';
import type { StoredDevice } from './store.js';

export const DEVICE_CHANNEL = 'posture_devices';

const CAPACITY = 100_000;

export interface DeviceCacheOptions {
  connectionTimeoutMillis?: number;
  /** How often the LISTEN connection is checked (default 2 s). */
  checkIntervalMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

export class ListeningDeviceCache {
  private readonly byKid = new Map<string, StoredDevice>();
  private readonly kidOf = new Map<string, string>();
  /** Bumped when everything is dropped (channel lost or back). */
  private generation = 0;
  /** A counter of changes, and the value it had at each device's last change. */
  private changes = 0;
  private readonly changedAt = new Map<string, number>();
  private reading = 0;
  private client: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private retryMs = 100;
  private checkTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly options: DeviceCacheOptions = {},
  ) {}

  /** Whether lookups are served from memory now (the channel is up). */
  get isListening(): boolean {
    return this.listening;
  }

  /** Starts listening; resolves once the first attempt is done (up or not: a failure retries). */
  async start(): Promise<void> {
    await this.connect();
    this.checkTimer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? 2000);
    this.checkTimer.unref();
  }

  /** The device for `kid`: from memory while listening, otherwise read through with `load`. */
  async read(kid: string, load: () => Promise<StoredDevice | undefined>): Promise<StoredDevice | undefined> {
    if (this.listening) {
      const hit = this.byKid.get(kid);
      if (hit) return hit;
    }
    const generation = this.generation;
    const since = this.changes;
    this.reading += 1;
    try {
      const device = await load();
      const changed = device ? (this.changedAt.get(device.deviceId) ?? -1) : -1;
      if (device && this.listening && generation === this.generation && changed <= since)
        this.remember(device);
      return device;
    } finally {
      this.reading -= 1;
      // No read in flight: no change can be newer than a read any more.
      if (this.reading === 0) this.changedAt.clear();
    }
  }

  /** Drops one device (this replica wrote it; the notification will follow for the others). */
  forget(deviceId: string): void {
    this.changes += 1;
    if (this.reading > 0) {
      // Past the bound, forgetting everything also keeps every read in flight from being cached.
      if (this.changedAt.size >= CAPACITY) this.drop(this.listening);
      this.changedAt.set(deviceId, this.changes);
    }
    this.evict(deviceId);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.checkTimer);
    clearTimeout(this.retryTimer);
    this.drop();
    await this.client?.end().catch(() => undefined);
  }

  private remember(d: StoredDevice): void {
    if (this.byKid.size >= CAPACITY) {
      const oldest = this.byKid.values().next().value;
      if (oldest) this.evict(oldest.deviceId);
    }
    const previous = this.kidOf.get(d.deviceId);
    if (previous !== undefined) this.byKid.delete(previous);
    this.byKid.set(d.kid, d);
    this.kidOf.set(d.deviceId, d.kid);
  }

  private evict(deviceId: string): void {
    const kid = this.kidOf.get(deviceId);
    if (kid === undefined) return;
    this.byKid.delete(kid);
    this.kidOf.delete(deviceId);
  }

  /** The channel is lost (or not yet up): nothing cached may be trusted. */
  private drop(listening = false): void {
    this.listening = listening;
    this.generation += 1;
    this.byKid.clear();
    this.kidOf.clear();
    this.changedAt.clear();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: this.options.connectionTimeoutMillis ?? 3000,
      query_timeout: 3000,
      keepAlive: true,
      application_name: this.options.applicationName ?? 'posture-verifier-listen',
    });
    this.client = client;
    const lost = () => this.lost(client);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === DEVICE_CHANNEL && n.payload) this.forget(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${DEVICE_CHANNEL}`);
      if (this.client !== client) return;
      // Whatever was cached before this LISTEN may have missed a notification.
      this.drop();
      this.listening = true;
      this.retryMs = 100;
    } catch {
      lost();
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.drop();
    client.end().catch(() => undefined);
    if (this.closed) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5000);
    this.retryTimer = setTimeout(() => void this.connect(), wait);
    this.retryTimer.unref();
  }

  private async check(): Promise<void> {
    const client = this.client;
    if (!client || !this.listening) return;
    try {
      await client.query('SELECT 1');
    } catch {
      this.lost(client);
    }
  }
}
