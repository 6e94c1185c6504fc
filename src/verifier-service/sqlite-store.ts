/**
 * The embedded device store: one SQLite file in WAL mode, synchronous=FULL, so an enrollment that was
 * answered survives a kill -9 and a token is consumed at most once (the consume and the insert share
 * a transaction).
 *
 * The file belongs to one verifier process: it is opened with `locking_mode = EXCLUSIVE` and its
 * write lock taken at once, so a second process (another verifier, an sqlite3 shell) is refused
 * with ERR_STORE_LOCKED instead of writing behind this one's back. That is what makes the memory
 * replay store sound (two processes on one file would each accept the same proof once) and what
 * lets lookups by kid, one per verified request, be served from memory: every write goes through
 * this store, which drops the devices it touches, so a revocation takes effect on the very next
 * request. Several replicas share PostgreSQL and Redis instead.
 */
import Database from 'better-sqlite3';
import { PostureError } from '../shared/errors.js';
import type { KeyProtection, PublicJwk } from '../shared/claims.js';
import type { DeviceStatus } from '../verifier/verify-request.js';
import type { DeviceStore, EnrollResult, StoredDevice } from './store.js';
import { DEVICE_INSERT_COLUMNS, newDeviceRow, reenrollRefusal } from './store.js';
import { StoreError, withStoreErrors } from './store-errors.js';

interface Row {
  device_id: string;
  kid: string;
  jwk: string;
  key_protection: KeyProtection;
  status: DeviceStatus;
  label: string | null;
  facts: string;
  enrolled_at: number;
  last_seen_at: number | null;
  last_posture: string | null;
  security_pending_since: number | null;
  newest_iat: number | null;
  newest_jti: string | null;
  last_push_at: number | null;
}

const CACHE_CAPACITY = 100_000;

const toDevice = (r: Row): StoredDevice => ({
  deviceId: r.device_id,
  kid: r.kid,
  jwk: JSON.parse(r.jwk) as PublicJwk,
  keyProtection: r.key_protection,
  status: r.status,
  ...(r.label ? { label: r.label } : {}),
  facts: JSON.parse(r.facts) as StoredDevice['facts'],
  enrolledAt: r.enrolled_at,
  ...(r.last_seen_at ? { lastSeenAt: r.last_seen_at } : {}),
  ...(r.last_posture ? { lastPosture: JSON.parse(r.last_posture) as StoredDevice['lastPosture'] } : {}),
  ...(r.security_pending_since !== null && r.security_pending_since !== undefined
    ? { securityPendingSince: r.security_pending_since }
    : {}),
  ...(r.newest_iat !== null && r.newest_jti !== null
    ? { newestAttestation: { iat: r.newest_iat, jti: r.newest_jti } }
    : {}),
  ...(r.last_push_at !== null ? { lastPushAt: r.last_push_at } : {}),
});

export function openSqliteStore(path: string): DeviceStore {
  // A process that stops hands the lock over at once; waiting 2 s covers a graceful handover.
  const db = new Database(path, { timeout: 2000 });
  // Before WAL is entered: the WAL index then lives in this process's memory, not in shared memory.
  db.pragma('locking_mode = EXCLUSIVE');
  try {
    db.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY'))
      throw new PostureError(
        'ERR_STORE_LOCKED',
        `${path} is in use by another process (another posture-verifier?). One process owns a SQLite store; run several replicas on PostgreSQL.`,
      );
    throw error;
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS enrollment_tokens (
      hash TEXT PRIMARY KEY, label TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      used_at INTEGER, used_by TEXT);
    CREATE TABLE IF NOT EXISTS devices (
      device_id TEXT PRIMARY KEY, kid TEXT NOT NULL UNIQUE, jwk TEXT NOT NULL, key_protection TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active','revoked','locked')), label TEXT, facts TEXT NOT NULL,
      enrolled_at INTEGER NOT NULL, last_seen_at INTEGER, last_posture TEXT);
    CREATE TABLE IF NOT EXISTS key_history (
      device_id TEXT NOT NULL, kid TEXT NOT NULL, replaced_at INTEGER NOT NULL);
  `);
  // Added with the verifier's clock for pending security updates; older files gain the column.
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(devices)').all();
  // …and the newest pushed attestation (push and supersede).
  for (const [name, type] of [
    ['security_pending_since', 'INTEGER'],
    ['newest_iat', 'INTEGER'],
    ['newest_jti', 'TEXT'],
    ['last_push_at', 'INTEGER'],
  ] as const)
    if (!columns.some((c) => c.name === name)) db.exec(`ALTER TABLE devices ADD COLUMN ${name} ${type}`);
  const q = {
    insertToken: db.prepare(
      'INSERT INTO enrollment_tokens (hash, label, created_at, expires_at) VALUES (?, ?, ?, ?)',
    ),
    token: db.prepare<[string], { label: string | null; expires_at: number; used_at: number | null }>(
      'SELECT label, expires_at, used_at FROM enrollment_tokens WHERE hash = ?',
    ),
    useToken: db.prepare(
      'UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL',
    ),
    byKid: db.prepare<[string], Row>('SELECT * FROM devices WHERE kid = ?'),
    byId: db.prepare<[string], Row>('SELECT * FROM devices WHERE device_id = ?'),
    list: db.prepare<[number, number], Row>(
      'SELECT * FROM devices ORDER BY enrolled_at, device_id LIMIT ? OFFSET ?',
    ),
    insertDevice: db.prepare(
      `INSERT INTO devices (${DEVICE_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateFacts: db.prepare('UPDATE devices SET facts = ? WHERE device_id = ?'),
    setStatus: db.prepare('UPDATE devices SET status = ? WHERE device_id = ?'),
    rotate: db.prepare(
      'UPDATE devices SET kid = ?, jwk = ?, key_protection = ? WHERE device_id = ? AND kid = ?',
    ),
    history: db.prepare('INSERT INTO key_history (device_id, kid, replaced_at) VALUES (?, ?, ?)'),
    seen: db.prepare('UPDATE devices SET last_seen_at = ?, last_posture = ? WHERE device_id = ?'),
    pushed: db.prepare(
      'UPDATE devices SET newest_iat = ?, newest_jti = ?, last_push_at = ?, last_seen_at = ?, last_posture = ? WHERE device_id = ? AND (newest_iat IS NULL OR newest_iat <= ?)',
    ),
    pendingSet: db.prepare(
      'UPDATE devices SET security_pending_since = ? WHERE device_id = ? AND security_pending_since IS NULL',
    ),
    pendingClear: db.prepare(
      'UPDATE devices SET security_pending_since = NULL WHERE device_id = ? AND security_pending_since IS NOT NULL',
    ),
  };
  const cache = new Map<string, StoredDevice>();
  const cachedKid = new Map<string, string>();
  const forget = (deviceId: string) => {
    const kid = cachedKid.get(deviceId);
    if (kid === undefined) return;
    cache.delete(kid);
    cachedKid.delete(deviceId);
  };
  const remember = (d: StoredDevice) => {
    if (cache.size >= CACHE_CAPACITY) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) forget((cache.get(oldest) as StoredDevice).deviceId);
    }
    cache.set(d.kid, d);
    cachedKid.set(d.deviceId, d.kid);
  };
  const enroll = db.transaction(
    (tokenHash: string, now: number, d: Omit<StoredDevice, 'status' | 'label'>): EnrollResult => {
      const token = q.token.get(tokenHash);
      if (!token) return { ok: false, reason: 'token_invalid' };
      if (token.used_at !== null) return { ok: false, reason: 'token_used' };
      if (token.expires_at <= now) return { ok: false, reason: 'token_expired' };
      const existing = q.byKid.get(d.kid);
      if (existing) {
        const refusal = reenrollRefusal(toDevice(existing), d.keyProtection);
        if (refusal) return refusal;
        if (q.useToken.run(now, existing.device_id, tokenHash).changes !== 1)
          return { ok: false, reason: 'token_used' };
        q.updateFacts.run(JSON.stringify(d.facts), existing.device_id);
        return { ok: true, device: toDevice(q.byId.get(existing.device_id) as Row), reenrolled: true };
      }
      if (q.useToken.run(now, d.deviceId, tokenHash).changes !== 1)
        return { ok: false, reason: 'token_used' };
      q.insertDevice.run(...newDeviceRow(d, token.label));
      return { ok: true, device: toDevice(q.byId.get(d.deviceId) as Row), reenrolled: false };
    },
  );
  const rotate = db.transaction(
    (deviceId: string, oldKid: string, jwk: PublicJwk, kid: string, protection: KeyProtection) => {
      if (q.rotate.run(kid, JSON.stringify(jwk), protection, deviceId, oldKid).changes !== 1) return false;
      q.history.run(deviceId, oldKid, Date.now());
      return true;
    },
  );
  const store: DeviceStore = {
    kind: 'sqlite',
    createToken: async (t) => void q.insertToken.run(t.hash, t.label ?? null, t.createdAt, t.expiresAt),
    enroll: async (hash, now, device) => {
      const result = enroll.immediate(hash, now, device);
      if (result.ok) forget(result.device.deviceId);
      return result;
    },
    deviceByKid: async (kid) => {
      const hit = cache.get(kid);
      if (hit) return hit;
      const r = q.byKid.get(kid);
      if (!r) return undefined;
      const d = toDevice(r);
      remember(d);
      return d;
    },
    device: async (id) => {
      const r = q.byId.get(id);
      return r ? toDevice(r) : undefined;
    },
    listDevices: async ({ limit = 100, offset = 0 } = {}) => q.list.all(limit, offset).map(toDevice),
    setStatus: async (id, status) => {
      forget(id);
      return q.setStatus.run(status, id).changes === 1;
    },
    rotateKey: async (id, oldKid, jwk, kid, protection) => {
      forget(id);
      return rotate.immediate(id, oldKid, jwk, kid, protection);
    },
    // Last seen is not read by verification: the cached device stays.
    recordSeen: async (id, at, posture) => {
      q.seen.run(at, posture ? JSON.stringify(posture) : null, id);
    },
    recordAttestation: async (id, newest, at, posture) => {
      forget(id);
      const json = posture ? JSON.stringify(posture) : null;
      return q.pushed.run(newest.iat, newest.jti, at, at, json, id, newest.iat).changes === 1;
    },
    setSecurityPendingSince: async (id, at) => {
      forget(id);
      if (at === null) q.pendingClear.run(id);
      else q.pendingSet.run(at, id);
    },
    ping: async () => void db.prepare('SELECT 1').get(),
    close: async () => {
      db.close();
    },
  };
  return withStoreErrors(store, classifySqliteError);
}

/**
 * better-sqlite3 throws SqliteError with SQLite's extended code: "UNIQUE constraint failed:
 * devices.kid" (SQLITE_CONSTRAINT_UNIQUE) is a key already enrolled; anything else (SQLITE_BUSY,
 * SQLITE_IOERR, SQLITE_FULL, a closed database's TypeError) means the store cannot be used.
 */
function classifySqliteError(error: unknown): StoreError {
  const e = error as { code?: string; message?: string };
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' && e.message?.includes('devices.kid'))
    return new StoreError('ERR_STORE_KEY_IN_USE', 'This key is already enrolled.', { cause: error });
  return new StoreError('ERR_STORE_UNAVAILABLE', `The SQLite device store failed (${e.code ?? 'error'}).`, {
    cause: error,
  });
}
