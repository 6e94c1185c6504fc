/**
 * The device store on PostgreSQL, for several verifier replicas. Same contract as the SQLite store:
 * consuming a token and recording the device happen in one transaction (SELECT … FOR UPDATE).
 * Lookups by kid (one per verified request) are served from memory while this replica LISTENs to
 * the devices' change notifications, which a trigger sends for every write by any replica
 * (postgres-device-cache.ts); without the channel they read through.
 */
import pg from 'pg';
import type { KeyProtection, PublicJwk } from '../shared/claims.js';
import type { DeviceStatus } from '../verifier/verify-request.js';
import type { DeviceStore, EnrollResult, StoredDevice } from './store.js';
import { DEVICE_INSERT_COLUMNS, newDeviceRow, reenrollRefusal } from './store.js';
import { DEVICE_CHANNEL, ListeningDeviceCache } from './postgres-device-cache.js';
import { StoreError, withStoreErrors } from './store-errors.js';

interface Row {
  device_id: string;
  kid: string;
  jwk: PublicJwk;
  key_protection: KeyProtection;
  status: DeviceStatus;
  label: string | null;
  facts: StoredDevice['facts'];
  enrolled_at: string;
  last_seen_at: string | null;
  last_posture: StoredDevice['lastPosture'] | null;
  security_pending_since: string | null;
  newest_iat: string | null;
  newest_jti: string | null;
  last_push_at: string | null;
}

const toDevice = (r: Row): StoredDevice => ({
  deviceId: r.device_id,
  kid: r.kid,
  jwk: r.jwk,
  keyProtection: r.key_protection,
  status: r.status,
  ...(r.label ? { label: r.label } : {}),
  facts: r.facts,
  enrolledAt: Number(r.enrolled_at),
  ...(r.last_seen_at ? { lastSeenAt: Number(r.last_seen_at) } : {}),
  ...(r.last_posture ? { lastPosture: r.last_posture } : {}),
  ...(r.security_pending_since !== null && r.security_pending_since !== undefined
    ? { securityPendingSince: Number(r.security_pending_since) }
    : {}),
  ...(r.newest_iat !== null && r.newest_jti !== null
    ? { newestAttestation: { iat: Number(r.newest_iat), jti: r.newest_jti } }
    : {}),
  ...(r.last_push_at !== null ? { lastPushAt: Number(r.last_push_at) } : {}),
});

/**
 * Replicas starting together take turns (an advisory lock for this transaction). The trigger
 * announces every new device and every change of a column verification reads (not last seen).
 */
const SCHEMA = `
  SELECT pg_advisory_xact_lock(8127301);
  CREATE TABLE IF NOT EXISTS enrollment_tokens (
    hash TEXT PRIMARY KEY, label TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
    used_at BIGINT, used_by TEXT);
  CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, kid TEXT NOT NULL UNIQUE, jwk JSONB NOT NULL, key_protection TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active','revoked','locked')), label TEXT, facts JSONB NOT NULL,
    enrolled_at BIGINT NOT NULL, last_seen_at BIGINT, last_posture JSONB);
  CREATE TABLE IF NOT EXISTS key_history (device_id TEXT NOT NULL, kid TEXT NOT NULL, replaced_at BIGINT NOT NULL);
  ALTER TABLE devices ADD COLUMN IF NOT EXISTS security_pending_since BIGINT;
  ALTER TABLE devices ADD COLUMN IF NOT EXISTS newest_iat BIGINT;
  ALTER TABLE devices ADD COLUMN IF NOT EXISTS newest_jti TEXT;
  ALTER TABLE devices ADD COLUMN IF NOT EXISTS last_push_at BIGINT;
  CREATE OR REPLACE FUNCTION posture_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('${DEVICE_CHANNEL}', NEW.device_id); RETURN NULL; END $$;
  CREATE OR REPLACE TRIGGER posture_device_changed
    AFTER INSERT OR UPDATE OF kid, jwk, key_protection, status, security_pending_since, newest_iat,
      newest_jti, last_push_at ON devices
    FOR EACH ROW EXECUTE FUNCTION posture_device_changed();`;

export async function openPostgresStore(
  url: string,
  options: { connectionTimeoutMillis?: number; listenCheckIntervalMs?: number } = {},
): Promise<DeviceStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 3000,
    query_timeout: 5000,
  });
  pool.on('error', () => undefined); // an idle client's connection dropped; the next query reconnects or fails (and denies)
  await pool.query(`BEGIN; ${SCHEMA} COMMIT;`).catch((error: unknown) => {
    void pool.end();
    throw classifyPostgresError(error);
  });
  const cache = new ListeningDeviceCache(url, {
    ...(options.connectionTimeoutMillis ? { connectionTimeoutMillis: options.connectionTimeoutMillis } : {}),
    ...(options.listenCheckIntervalMs ? { checkIntervalMs: options.listenCheckIntervalMs } : {}),
  });
  await cache.start();
  /** This replica's own writes drop the device at once; the notification reaches the others. */
  const written = <T>(id: string, result: T): T => {
    cache.forget(id);
    return result;
  };
  const tx = async <T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  const rotate = (id: string, oldKid: string, jwk: PublicJwk, kid: string, protection: KeyProtection) =>
    tx(async (c) => {
      const r = await c.query(
        'UPDATE devices SET kid = $1, jwk = $2, key_protection = $3 WHERE device_id = $4 AND kid = $5',
        [kid, JSON.stringify(jwk), protection, id, oldKid],
      );
      if ((r.rowCount ?? 0) !== 1) return false;
      await c.query('INSERT INTO key_history (device_id, kid, replaced_at) VALUES ($1, $2, $3)', [
        id,
        oldKid,
        Date.now(),
      ]);
      return true;
    });
  const one = async (sql: string, params: unknown[]) => (await pool.query<Row>(sql, params)).rows[0];
  const store: DeviceStore = {
    kind: 'postgres',
    createToken: async (t) =>
      void (await pool.query(
        'INSERT INTO enrollment_tokens (hash, label, created_at, expires_at) VALUES ($1, $2, $3, $4)',
        [t.hash, t.label ?? null, t.createdAt, t.expiresAt],
      )),
    enroll: (hash, now, d) =>
      tx(async (c): Promise<EnrollResult> => {
        const token = (
          await c.query<{ label: string | null; expires_at: string; used_at: string | null }>(
            'SELECT label, expires_at, used_at FROM enrollment_tokens WHERE hash = $1 FOR UPDATE',
            [hash],
          )
        ).rows[0];
        if (!token) return { ok: false, reason: 'token_invalid' };
        if (token.used_at !== null) return { ok: false, reason: 'token_used' };
        if (Number(token.expires_at) <= now) return { ok: false, reason: 'token_expired' };
        const existing = (await c.query<Row>('SELECT * FROM devices WHERE kid = $1 FOR UPDATE', [d.kid]))
          .rows[0];
        if (existing) {
          const refusal = reenrollRefusal(toDevice(existing), d.keyProtection);
          if (refusal) return refusal;
        }
        const deviceId = existing?.device_id ?? d.deviceId;
        await c.query('UPDATE enrollment_tokens SET used_at = $1, used_by = $2 WHERE hash = $3', [
          now,
          deviceId,
          hash,
        ]);
        if (existing) {
          const r = (
            await c.query<Row>('UPDATE devices SET facts = $1 WHERE device_id = $2 RETURNING *', [
              JSON.stringify(d.facts),
              deviceId,
            ])
          ).rows[0] as Row;
          return { ok: true, device: toDevice(r), reenrolled: true };
        }
        const r = (
          await c.query<Row>(
            `INSERT INTO devices (${DEVICE_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
            newDeviceRow(d, token.label),
          )
        ).rows[0] as Row;
        return { ok: true, device: toDevice(r), reenrolled: false };
      }),
    deviceByKid: (kid) =>
      cache.read(kid, async () => {
        const r = await one('SELECT * FROM devices WHERE kid = $1', [kid]);
        return r ? toDevice(r) : undefined;
      }),
    device: async (id) => {
      const r = await one('SELECT * FROM devices WHERE device_id = $1', [id]);
      return r ? toDevice(r) : undefined;
    },
    listDevices: async ({ limit = 100, offset = 0 } = {}) =>
      (
        await pool.query<Row>('SELECT * FROM devices ORDER BY enrolled_at, device_id LIMIT $1 OFFSET $2', [
          limit,
          offset,
        ])
      ).rows.map(toDevice),
    setStatus: async (id, status) =>
      written(
        id,
        ((await pool.query('UPDATE devices SET status = $1 WHERE device_id = $2', [status, id])).rowCount ??
          0) === 1,
      ),
    rotateKey: async (id, oldKid, jwk, kid, protection) =>
      written(id, await rotate(id, oldKid, jwk, kid, protection)),
    recordAttestation: async (id, newest, at, posture) =>
      written(
        id,
        ((
          await pool.query(
            'UPDATE devices SET newest_iat = $1, newest_jti = $2, last_push_at = $3, last_seen_at = $3, last_posture = $4 WHERE device_id = $5 AND (newest_iat IS NULL OR newest_iat <= $1)',
            [newest.iat, newest.jti, at, posture ? JSON.stringify(posture) : null, id],
          )
        ).rowCount ?? 0) === 1,
      ),
    recordSeen: async (id, at, posture) =>
      void (await pool.query('UPDATE devices SET last_seen_at = $1, last_posture = $2 WHERE device_id = $3', [
        at,
        posture ? JSON.stringify(posture) : null,
        id,
      ])),
    setSecurityPendingSince: async (id, at) =>
      void written(
        id,
        at === null
          ? await pool.query(
              'UPDATE devices SET security_pending_since = NULL WHERE device_id = $1 AND security_pending_since IS NOT NULL',
              [id],
            )
          : await pool.query(
              'UPDATE devices SET security_pending_since = $1 WHERE device_id = $2 AND security_pending_since IS NULL',
              [at, id],
            ),
      ),
    ping: async () => void (await pool.query('SELECT 1')),
    close: async () => {
      await cache.close();
      await pool.end();
    },
  };
  return withStoreErrors(store, classifyPostgresError);
}

/**
 * pg's errors: a server error carries its SQLSTATE in `code` (23505 unique_violation, with the
 * constraint's name: devices_kid_key is a key already enrolled); a lost or refused connection is a
 * Node socket error (ECONNREFUSED, ECONNRESET), "Connection terminated…", a query timeout, or an
 * administrator shutdown (57P01). All but the first mean the store cannot be used.
 */
function classifyPostgresError(error: unknown): StoreError {
  const e = error as { code?: string; constraint?: string };
  if (e.code === '23505' && e.constraint === 'devices_kid_key')
    return new StoreError('ERR_STORE_KEY_IN_USE', 'This key is already enrolled.', { cause: error });
  return new StoreError(
    'ERR_STORE_UNAVAILABLE',
    `The PostgreSQL device store failed (${e.code ?? 'connection'}).`,
    { cause: error },
  );
}
