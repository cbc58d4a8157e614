/**
 * The embedded store: one SQLite file (better-sqlite3, WAL, synchronous=FULL), the default of `npm start`.
 *
 * better-sqlite3 is synchronous: every method runs its statements to completion on the event loop, so each
 * transaction is kept short and nothing here awaits while a transaction is open. One connection per process means
 * the statements of one method can never interleave with another's, which is what makes takeBundle and
 * consumeLinkCode atomic without extra locking.
 *
 * Durability: synchronous=FULL makes SQLite fsync the WAL at every commit, so a write is on disk before its method
 * resolves. An fsync per message would cap the server at ~5k messages/s (docs/dependencies.md), so the hot-path writes —
 * enqueue, ack, touchDevice, group fan-out — go through a group-commit writer: every call made within one event-loop
 * turn joins one transaction, flushed on setImmediate or as soon as MAX_BATCH_ROWS rows are waiting. A call that
 * fails (QUEUE_FULL, DEVICE_NOT_FOUND) stores nothing and does not fail the others (see flush).
 *
 * The group commit's fsync does not block the event loop: its transaction commits with synchronous=NORMAL (in WAL
 * mode: the frames are written to the WAL, not fsynced), then fdatasync of the WAL file runs on libuv's thread pool,
 * and only when it returns do the batch's promises settle — the same guarantee as FULL (the WAL is on disk before
 * anyone is told "stored"), while the next batch is already being built. One fdatasync covers every batch committed
 * before it started. Every other write keeps synchronous=FULL. In NORMAL mode SQLite still syncs the WAL before a
 * checkpoint copies it into the database and the database after it, so a checkpoint never loses synced frames. If an
 * fdatasync fails, the state of the page cache is unknown: every later write fails until the server restarts.
 */
import { chmodSync, closeSync, fdatasync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { appliedSqliteMigrations, migrateSqlite } from '../migrations.js';
import {
  QuotaExceededError,
  RepositoryError,
  StaleEpochError,
  accountNotFound,
  commitEnvelopes,
  deviceNotFound,
  exceededAttachmentQuota,
  groupExists,
  groupNotFound,
  memberKey,
  uniqueMembers,
  usernameTaken,
  withinQueueDepth,
} from '../repository.js';
import type {
  AccountRecord,
  AttachmentQuota,
  AttachmentUsage,
  GroupCommit,
  GroupMember,
  GroupRecord,
  StoredGroupEnvelope,
  AttachmentRecord,
  DeviceBundle,
  DeviceRecord,
  NewDevice,
  NewEnvelope,
  OneTimePreKeyRecord,
  PreKeyCounts,
  QueuedEnvelope,
  Repository,
  SignedPreKeyRecord,
} from '../repository.js';

/** Rows (envelopes enqueued + ids acked + devices touched) after which a batch is committed without waiting. */
export const MAX_BATCH_ROWS = 500;
/** Envelope ids are positive signed 64-bit integers; larger ones (a client may send any 19 digits) match nothing. */
const MAX_ENVELOPE_ID = 2n ** 63n - 1n;
/** Expired envelopes deleted per transaction, so a large sweep never blocks the event loop for long. */
const EXPIRY_CHUNK = 2_000;

/** Counters of the group-commit writer, for tests and metrics. */
export interface QueueWriterStats {
  /** Transactions committed by the writer. */
  readonly queueTransactions: number;
  /** fdatasync calls of the WAL that completed (each covers every transaction committed before it started). */
  readonly walSyncs: number;
  /** enqueue calls that committed (QUEUE_FULL and other failed calls are not counted). */
  readonly enqueueCalls: number;
  readonly enqueuedEnvelopes: number;
  readonly ackedEnvelopes: number;
}

/** The connection settings that durability depends on, read back from SQLite (for /health and tests). */
export interface SqliteSettings {
  readonly journalMode: string;
  /** 2 = FULL. */
  readonly synchronous: number;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
}

interface PendingWrite {
  readonly rows: number;
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

interface AccountRow {
  id: string;
  username_hash: Uint8Array | null;
  identity_key: Uint8Array;
  created_at: number;
}

interface DeviceRow {
  account_id: string;
  device_id: number;
  registration_id: number;
  auth_hash: string;
  encrypted_name: Uint8Array;
  created_at: number;
  last_seen_at: number;
}

interface KeyRow {
  key_id: number;
  public_key: Uint8Array;
  signature: Uint8Array;
}

interface AttachmentRow {
  id: string;
  owner_account_id: string;
  size: number;
  created_at: number;
  expires_at: number;
}

/** A fresh Uint8Array, so callers never hold a Buffer (whose toString/JSON would expose the bytes differently). */
function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function queueKey(accountId: string, deviceId: number): string {
  return `${accountId}/${deviceId}`;
}

export class SqliteRepository implements Repository {
  readonly engine = 'sqlite';

  private readonly statements = new Map<string, Database.Statement>();
  private pending: PendingWrite[] = [];
  private pendingRows = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly counters = { queueTransactions: 0, walSyncs: 0, enqueueCalls: 0, enqueuedEnvelopes: 0, ackedEnvelopes: 0 };
  /** A read-only descriptor of the WAL file, for fdatasync; opened at the first group commit. */
  private walFd: number | undefined;
  /** Settlements of committed batches waiting for the next fdatasync. */
  private unsynced: (() => void)[] = [];
  private syncing: Promise<void> | undefined;
  /** Set when an fdatasync failed: nothing written since can be promised durable. */
  private syncError: Error | undefined;

  /** The group commit's fast path: every write of the batch in one transaction, none may fail. */
  private readonly batchTransaction: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;
  /** The fallback: each write in its own SAVEPOINT, so a failing one rolls back only its own rows. */
  private readonly savepointTransaction: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;

  private constructor(private readonly db: Database.Database) {
    this.batchTransaction = db.transaction((batch: readonly PendingWrite[]) => batch.map((write) => ({ ok: true, value: write.run() })));
    this.savepointTransaction = db.transaction((batch: readonly PendingWrite[]) => {
      const outcomes: Outcome[] = [];
      for (const write of batch) {
        try {
          // A nested better-sqlite3 transaction is a SAVEPOINT: a failing call rolls back only its own rows.
          outcomes.push({ ok: true, value: db.transaction(write.run)() });
        } catch (error) {
          // SQLite rolls the whole transaction back by itself on I/O errors, disk full and the like; then the
          // remaining calls must not run in autocommit mode, so fail the batch.
          if (!db.inTransaction) throw error;
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    });
  }

  /**
   * Opens (creating it and its directory if needed) the database file. Call migrate() before use.
   * The directory is created 0700 and the file 0600 (an existing one is narrowed to 0600): SQLite gives its -wal and
   * -shm files the database file's mode, so they are 0600 too. `secure_delete` overwrites what a DELETE frees with
   * zeros; `forget()` then moves it out of the WAL.
   */
  static open(file: string): SqliteRepository {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    const db = new Database(file);
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') {
        throw new Error(`SQLite refused WAL mode (got ${String(mode)}); put the data directory on a local file system`);
      }
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      // Truncate the WAL back to this size after checkpoints instead of leaving it at its high-water mark.
      db.pragma('journal_size_limit = 67108864');
      // Deleted rows (acknowledged envelopes, unregistered accounts) are zeroed in their pages, not left in free space.
      db.pragma('secure_delete = ON');
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteRepository(db);
  }

  /** A snapshot of the group-commit writer's counters. */
  get stats(): QueueWriterStats {
    return { ...this.counters };
  }

  settings(): SqliteSettings {
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
      foreignKeys: Number(this.db.pragma('foreign_keys', { simple: true })) === 1,
      busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })),
    };
  }

  async migrate(): Promise<void> {
    this.assertOpen();
    migrateSqlite(this.db);
  }

  /** The schema versions recorded in schema_migrations, ascending. */
  async appliedMigrations(): Promise<number[]> {
    this.assertOpen();
    return appliedSqliteMigrations(this.db);
  }

  /**
   * Makes what was deleted unrecoverable from the files: `secure_delete` zeroed it in the database pages, but the WAL
   * still holds the pages' earlier versions until they are checkpointed. This checkpoints every frame into the
   * database and truncates the WAL to zero bytes (`wal_checkpoint(TRUNCATE)`). Run by the server's sweep every
   * minute and at close. Returns false when a reader kept the checkpoint from finishing (the next run catches up).
   */
  async forget(): Promise<boolean> {
    if (this.closed) return false;
    this.flush();
    while (this.syncing) await this.syncing;
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return result?.busy === 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    while (this.syncing) await this.syncing;
    await this.forget();
    this.closed = true;
    this.statements.clear();
    this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }

  // Accounts

  async createAccount(account: AccountRecord, firstDevice: NewDevice): Promise<void> {
    this.transaction(() => {
      if (account.usernameHash !== undefined && this.accountIdByUsernameHash(account.usernameHash) !== undefined) {
        throw usernameTaken();
      }
      this.stmt(
        'INSERT INTO accounts (id, username_hash, identity_key, created_at) VALUES (?, ?, ?, ?)',
      ).run(account.id, account.usernameHash ?? null, account.identityKey, account.createdAt);
      this.insertDevice(account.id, 1, firstDevice);
    });
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = this.stmt('SELECT * FROM accounts WHERE id = ?').get(accountId) as AccountRow | undefined;
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByUsernameHash(usernameHash: Uint8Array): Promise<AccountRecord | undefined> {
    const row = this.stmt('SELECT * FROM accounts WHERE username_hash = ?').get(usernameHash) as AccountRow | undefined;
    return row === undefined ? undefined : toAccount(row);
  }

  async setUsernameHash(accountId: string, usernameHash: Uint8Array | undefined): Promise<void> {
    this.transaction(() => {
      if (this.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined) throw accountNotFound();
      if (usernameHash !== undefined) {
        const holder = this.accountIdByUsernameHash(usernameHash);
        if (holder !== undefined && holder !== accountId) throw usernameTaken();
      }
      this.stmt('UPDATE accounts SET username_hash = ? WHERE id = ?').run(usernameHash ?? null, accountId);
    });
  }

  async deleteAccount(accountId: string): Promise<string[]> {
    return this.transaction(() => {
      const ids = this.stmt('SELECT id FROM attachments WHERE owner_account_id = ? ORDER BY id', { pluck: true })
        .all(accountId) as string[];
      // ON DELETE CASCADE removes devices (and with them keys and queues), attachments and link codes.
      this.stmt('DELETE FROM accounts WHERE id = ?').run(accountId);
      return ids;
    });
  }

  // Devices

  async addDevice(accountId: string, device: NewDevice, maxDevices: number): Promise<number> {
    return this.transaction(() => {
      const next = this.stmt('SELECT next_device_id FROM accounts WHERE id = ?', { pluck: true }).get(accountId) as number | undefined;
      if (next === undefined) throw accountNotFound();
      const { n, top } = this.stmt(
        'SELECT count(*) AS n, coalesce(max(device_id), 0) AS top FROM devices WHERE account_id = ?',
      ).get(accountId) as { n: number; top: number };
      if (n >= maxDevices) throw new RepositoryError('TOO_MANY_DEVICES', 'the account has the maximum number of devices');
      // Never an id the account had before, even one since removed (migration 3).
      const deviceId = Math.max(next, top + 1);
      this.insertDevice(accountId, deviceId, device);
      this.stmt('UPDATE accounts SET next_device_id = ? WHERE id = ?').run(deviceId + 1, accountId);
      return deviceId;
    });
  }

  async getDevice(accountId: string, deviceId: number): Promise<DeviceRecord | undefined> {
    const row = this.stmt('SELECT * FROM devices WHERE account_id = ? AND device_id = ?').get(accountId, deviceId) as
      | DeviceRow
      | undefined;
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const rows = this.stmt('SELECT * FROM devices WHERE account_id = ? ORDER BY device_id').all(accountId) as DeviceRow[];
    return rows.map(toDevice);
  }

  async removeDevice(accountId: string, deviceId: number): Promise<boolean> {
    // ON DELETE CASCADE removes the device's prekeys and queued envelopes in the same statement.
    return this.stmt('DELETE FROM devices WHERE account_id = ? AND device_id = ?').run(accountId, deviceId).changes > 0;
  }

  async touchDevice(accountId: string, deviceId: number, at: number): Promise<void> {
    await this.submit(1, () => {
      this.stmt('UPDATE devices SET last_seen_at = ? WHERE account_id = ? AND device_id = ?').run(
        at,
        accountId,
        deviceId,
      );
    });
  }

  // Key directory

  async setSignedPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    this.deviceWrite(() =>
      this.stmt(
        `INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id, device_id) DO UPDATE
           SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      ).run(accountId, deviceId, key.keyId, key.publicKey, key.signature),
    );
  }

  async setKyberLastResortPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    this.deviceWrite(() =>
      this.stmt(
        `INSERT INTO kyber_last_resort_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id, device_id) DO UPDATE
           SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      ).run(accountId, deviceId, key.keyId, key.publicKey, key.signature),
    );
  }

  async addOneTimePreKeys(accountId: string, deviceId: number, keys: readonly OneTimePreKeyRecord[]): Promise<void> {
    if (keys.length === 0) return;
    const insert = this.stmt(
      `INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id, device_id, key_id) DO UPDATE SET public_key = excluded.public_key`,
    );
    this.deviceWrite(() => this.transaction(() => {
      for (const key of keys) insert.run(accountId, deviceId, key.keyId, key.publicKey);
    }));
  }

  async addKyberOneTimePreKeys(accountId: string, deviceId: number, keys: readonly SignedPreKeyRecord[]): Promise<void> {
    if (keys.length === 0) return;
    const insert = this.stmt(
      `INSERT INTO kyber_one_time_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (account_id, device_id, key_id) DO UPDATE
         SET public_key = excluded.public_key, signature = excluded.signature`,
    );
    this.deviceWrite(() => this.transaction(() => {
      for (const key of keys) insert.run(accountId, deviceId, key.keyId, key.publicKey, key.signature);
    }));
  }

  async takeBundle(accountId: string, deviceId: number): Promise<DeviceBundle | undefined> {
    const where = { a: accountId, d: deviceId };
    return this.transaction(() => {
      const device = this.stmt('SELECT registration_id FROM devices WHERE account_id = @a AND device_id = @d').get(where) as
        | { registration_id: number }
        | undefined;
      const signed = this.stmt(
        'SELECT key_id, public_key, signature FROM signed_prekeys WHERE account_id = @a AND device_id = @d',
      ).get(where) as KeyRow | undefined;
      if (device === undefined || signed === undefined) return undefined;
      let kyber = this.stmt(
        `DELETE FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d AND key_id =
           (SELECT key_id FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d ORDER BY key_id LIMIT 1)
         RETURNING key_id, public_key, signature`,
      ).get(where) as KeyRow | undefined;
      kyber ??= this.stmt(
        'SELECT key_id, public_key, signature FROM kyber_last_resort_prekeys WHERE account_id = @a AND device_id = @d',
      ).get(where) as KeyRow | undefined;
      // Nothing has been consumed when this returns: the kyber DELETE found no row.
      if (kyber === undefined) return undefined;
      const oneTime = this.stmt(
        `DELETE FROM one_time_prekeys WHERE account_id = @a AND device_id = @d AND key_id =
           (SELECT key_id FROM one_time_prekeys WHERE account_id = @a AND device_id = @d ORDER BY key_id LIMIT 1)
         RETURNING key_id, public_key`,
      ).get(where) as Omit<KeyRow, 'signature'> | undefined;
      return {
        deviceId,
        registrationId: device.registration_id,
        signedPreKey: toSignedKey(signed),
        oneTimePreKey: oneTime === undefined ? undefined : { keyId: oneTime.key_id, publicKey: bytes(oneTime.public_key) },
        kyberPreKey: toSignedKey(kyber),
      };
    });
  }

  async countPreKeys(accountId: string, deviceId: number): Promise<PreKeyCounts> {
    const row = this.stmt(
      `SELECT (SELECT count(*) FROM one_time_prekeys WHERE account_id = @a AND device_id = @d) AS oneTime,
              (SELECT count(*) FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d) AS kyberOneTime`,
    ).get({ a: accountId, d: deviceId }) as PreKeyCounts;
    return { oneTime: row.oneTime, kyberOneTime: row.kyberOneTime };
  }

  // Queues

  async enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]> {
    if (envelopes.length === 0) return [];
    const ids = await this.submit(envelopes.length, () => this.enqueueNow(envelopes, maxQueueDepth));
    return ids;
  }

  async fetchQueue(
    accountId: string,
    deviceId: number,
    afterId: bigint,
    limit: number,
    now: number,
  ): Promise<QueuedEnvelope[]> {
    if (afterId >= MAX_ENVELOPE_ID || limit <= 0) return [];
    const rows = this.stmt(
      `SELECT id, source_account_id, source_device_id, envelope, received_at FROM envelopes
       WHERE account_id = ? AND device_id = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
      { safeIntegers: true },
    ).all(accountId, deviceId, afterId < 0n ? 0n : afterId, now, limit) as {
      id: bigint;
      source_account_id: string | null;
      source_device_id: bigint | null;
      envelope: Uint8Array;
      received_at: bigint;
    }[];
    return rows.map((row) => ({
      id: row.id,
      sourceAccountId: row.source_account_id ?? undefined,
      sourceDeviceId: row.source_device_id === null ? undefined : Number(row.source_device_id),
      envelope: bytes(row.envelope),
      receivedAt: Number(row.received_at),
    }));
  }

  async ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]> {
    const valid = ids.filter((id) => id > 0n && id <= MAX_ENVELOPE_ID);
    if (valid.length === 0) return [];
    return this.submit(valid.length, () => {
      const remove = this.stmt('DELETE FROM envelopes WHERE id = ? AND account_id = ? AND device_id = ? RETURNING id', {
        pluck: true,
        safeIntegers: true,
      });
      const deleted: bigint[] = [];
      for (const id of valid) {
        const gone = remove.get(id, accountId, deviceId) as bigint | undefined;
        if (gone !== undefined) deleted.push(gone);
      }
      this.counters.ackedEnvelopes += deleted.length;
      return deleted;
    });
  }

  async queueDepth(accountId: string, deviceId: number): Promise<number> {
    const depth = this.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    return (depth.get(accountId, deviceId) as number | undefined) ?? 0;
  }

  async totalQueued(): Promise<number> {
    return this.stmt('SELECT count(*) FROM envelopes', { pluck: true }).get() as number;
  }

  async deleteExpiredEnvelopes(now: number): Promise<number> {
    const sweep = this.stmt(
      'DELETE FROM envelopes WHERE id IN (SELECT id FROM envelopes WHERE expires_at <= ? LIMIT ?)',
    );
    let total = 0;
    for (;;) {
      this.assertOpen();
      const { changes } = sweep.run(now, EXPIRY_CHUNK);
      total += changes;
      if (changes < EXPIRY_CHUNK) return total;
      // Let sends and deliveries run between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  // Attachments

  async createAttachment(record: AttachmentRecord, quota: AttachmentQuota): Promise<void> {
    try {
      // The sum and the insert are one synchronous transaction on the process's only connection (BEGIN IMMEDIATE
      // against other processes): no other upload's insert can come between them, so the quota holds exactly.
      this.transaction(() => {
        const exceeded = exceededAttachmentQuota(this.usage(record.ownerAccountId, quota.now), record.size, quota);
        if (exceeded) throw exceeded;
        this.stmt(
          'INSERT INTO attachments (id, owner_account_id, size, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
        ).run(record.id, record.ownerAccountId, record.size, record.createdAt, record.expiresAt);
      });
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw accountNotFound();
      throw err;
    }
  }

  async attachmentUsage(accountId: string, now: number): Promise<AttachmentUsage> {
    return this.usage(accountId, now);
  }

  async getAttachment(id: string): Promise<AttachmentRecord | undefined> {
    const row = this.stmt('SELECT * FROM attachments WHERE id = ?').get(id) as AttachmentRow | undefined;
    return row === undefined ? undefined : toAttachment(row);
  }

  async deleteAttachment(id: string): Promise<void> {
    this.stmt('DELETE FROM attachments WHERE id = ?').run(id);
  }

  async deleteExpiredAttachments(now: number): Promise<string[]> {
    return this.stmt('DELETE FROM attachments WHERE expires_at <= ? RETURNING id', { pluck: true }).all(now) as string[];
  }

  // Device linking

  async createLinkCode(accountId: string, codeHash: Uint8Array, expiresAt: number): Promise<void> {
    try {
      this.stmt('INSERT INTO link_codes (code_hash, account_id, expires_at) VALUES (?, ?, ?)').run(
        codeHash,
        accountId,
        expiresAt,
      );
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw accountNotFound();
      throw err;
    }
  }

  async consumeLinkCode(codeHash: Uint8Array, now: number): Promise<string | undefined> {
    // Deleting first makes the code one-use even when it turns out to be expired.
    const row = this.stmt('DELETE FROM link_codes WHERE code_hash = ? RETURNING account_id, expires_at').get(codeHash) as
      | { account_id: string; expires_at: number }
      | undefined;
    return row !== undefined && row.expires_at > now ? row.account_id : undefined;
  }

  async deleteExpiredLinkCodes(now: number): Promise<number> {
    return this.stmt('DELETE FROM link_codes WHERE expires_at <= ?').run(now).changes;
  }

  // Groups

  async createGroup(groupId: string, epoch: number, creator: GroupMember, groupInfo: Uint8Array, now: number, maxGroups: number): Promise<void> {
    // As createAttachment: the count and the insert are one transaction, so the quota holds exactly.
    this.transaction(() => {
      if (this.stmt('SELECT 1 FROM groups WHERE id = ?', { pluck: true }).get(groupId) !== undefined) throw groupExists();
      if (this.stmt('SELECT 1 FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true }).get(creator.accountId, creator.deviceId) === undefined) {
        throw deviceNotFound();
      }
      if (this.createdGroups(creator.accountId) >= maxGroups) throw new QuotaExceededError('groups', maxGroups);
      this.stmt('INSERT INTO groups (id, epoch, group_info, created_at, updated_at, creator_account_id) VALUES (?, ?, ?, ?, ?, ?)').run(
        groupId,
        epoch,
        groupInfo,
        now,
        now,
        creator.accountId,
      );
      this.stmt('INSERT INTO group_members (group_id, account_id, device_id) VALUES (?, ?, ?)').run(groupId, creator.accountId, creator.deviceId);
    });
  }

  async countCreatedGroups(accountId: string): Promise<number> {
    return this.createdGroups(accountId);
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const row = this.stmt('SELECT epoch, group_info FROM groups WHERE id = ?').get(groupId) as { epoch: number; group_info: Uint8Array } | undefined;
    if (!row) return undefined;
    return { groupId, epoch: row.epoch, groupInfo: bytes(row.group_info), members: this.groupMembers(groupId) };
  }

  async listGroups(accountId: string): Promise<{ groupId: string; epoch: number }[]> {
    const rows = this.stmt(
      `SELECT DISTINCT g.id AS groupId, g.epoch AS epoch FROM group_members m JOIN groups g ON g.id = m.group_id
       WHERE m.account_id = ? ORDER BY g.id`,
    ).all(accountId) as { groupId: string; epoch: number }[];
    return rows.map((r) => ({ groupId: r.groupId, epoch: r.epoch }));
  }

  async commitGroup(commit: GroupCommit): Promise<StoredGroupEnvelope[]> {
    const rows = commit.members.length + 1;
    return this.submit(rows, () => {
      const group = this.stmt('SELECT epoch FROM groups WHERE id = ?').get(commit.groupId) as { epoch: number } | undefined;
      if (!group) throw groupNotFound();
      if (group.epoch !== commit.epoch) throw new StaleEpochError(group.epoch);
      const before = this.groupMembers(commit.groupId);
      this.stmt('UPDATE groups SET epoch = ?, group_info = ?, updated_at = ? WHERE id = ?').run(commit.epoch + 1, commit.groupInfo, commit.receivedAt, commit.groupId);
      this.stmt('DELETE FROM group_members WHERE group_id = ?').run(commit.groupId);
      // Each device's row is read once (its queue depth, which also says it exists). One prepared lookup per device
      // is cheaper in SQLite than one set-based statement over a JSON list (measured: docs/benchmarks.md).
      const depths = this.queueDepths([...before, ...commit.members]);
      const addMember = this.stmt('INSERT INTO group_members (group_id, account_id, device_id) VALUES (?, ?, ?)');
      // Devices removed from the account meanwhile are no members, and get nothing.
      const after = uniqueMembers(commit.members).filter((m) => depths.has(memberKey(m)));
      for (const m of after) addMember.run(commit.groupId, m.accountId, m.deviceId);
      const envelopes = withinQueueDepth(commitEnvelopes(commit, before, after), depths, commit.maxQueueDepth);
      const ids = this.enqueueNow(envelopes, Number.MAX_SAFE_INTEGER, depths);
      return envelopes.map((e, i) => ({ accountId: e.accountId, deviceId: e.deviceId, id: ids[i] as bigint, envelope: e.envelope }));
    });
  }

  async fanOutGroup(
    groupId: string,
    sender: GroupMember,
    envelope: Uint8Array,
    receivedAt: number,
    expiresAt: number,
    maxQueueDepth: number,
  ): Promise<StoredGroupEnvelope[]> {
    const members = this.groupMembers(groupId);
    if (members.length === 0 && this.stmt('SELECT 1 FROM groups WHERE id = ?', { pluck: true }).get(groupId) === undefined) throw groupNotFound();
    return this.submit(members.length, () => {
      const targets = this.stmt(
        `SELECT m.account_id AS accountId, m.device_id AS deviceId, d.queue_depth AS depth FROM group_members m
         JOIN devices d ON d.account_id = m.account_id AND d.device_id = m.device_id
         WHERE m.group_id = ? ORDER BY m.account_id, m.device_id`,
      ).all(groupId) as { accountId: string; deviceId: number; depth: number }[];
      const depths = new Map(targets.map((t) => [memberKey(t), t.depth]));
      const rows = withinQueueDepth(
        targets
          .filter((m) => memberKey(m) !== memberKey(sender))
          .map((m) => ({
            accountId: m.accountId,
            deviceId: m.deviceId,
            sourceAccountId: sender.accountId,
            sourceDeviceId: sender.deviceId,
            envelope,
            receivedAt,
            expiresAt,
          })),
        depths,
        maxQueueDepth,
      );
      const ids = rows.length ? this.enqueueNow(rows, Number.MAX_SAFE_INTEGER, depths) : [];
      return rows.map((r, i) => ({ accountId: r.accountId, deviceId: r.deviceId, id: ids[i] as bigint, envelope }));
    });
  }

  async addKeyPackages(accountId: string, deviceId: number, keyPackages: readonly Uint8Array[], lastResort: Uint8Array | undefined): Promise<void> {
    this.transaction(() => {
      if (this.stmt('SELECT 1 FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true }).get(accountId, deviceId) === undefined) {
        throw deviceNotFound();
      }
      const insert = this.stmt('INSERT INTO key_packages (account_id, device_id, key_package, last_resort) VALUES (?, ?, ?, ?)');
      for (const kp of keyPackages) insert.run(accountId, deviceId, kp, 0);
      if (lastResort) {
        this.stmt('DELETE FROM key_packages WHERE account_id = ? AND device_id = ? AND last_resort = 1').run(accountId, deviceId);
        insert.run(accountId, deviceId, lastResort, 1);
      }
    });
  }

  async claimKeyPackages(accountIds: readonly string[]): Promise<{ accountId: string; deviceId: number; keyPackage: Uint8Array }[]> {
    return this.transaction(() => {
      const out: { accountId: string; deviceId: number; keyPackage: Uint8Array }[] = [];
      const devices = this.stmt('SELECT device_id FROM devices WHERE account_id = ? ORDER BY device_id', { pluck: true });
      // One-use packages first (oldest first), else the last-resort one, which stays.
      const pick = this.stmt(
        'SELECT id, key_package, last_resort FROM key_packages WHERE account_id = ? AND device_id = ? ORDER BY last_resort, id LIMIT 1',
      );
      const remove = this.stmt('DELETE FROM key_packages WHERE id = ?');
      for (const accountId of new Set(accountIds)) {
        for (const deviceId of devices.all(accountId) as number[]) {
          const row = pick.get(accountId, deviceId) as { id: number; key_package: Uint8Array; last_resort: number } | undefined;
          if (!row) continue;
          if (row.last_resort === 0) remove.run(row.id);
          out.push({ accountId, deviceId, keyPackage: bytes(row.key_package) });
        }
      }
      return out;
    });
  }

  async countKeyPackages(accountId: string, deviceId: number): Promise<number> {
    return this.stmt('SELECT count(*) FROM key_packages WHERE account_id = ? AND device_id = ? AND last_resort = 0', { pluck: true }).get(
      accountId,
      deviceId,
    ) as number;
  }

  private usage(accountId: string, now: number): AttachmentUsage {
    return this.stmt(
      'SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM attachments WHERE owner_account_id = ? AND expires_at > ?',
    ).get(accountId, now) as AttachmentUsage;
  }

  private createdGroups(accountId: string): number {
    return this.stmt(
      `SELECT count(*) FROM groups g WHERE g.creator_account_id = ?
         AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.account_id = g.creator_account_id)`,
      { pluck: true },
    ).get(accountId) as number;
  }

  private groupMembers(groupId: string): GroupMember[] {
    const rows = this.stmt('SELECT account_id, device_id FROM group_members WHERE group_id = ? ORDER BY account_id, device_id').all(groupId) as {
      account_id: string;
      device_id: number;
    }[];
    return rows.map((r) => ({ accountId: r.account_id, deviceId: r.device_id }));
  }

  /** The queue depth of each of `members` whose device exists, by memberKey. */
  private queueDepths(members: readonly GroupMember[]): Map<string, number> {
    const depth = this.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    const depths = new Map<string, number>();
    for (const m of uniqueMembers(members)) {
      const current = depth.get(m.accountId, m.deviceId) as number | undefined;
      if (current !== undefined) depths.set(memberKey(m), current);
    }
    return depths;
  }

  // Internals

  /**
   * A cached prepared statement. `pluck`: rows are their first column's value; `safeIntegers`: INTEGER columns
   * (and lastInsertRowid) come back as bigint. The modes are fixed per cached statement.
   */
  private stmt(sql: string, mode: { pluck?: boolean; safeIntegers?: boolean } = {}): Database.Statement {
    this.assertOpen();
    const key = `${mode.pluck === true ? 'p' : '-'}${mode.safeIntegers === true ? 's' : '-'}${sql}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (mode.pluck === true) statement.pluck(true);
      if (mode.safeIntegers === true) statement.safeIntegers(true);
      this.statements.set(key, statement);
    }
    return statement;
  }

  /** Runs fn in a write transaction (BEGIN IMMEDIATE: another process writing makes us wait, never fail midway). */
  private transaction<T>(fn: () => T): T {
    this.assertOpen();
    return this.db.transaction(fn).immediate();
  }

  /** A write that references a device row; a missing device becomes DEVICE_NOT_FOUND. */
  private deviceWrite(fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw deviceNotFound();
      throw err;
    }
  }

  private accountIdByUsernameHash(usernameHash: Uint8Array): string | undefined {
    const find = this.stmt('SELECT id FROM accounts WHERE username_hash = ?', { pluck: true });
    return find.get(usernameHash) as string | undefined;
  }

  private insertDevice(accountId: string, deviceId: number, device: NewDevice): void {
    this.stmt(
      `INSERT INTO devices (account_id, device_id, registration_id, auth_hash, encrypted_name, created_at, last_seen_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      accountId,
      deviceId,
      device.registrationId,
      device.authHash,
      device.encryptedName,
      device.createdAt,
      device.createdAt,
    );
  }

  /**
   * One enqueue call, inside the writer's transaction: checks every target first, then inserts in input order.
   * `known`: the targets' queue depths read in this transaction already (by memberKey), so none is read again.
   */
  private enqueueNow(envelopes: readonly NewEnvelope[], maxQueueDepth: number, known?: ReadonlyMap<string, number>): bigint[] {
    const adding = new Map<string, { accountId: string; deviceId: number; count: number }>();
    for (const e of envelopes) {
      const key = queueKey(e.accountId, e.deviceId);
      const target = adding.get(key);
      if (target === undefined) adding.set(key, { accountId: e.accountId, deviceId: e.deviceId, count: 1 });
      else target.count += 1;
    }
    // devices.queue_depth is kept exact by triggers (migrations.ts): O(1) however deep the queue is.
    const depth = this.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    for (const { accountId, deviceId, count } of adding.values()) {
      const current = known !== undefined ? known.get(memberKey({ accountId, deviceId })) : (depth.get(accountId, deviceId) as number | undefined);
      if (current === undefined) throw deviceNotFound();
      if (current + count > maxQueueDepth) {
        throw new RepositoryError('QUEUE_FULL', 'a recipient device queue is full');
      }
    }
    const insert = this.stmt(
      `INSERT INTO envelopes
         (account_id, device_id, source_account_id, source_device_id, envelope, received_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      { safeIntegers: true },
    );
    const ids = envelopes.map(
      (e) =>
        insert.run(
          e.accountId,
          e.deviceId,
          e.sourceAccountId ?? null,
          e.sourceDeviceId ?? null,
          e.envelope,
          e.receivedAt,
          e.expiresAt,
        ).lastInsertRowid as bigint,
    );
    this.counters.enqueueCalls += 1;
    this.counters.enqueuedEnvelopes += ids.length;
    return ids;
  }

  /** Queues a write for the next group commit; resolves with its result once the shared transaction committed. */
  private submit<T>(rows: number, run: () => T): Promise<T> {
    this.assertOpen();
    if (this.syncError) return Promise.reject(this.syncError);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ rows, run, resolve: resolve as (value: unknown) => void, reject });
      this.pendingRows += rows;
      if (this.pendingRows >= MAX_BATCH_ROWS) this.flush();
      else this.flushTimer ??= setImmediate(() => this.flush());
    });
  }

  /**
   * Commits every pending write in one transaction, then settles their promises. The common case runs the writes
   * back to back in one cached transaction function. If any write throws, SQLite rolls that transaction back whole and
   * the batch runs again with each write in its own SAVEPOINT, so that only the failing call fails (QUEUE_FULL,
   * DEVICE_NOT_FOUND) — a savepoint per write costs two statements and a transaction wrapper each, most of the
   * commit's time when nothing fails.
   */
  private flush(): void {
    if (this.flushTimer !== undefined) {
      clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingRows = 0;
    const before = { ...this.counters };
    let outcomes: Outcome[] | undefined;
    let failure: unknown;
    this.stmt('PRAGMA synchronous = NORMAL').run();
    try {
      outcomes = this.batchTransaction.immediate(batch);
    } catch {
      // Nothing of the batch is stored (the transaction rolled back); the writes' counters are undone too.
      Object.assign(this.counters, before);
      try {
        outcomes = this.savepointTransaction.immediate(batch);
      } catch (error) {
        Object.assign(this.counters, before);
        failure = error;
      }
    } finally {
      this.stmt('PRAGMA synchronous = FULL').run();
    }
    if (outcomes === undefined) {
      for (const write of batch) write.reject(failure);
      return;
    }
    this.counters.queueTransactions += 1;
    const settled = outcomes;
    this.unsynced.push(() => {
      batch.forEach((write, i) => {
        const outcome = settled[i];
        if (outcome === undefined) write.reject(new Error('group commit lost track of a write'));
        else if (this.syncError) write.reject(this.syncError);
        else if (outcome.ok) write.resolve(outcome.value);
        else write.reject(outcome.error);
      });
    });
    this.syncing ??= this.syncWal();
  }

  /** fdatasync of the WAL until no committed batch waits for one; settles the batches each call covered. */
  private async syncWal(): Promise<void> {
    try {
      while (this.unsynced.length > 0) {
        const covered = this.unsynced;
        this.unsynced = [];
        try {
          await this.fdatasyncWal();
          this.counters.walSyncs += 1;
        } catch (err) {
          this.syncError = new Error(`fdatasync of the SQLite WAL failed (${(err as NodeJS.ErrnoException).code ?? 'error'}): restart the server`);
        }
        for (const settle of covered) settle();
      }
    } finally {
      this.syncing = undefined;
    }
  }

  private fdatasyncWal(): Promise<void> {
    // The WAL exists once a transaction has been written in WAL mode, and lives as long as this connection does
    // (SQLite deletes it only when the last connection closes). A WAL file replaced underneath (nlink 0) is reopened.
    if (this.walFd !== undefined && fstatSync(this.walFd).nlink === 0) {
      closeSync(this.walFd);
      this.walFd = undefined;
    }
    this.walFd ??= openSync(`${this.db.name}-wal`, 'r');
    const fd = this.walFd;
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the SQLite repository is closed');
  }
}

function toAccount(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    usernameHash: row.username_hash === null ? undefined : bytes(row.username_hash),
    identityKey: bytes(row.identity_key),
    createdAt: row.created_at,
  };
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    accountId: row.account_id,
    deviceId: row.device_id,
    registrationId: row.registration_id,
    authHash: row.auth_hash,
    encryptedName: bytes(row.encrypted_name),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  };
}

function toSignedKey(row: KeyRow): SignedPreKeyRecord {
  return { keyId: row.key_id, publicKey: bytes(row.public_key), signature: bytes(row.signature) };
}

function toAttachment(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    ownerAccountId: row.owner_account_id,
    size: row.size,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
