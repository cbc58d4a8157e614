/**
 * The embedded store: one SQLite file (better-sqlite3, WAL, synchronous=FULL), the default of `npm start`.
 *
 * better-sqlite3 is synchronous: every method runs its statements to completion on the event loop, so each
 * transaction is kept short and nothing here awaits while a transaction is open. One connection per process
 * (sqlite-database.ts) means the statements of one method can never interleave with another's, which is what makes
 * takeBundle and consumeLinkCode atomic without extra locking.
 *
 * Durability: synchronous=FULL makes SQLite fsync the WAL at every commit, so a write is on disk before its method
 * resolves. The hot-path writes — enqueue, ack, touchDevice, group commits and fan-out — go through the group-commit
 * writer (group-commit.ts): the calls of one event-loop turn share a transaction and an fdatasync, and a call that
 * fails (QUEUE_FULL, DEVICE_NOT_FOUND) stores nothing and does not fail the others. The key directory is in
 * sqlite-keys.ts; what both engines do alike, in ../common/.
 */
import { appliedSqliteMigrations, migrateSqlite } from '../migrations.js';
import {
  QuotaExceededError,
  StaleEpochError,
  accountNotFound,
  deviceNotFound,
  groupExists,
  groupNotFound,
  memberKey,
  tooManyDevices,
  uniqueMembers,
  usernameTaken,
} from '../repository.js';
import type {
  AccountRecord,
  AttachmentQuota,
  AttachmentRecord,
  AttachmentUsage,
  DeviceRecord,
  GroupCommit,
  StoredProfile,
  GroupMember,
  GroupRecord,
  NewDevice,
  NewEnvelope,
  QueuedEnvelope,
  Repository,
  StoredGroupEnvelope,
} from '../repository.js';
import { countPerQueue, exceededAttachmentQuota, refusedEnqueue, withinQueueDepth } from '../common/admission.js';
import { ackableIds, readStart } from '../common/envelope-ids.js';
import { commitEnvelopes, fanOutEnvelopes, storedGroupEnvelopes } from '../common/group-fan-out.js';
import { bytes, toAccount, toAttachment, toDevice, toGroupMember, toQueuedEnvelope, toStoredProfile } from '../common/rows.js';
import type { AccountRow, AttachmentRow, DeviceRow, EnvelopeRow, GroupMemberRow, ProfileRow } from '../common/rows.js';
import { GroupCommitWriter, WalFile } from './group-commit.js';
import type { GroupCommitStats } from './group-commit.js';
import { SqliteDatabase, isForeignKeyViolation } from './sqlite-database.js';
import type { SqliteSettings } from './sqlite-database.js';
import { SqliteKeys } from './sqlite-keys.js';

/** Expired envelopes deleted per transaction, so a large sweep never blocks the event loop for long. */
const EXPIRY_CHUNK = 2_000;

/** Counters of the group-commit writer and of the writes it committed, for tests and metrics. */
export interface QueueWriterStats extends GroupCommitStats {
  /** enqueue calls that committed (QUEUE_FULL and other failed calls are not counted). */
  readonly enqueueCalls: number;
  readonly enqueuedEnvelopes: number;
  readonly ackedEnvelopes: number;
}

export class SqliteRepository implements Repository {
  readonly engine = 'sqlite';

  /** Bumped by the writes inside the writer's transaction (which puts them back when it rolls back). */
  private readonly counters = { enqueueCalls: 0, enqueuedEnvelopes: 0, ackedEnvelopes: 0 };
  private readonly wal: WalFile;
  private readonly writer: GroupCommitWriter;
  /** Key directory and MLS KeyPackages (sqlite-keys.ts). */
  readonly keys: SqliteKeys;

  private constructor(private readonly db: SqliteDatabase) {
    this.wal = new WalFile(db.connection.name);
    this.writer = new GroupCommitWriter(db.connection, { sync: () => this.wal.sync(), counters: this.counters });
    this.keys = new SqliteKeys(db);
  }

  /** Opens (creating it and its directory if needed) the database file: SqliteDatabase.open. Call migrate() before use. */
  static open(file: string): SqliteRepository {
    return new SqliteRepository(SqliteDatabase.open(file));
  }

  /** A snapshot of the group-commit writer's counters. */
  get stats(): QueueWriterStats {
    return { ...this.writer.stats, ...this.counters };
  }

  settings(): SqliteSettings {
    return this.db.settings();
  }

  async migrate(): Promise<void> {
    this.db.assertOpen();
    migrateSqlite(this.db.connection);
  }

  /** The schema versions recorded in schema_migrations, ascending. */
  async appliedMigrations(): Promise<number[]> {
    this.db.assertOpen();
    return appliedSqliteMigrations(this.db.connection);
  }

  /**
   * Makes what was deleted unrecoverable from the files: `secure_delete` zeroed it in the database pages, but the WAL
   * still holds the pages' earlier versions until they are checkpointed. This checkpoints every frame into the
   * database and truncates the WAL to zero bytes (`wal_checkpoint(TRUNCATE)`). Run by the server's sweep every
   * minute and at close. Returns false when a reader kept the checkpoint from finishing (the next run catches up).
   */
  async forget(): Promise<boolean> {
    if (this.db.isClosed) return false;
    await this.writer.drain();
    const [result] = this.db.connection.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return result?.busy === 0;
  }

  async close(): Promise<void> {
    if (this.db.isClosed) return;
    await this.writer.drain();
    await this.forget();
    this.db.close();
    this.wal.close();
  }

  // Accounts

  async createAccount(account: AccountRecord, firstDevice: NewDevice): Promise<void> {
    this.db.transaction(() => {
      if (account.usernameHash !== undefined && this.accountIdByUsernameHash(account.usernameHash) !== undefined) {
        throw usernameTaken();
      }
      this.db.stmt(
        'INSERT INTO accounts (id, username_hash, identity_key, created_at) VALUES (?, ?, ?, ?)',
      ).run(account.id, account.usernameHash ?? null, account.identityKey, account.createdAt);
      this.insertDevice(account.id, 1, firstDevice);
    });
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = this.db.stmt('SELECT * FROM accounts WHERE id = ?').get(accountId) as AccountRow | undefined;
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByUsernameHash(usernameHash: Uint8Array): Promise<AccountRecord | undefined> {
    const row = this.db.stmt('SELECT * FROM accounts WHERE username_hash = ?').get(usernameHash) as AccountRow | undefined;
    return row === undefined ? undefined : toAccount(row);
  }

  async setSealedSenderKey(accountId: string, published: Uint8Array): Promise<void> {
    const result = this.db.stmt('UPDATE accounts SET sealed_sender_key = ? WHERE id = ?').run(published, accountId);
    if (result.changes === 0) throw accountNotFound();
  }

  async setUnidentifiedAccess(accountId: string, accessKey: Uint8Array, unrestricted: boolean): Promise<void> {
    const result = this.db.stmt('UPDATE accounts SET access_key = ?, unrestricted_access = ? WHERE id = ?').run(accessKey, unrestricted ? 1 : 0, accountId);
    if (result.changes === 0) throw accountNotFound();
  }

  async setUsernameHash(accountId: string, usernameHash: Uint8Array | undefined): Promise<void> {
    this.db.transaction(() => {
      if (this.db.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined) throw accountNotFound();
      if (usernameHash !== undefined) {
        const holder = this.accountIdByUsernameHash(usernameHash);
        if (holder !== undefined && holder !== accountId) throw usernameTaken();
      }
      this.db.stmt('UPDATE accounts SET username_hash = ? WHERE id = ?').run(usernameHash ?? null, accountId);
    });
  }

  async deleteAccount(accountId: string): Promise<string[]> {
    return this.db.transaction(() => {
      const ids = this.db.stmt('SELECT id FROM attachments WHERE owner_account_id = ? ORDER BY id', { pluck: true })
        .all(accountId) as string[];
      // ON DELETE CASCADE removes devices (and with them keys and queues), attachments and link codes.
      this.db.stmt('DELETE FROM accounts WHERE id = ?').run(accountId);
      return ids;
    });
  }

  // Devices

  async addDevice(accountId: string, device: NewDevice, maxDevices: number): Promise<number> {
    return this.db.transaction(() => {
      const next = this.db.stmt('SELECT next_device_id FROM accounts WHERE id = ?', { pluck: true }).get(accountId) as number | undefined;
      if (next === undefined) throw accountNotFound();
      const { n, top } = this.db.stmt(
        'SELECT count(*) AS n, coalesce(max(device_id), 0) AS top FROM devices WHERE account_id = ?',
      ).get(accountId) as { n: number; top: number };
      if (n >= maxDevices) throw tooManyDevices();
      // Never an id the account had before, even one since removed (migration 3).
      const deviceId = Math.max(next, top + 1);
      this.insertDevice(accountId, deviceId, device);
      this.db.stmt('UPDATE accounts SET next_device_id = ? WHERE id = ?').run(deviceId + 1, accountId);
      return deviceId;
    });
  }

  async getDevice(accountId: string, deviceId: number): Promise<DeviceRecord | undefined> {
    const row = this.db.stmt('SELECT * FROM devices WHERE account_id = ? AND device_id = ?').get(accountId, deviceId) as
      | DeviceRow
      | undefined;
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const rows = this.db.stmt('SELECT * FROM devices WHERE account_id = ? ORDER BY device_id').all(accountId) as DeviceRow[];
    return rows.map(toDevice);
  }

  async removeDevice(accountId: string, deviceId: number): Promise<boolean> {
    // ON DELETE CASCADE removes the device's prekeys and queued envelopes in the same statement.
    return this.db.stmt('DELETE FROM devices WHERE account_id = ? AND device_id = ?').run(accountId, deviceId).changes > 0;
  }

  async touchDevice(accountId: string, deviceId: number, at: number): Promise<void> {
    await this.submit(1, () => {
      this.db.stmt('UPDATE devices SET last_seen_at = ? WHERE account_id = ? AND device_id = ?').run(
        at,
        accountId,
        deviceId,
      );
    });
  }











  // Queues

  async enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]> {
    if (envelopes.length === 0) return [];
    return this.submit(envelopes.length, () => this.enqueueNow(envelopes, maxQueueDepth));
  }

  async fetchQueue(
    accountId: string,
    deviceId: number,
    afterId: bigint,
    limit: number,
    now: number,
  ): Promise<QueuedEnvelope[]> {
    const start = readStart(afterId, limit);
    if (start === undefined) return [];
    const rows = this.db.stmt(
      `SELECT id, source_account_id, source_device_id, envelope, received_at FROM envelopes
       WHERE account_id = ? AND device_id = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
      { safeIntegers: true },
    ).all(accountId, deviceId, start, now, limit) as EnvelopeRow[];
    return rows.map(toQueuedEnvelope);
  }

  async ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]> {
    const valid = ackableIds(ids);
    if (valid.length === 0) return [];
    return this.submit(valid.length, () => {
      const remove = this.db.stmt('DELETE FROM envelopes WHERE id = ? AND account_id = ? AND device_id = ? RETURNING id', {
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
    const depth = this.db.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    return (depth.get(accountId, deviceId) as number | undefined) ?? 0;
  }

  async totalQueued(): Promise<number> {
    return this.db.stmt('SELECT count(*) FROM envelopes', { pluck: true }).get() as number;
  }

  async deleteExpiredEnvelopes(now: number): Promise<number> {
    const sweep = this.db.stmt(
      'DELETE FROM envelopes WHERE id IN (SELECT id FROM envelopes WHERE expires_at <= ? LIMIT ?)',
    );
    let total = 0;
    for (;;) {
      this.db.assertOpen();
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
      this.db.transaction(() => {
        const exceeded = exceededAttachmentQuota(this.usage(record.ownerAccountId, quota.now), record.size, quota);
        if (exceeded) throw exceeded;
        this.db.stmt(
          'INSERT INTO attachments (id, owner_account_id, size, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
        ).run(record.id, record.ownerAccountId, record.size, record.createdAt, record.expiresAt);
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw accountNotFound();
      throw err;
    }
  }

  async attachmentUsage(accountId: string, now: number): Promise<AttachmentUsage> {
    return this.usage(accountId, now);
  }

  async getAttachment(id: string): Promise<AttachmentRecord | undefined> {
    const row = this.db.stmt('SELECT * FROM attachments WHERE id = ?').get(id) as AttachmentRow | undefined;
    return row === undefined ? undefined : toAttachment(row);
  }

  async deleteAttachment(id: string): Promise<void> {
    this.db.stmt('DELETE FROM attachments WHERE id = ?').run(id);
  }

  async deleteExpiredAttachments(now: number): Promise<string[]> {
    return this.db.stmt('DELETE FROM attachments WHERE expires_at <= ? RETURNING id', { pluck: true }).all(now) as string[];
  }

  // Device linking

  async createLinkCode(accountId: string, codeHash: Uint8Array, expiresAt: number): Promise<void> {
    try {
      this.db.stmt('INSERT INTO link_codes (code_hash, account_id, expires_at) VALUES (?, ?, ?)').run(
        codeHash,
        accountId,
        expiresAt,
      );
    } catch (err) {
      if (isForeignKeyViolation(err)) throw accountNotFound();
      throw err;
    }
  }

  async consumeLinkCode(codeHash: Uint8Array, now: number): Promise<string | undefined> {
    // Deleting first makes the code one-use even when it turns out to be expired.
    const row = this.db.stmt('DELETE FROM link_codes WHERE code_hash = ? RETURNING account_id, expires_at').get(codeHash) as
      | { account_id: string; expires_at: number }
      | undefined;
    return row !== undefined && row.expires_at > now ? row.account_id : undefined;
  }

  async deleteExpiredLinkCodes(now: number): Promise<number> {
    return this.db.stmt('DELETE FROM link_codes WHERE expires_at <= ?').run(now).changes;
  }

  // Groups

  async createGroup(
    groupId: string,
    epoch: number,
    creator: GroupMember,
    groupInfo: Uint8Array,
    sendKeyHash: Uint8Array | undefined,
    now: number,
    maxGroups: number,
  ): Promise<void> {
    // As createAttachment: the count and the insert are one transaction, so the quota holds exactly.
    this.db.transaction(() => {
      if (this.db.stmt('SELECT 1 FROM groups WHERE id = ?', { pluck: true }).get(groupId) !== undefined) throw groupExists();
      if (this.db.stmt('SELECT 1 FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true }).get(creator.accountId, creator.deviceId) === undefined) {
        throw deviceNotFound();
      }
      if (this.createdGroups(creator.accountId) >= maxGroups) throw new QuotaExceededError('groups', maxGroups);
      this.db.stmt('INSERT INTO groups (id, epoch, group_info, created_at, updated_at, creator_account_id, send_key_hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        groupId,
        epoch,
        groupInfo,
        now,
        now,
        creator.accountId,
        sendKeyHash ?? null,
      );
      this.db.stmt('INSERT INTO group_members (group_id, account_id, device_id) VALUES (?, ?, ?)').run(groupId, creator.accountId, creator.deviceId);
    });
  }

  async countCreatedGroups(accountId: string): Promise<number> {
    return this.createdGroups(accountId);
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const row = this.db.stmt('SELECT epoch, group_info FROM groups WHERE id = ?').get(groupId) as { epoch: number; group_info: Uint8Array } | undefined;
    if (!row) return undefined;
    return { groupId, epoch: row.epoch, groupInfo: bytes(row.group_info), members: this.groupMembers(groupId) };
  }

  async setProfile(accountId: string, profile: StoredProfile, now: number): Promise<void> {
    this.db.transaction(() => {
      if (this.db.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined) throw accountNotFound();
      this.db
        .stmt('INSERT OR REPLACE INTO profiles (account_id, version, name, about, avatar, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(accountId, profile.version, profile.name ?? null, profile.about ?? null, profile.avatar ?? null, now);
    });
  }

  async getProfile(accountId: string): Promise<StoredProfile | undefined> {
    const row = this.db.stmt('SELECT version, name, about, avatar FROM profiles WHERE account_id = ?').get(accountId) as ProfileRow | undefined;
    return row ? toStoredProfile(row) : undefined;
  }

  async getGroupSendKeyHash(groupId: string): Promise<Uint8Array | undefined> {
    const hash = this.db.stmt('SELECT send_key_hash FROM groups WHERE id = ?', { pluck: true }).get(groupId) as Uint8Array | null | undefined;
    return hash ? bytes(hash) : undefined;
  }

  async listGroups(accountId: string): Promise<{ groupId: string; epoch: number }[]> {
    const rows = this.db.stmt(
      `SELECT DISTINCT g.id AS groupId, g.epoch AS epoch FROM group_members m JOIN groups g ON g.id = m.group_id
       WHERE m.account_id = ? ORDER BY g.id`,
    ).all(accountId) as { groupId: string; epoch: number }[];
    return rows.map((r) => ({ groupId: r.groupId, epoch: r.epoch }));
  }

  async commitGroup(commit: GroupCommit): Promise<StoredGroupEnvelope[]> {
    const rows = commit.members.length + 1;
    return this.submit(rows, () => {
      const group = this.db.stmt('SELECT epoch FROM groups WHERE id = ?').get(commit.groupId) as { epoch: number } | undefined;
      if (!group) throw groupNotFound();
      if (group.epoch !== commit.epoch) throw new StaleEpochError(group.epoch);
      const before = this.groupMembers(commit.groupId);
      this.db
        .stmt('UPDATE groups SET epoch = ?, group_info = ?, updated_at = ?, send_key_hash = ? WHERE id = ?')
        .run(commit.epoch + 1, commit.groupInfo, commit.receivedAt, commit.sendKeyHash ?? null, commit.groupId);
      this.db.stmt('DELETE FROM group_members WHERE group_id = ?').run(commit.groupId);
      // Each device's row is read once (its queue depth, which also says it exists). One prepared lookup per device
      // is cheaper in SQLite than one set-based statement over a JSON list (measured: docs/benchmarks.md).
      const depths = this.queueDepths([...before, ...commit.members]);
      const addMember = this.db.stmt('INSERT INTO group_members (group_id, account_id, device_id) VALUES (?, ?, ?)');
      // Devices removed from the account meanwhile are no members, and get nothing.
      const after = uniqueMembers(commit.members).filter((m) => depths.has(memberKey(m)));
      for (const m of after) addMember.run(commit.groupId, m.accountId, m.deviceId);
      const envelopes = withinQueueDepth(commitEnvelopes(commit, before, after), depths, commit.maxQueueDepth);
      return storedGroupEnvelopes(envelopes, this.enqueueNow(envelopes, Number.MAX_SAFE_INTEGER, depths));
    });
  }

  async fanOutGroup(
    groupId: string,
    sender: GroupMember | undefined,
    envelope: Uint8Array,
    receivedAt: number,
    expiresAt: number,
    maxQueueDepth: number,
  ): Promise<StoredGroupEnvelope[]> {
    const members = this.groupMembers(groupId);
    if (members.length === 0 && this.db.stmt('SELECT 1 FROM groups WHERE id = ?', { pluck: true }).get(groupId) === undefined) throw groupNotFound();
    return this.submit(members.length, () => {
      const targets = this.db.stmt(
        `SELECT m.account_id AS accountId, m.device_id AS deviceId, d.queue_depth AS depth FROM group_members m
         JOIN devices d ON d.account_id = m.account_id AND d.device_id = m.device_id
         WHERE m.group_id = ? ORDER BY m.account_id, m.device_id`,
      ).all(groupId) as { accountId: string; deviceId: number; depth: number }[];
      const depths = new Map(targets.map((t) => [memberKey(t), t.depth]));
      const rows = withinQueueDepth(fanOutEnvelopes(targets, sender, envelope, receivedAt, expiresAt), depths, maxQueueDepth);
      return storedGroupEnvelopes(rows, rows.length ? this.enqueueNow(rows, Number.MAX_SAFE_INTEGER, depths) : []);
    });
  }

  private usage(accountId: string, now: number): AttachmentUsage {
    return this.db.stmt(
      'SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM attachments WHERE owner_account_id = ? AND expires_at > ?',
    ).get(accountId, now) as AttachmentUsage;
  }

  private createdGroups(accountId: string): number {
    return this.db.stmt(
      `SELECT count(*) FROM groups g WHERE g.creator_account_id = ?
         AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.account_id = g.creator_account_id)`,
      { pluck: true },
    ).get(accountId) as number;
  }

  private groupMembers(groupId: string): GroupMember[] {
    const rows = this.db.stmt('SELECT account_id, device_id FROM group_members WHERE group_id = ? ORDER BY account_id, device_id').all(groupId);
    return (rows as GroupMemberRow[]).map(toGroupMember);
  }

  /** The queue depth of each of `members` whose device exists, by memberKey. */
  private queueDepths(members: readonly GroupMember[]): Map<string, number> {
    const depth = this.db.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    const depths = new Map<string, number>();
    for (const m of uniqueMembers(members)) {
      const current = depth.get(m.accountId, m.deviceId) as number | undefined;
      if (current !== undefined) depths.set(memberKey(m), current);
    }
    return depths;
  }

  // Internals

  private accountIdByUsernameHash(usernameHash: Uint8Array): string | undefined {
    const find = this.db.stmt('SELECT id FROM accounts WHERE username_hash = ?', { pluck: true });
    return find.get(usernameHash) as string | undefined;
  }

  private insertDevice(accountId: string, deviceId: number, device: NewDevice): void {
    this.db.stmt(
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
    // devices.queue_depth is kept exact by triggers (migrations.ts): O(1) however deep the queue is.
    const depth = this.db.stmt('SELECT queue_depth FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true });
    const refused = refusedEnqueue(
      countPerQueue(envelopes),
      (target) => (known !== undefined ? known.get(memberKey(target)) : (depth.get(target.accountId, target.deviceId) as number | undefined)),
      maxQueueDepth,
    );
    if (refused) throw refused;
    const insert = this.db.stmt(
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

  /** Queues a write for the next group commit (group-commit.ts). */
  private submit<T>(rows: number, run: () => T): Promise<T> {
    this.db.assertOpen();
    return this.writer.submit(rows, run);
  }
}
