/**
 * The scale-out store: PostgreSQL (or a PostgreSQL-compatible database) through postgres.js, shared by any number
 * of stateless server nodes. Every statement here must therefore be safe against other nodes running at once:
 *
 * - Every change to a queue (enqueue, ack, expiry sweep, group fan-out) first takes a FOR NO KEY UPDATE lock on the
 *   device rows concerned, in one statement sorted by key (queue-statements.ts), so overlapping changes wait instead
 *   of deadlocking. Under that lock the change adjusts devices.queue_depth, which makes the depth check exact under
 *   concurrency and O(1) (counting a queue of 9,000-10,000 envelopes inside the lock made sends to it ~10x slower).
 *   The lock also makes ids of one queue increase in commit order: an envelope committed later always has a larger
 *   id, so a client paginating with afterId can never miss one (plain sequence ids would not guarantee that).
 * - addDevice and deleteAccount lock the account row first (max + 1 and "delete everything" need a stable set), and
 *   so do createAttachment and createGroup (a quota check and the insert it allows must see a stable count).
 * - The key directory hands each one-time key and KeyPackage out once (postgres-keys.ts).
 *
 * The hot-path queue writes — enqueue, ack, touchDevice — are batched across calls, one transaction per batch
 * (queue-batch.ts); group commits and fan-out keep one transaction per call. How errors are reported and which
 * transactions are retried: postgres-database.ts. What both engines do alike: ../common/.
 */
import type { Sql } from 'postgres';
import { appliedPostgresMigrations, migratePostgres } from '../migrations.js';
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
import { exceededAttachmentQuota, withinQueueDepth } from '../common/admission.js';
import { ackableIds, readStart } from '../common/envelope-ids.js';
import { commitEnvelopes, fanOutEnvelopes, storedGroupEnvelopes } from '../common/group-fan-out.js';
import { bytes, toAccount, toAttachment, toDevice, toGroupMember, toQueuedEnvelope, toStoredProfile } from '../common/rows.js';
import type { AccountRow, AttachmentRow, DeviceRow, EnvelopeRow, GroupMemberRow, ProfileRow } from '../common/rows.js';
import { OID, PostgresDatabase } from './postgres-database.js';
import type { PostgresConnectOptions } from './postgres-database.js';
import { PostgresKeys } from './postgres-keys.js';
import { QueueBatchWriter } from './queue-batch.js';
import type { QueueBatchStats } from './queue-batch.js';
import { insertCounted, lockDevices, lockTargets } from './queue-statements.js';

const EXPIRY_CHUNK = 5_000;

export class PostgresRepository implements Repository {
  readonly engine = 'postgres';
  private readonly queue: QueueBatchWriter;
  /** Key directory and MLS KeyPackages (postgres-keys.ts). */
  readonly keys: PostgresKeys;

  private constructor(private readonly db: PostgresDatabase) {
    this.queue = new QueueBatchWriter(db);
    this.keys = new PostgresKeys(db);
  }

  /**
   * Connects (and checks the connection with one query). With `schema`, creates it if missing and points the
   * search_path of every pooled connection at it. Call migrate() before use.
   */
  static async connect(url: string, options: PostgresConnectOptions = {}): Promise<PostgresRepository> {
    return new PostgresRepository(await PostgresDatabase.connect(url, options));
  }

  /** The schema this repository works in, when one was chosen. */
  get schema(): string | undefined {
    return this.db.schema;
  }

  async migrate(): Promise<void> {
    await this.db.guard(() => migratePostgres(this.db.sql));
  }

  /** The schema versions recorded in schema_migrations, ascending. */
  async appliedMigrations(): Promise<number[]> {
    return this.db.guard(() => appliedPostgresMigrations(this.db.sql));
  }

  async close(): Promise<void> {
    if (this.db.isClosed) return;
    await this.queue.close();
    await this.db.close();
  }

  /** Batches committed by the queue writer, and the most ever in flight at once (for tests). */
  get stats(): QueueBatchStats {
    return this.queue.stats;
  }

  // Accounts

  async createAccount(account: AccountRecord, firstDevice: NewDevice): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx`
        INSERT INTO accounts (id, username_hash, identity_key, created_at)
        VALUES (${account.id}, ${account.usernameHash ?? null}, ${account.identityKey}, ${account.createdAt})`;
      await insertDevice(tx, account.id, 1, firstDevice);
    });
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const [row] = await this.db.guard(() => this.db.sql<AccountRow[]>`SELECT * FROM accounts WHERE id = ${accountId}`);
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByUsernameHash(usernameHash: Uint8Array): Promise<AccountRecord | undefined> {
    const [row] = await this.db.guard(
      () => this.db.sql<AccountRow[]>`SELECT * FROM accounts WHERE username_hash = ${usernameHash}`,
    );
    return row === undefined ? undefined : toAccount(row);
  }

  async setSealedSenderKey(accountId: string, published: Uint8Array): Promise<void> {
    const result = await this.db.guard(() => this.db.sql`UPDATE accounts SET sealed_sender_key = ${published} WHERE id = ${accountId}`);
    if (result.count === 0) throw accountNotFound();
  }

  async setUnidentifiedAccess(accountId: string, accessKey: Uint8Array, unrestricted: boolean): Promise<void> {
    const result = await this.db.guard(
      () => this.db.sql`UPDATE accounts SET access_key = ${accessKey}, unrestricted_access = ${unrestricted} WHERE id = ${accountId}`,
    );
    if (result.count === 0) throw accountNotFound();
  }

  async setUsernameHash(accountId: string, usernameHash: Uint8Array | undefined): Promise<void> {
    // The unique constraint decides a race between two accounts claiming the same hash.
    const result = await this.db.guard(
      () => this.db.sql`UPDATE accounts SET username_hash = ${usernameHash ?? null} WHERE id = ${accountId}`,
    );
    if (result.count === 0) throw accountNotFound();
  }

  async deleteAccount(accountId: string): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      // The lock keeps another node from adding an attachment (its foreign key check needs a KEY SHARE lock on
      // this row) between collecting the ids and the cascade, which would orphan that blob.
      const [account] = await tx`SELECT 1 FROM accounts WHERE id = ${accountId} FOR UPDATE`;
      if (account === undefined) return [];
      const attachments = await tx<{ id: string }[]>`
        DELETE FROM attachments WHERE owner_account_id = ${accountId} RETURNING id`;
      await tx`DELETE FROM accounts WHERE id = ${accountId}`;
      return attachments.map((row) => row.id).sort();
    });
  }

  // Devices

  async addDevice(accountId: string, device: NewDevice, maxDevices: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [account] = await tx<{ next: number }[]>`
        SELECT next_device_id AS next FROM accounts WHERE id = ${accountId} FOR NO KEY UPDATE`;
      if (account === undefined) throw accountNotFound();
      const [stats] = await tx<{ n: number; top: number }[]>`
        SELECT count(*)::int AS n, coalesce(max(device_id), 0)::int AS top FROM devices WHERE account_id = ${accountId}`;
      if (stats === undefined) throw new Error('aggregate query returned no row');
      if (stats.n >= maxDevices) throw tooManyDevices();
      // Never an id the account had before, even one since removed (migration 3).
      const deviceId = Math.max(account.next, stats.top + 1);
      await insertDevice(tx, accountId, deviceId, device);
      await tx`UPDATE accounts SET next_device_id = ${deviceId + 1} WHERE id = ${accountId}`;
      return deviceId;
    });
  }

  async getDevice(accountId: string, deviceId: number): Promise<DeviceRecord | undefined> {
    const [row] = await this.db.guard(
      () => this.db.sql<DeviceRow[]>`SELECT * FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const rows = await this.db.guard(
      () => this.db.sql<DeviceRow[]>`SELECT * FROM devices WHERE account_id = ${accountId} ORDER BY device_id`,
    );
    return rows.map(toDevice);
  }

  async removeDevice(accountId: string, deviceId: number): Promise<boolean> {
    // ON DELETE CASCADE removes the device's prekeys and queued envelopes in the same statement.
    const result = await this.db.guard(
      () => this.db.sql`DELETE FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return result.count > 0;
  }

  async touchDevice(accountId: string, deviceId: number, at: number): Promise<void> {
    await this.queue.touch(accountId, deviceId, at);
  }











  // Queues

  async enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]> {
    if (envelopes.length === 0) return [];
    return this.queue.enqueue(envelopes, maxQueueDepth);
  }

  /**
   * Group fan-out inside a transaction: locks the target device rows (sorted, as every queue change does), leaves out
   * envelopes for devices that no longer exist or whose queue is full (withinQueueDepth) and stores the rest; returns
   * what was stored, in input order.
   */
  private async enqueueGroup(tx: Sql, envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<StoredGroupEnvelope[]> {
    if (envelopes.length === 0) return [];
    const locked = await lockTargets(this.db.sql, tx, uniqueMembers(envelopes));
    const depths = new Map(locked.map((row) => [memberKey({ accountId: row.account_id, deviceId: row.device_id }), Number(row.queue_depth)]));
    const kept = withinQueueDepth(envelopes, depths, maxQueueDepth);
    return storedGroupEnvelopes(kept, kept.length === 0 ? [] : await insertCounted(this.db.sql, tx, kept));
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
    const rows = await this.db.guard(
      () => this.db.sql<EnvelopeRow[]>`
        SELECT id, source_account_id, source_device_id, envelope, received_at FROM envelopes
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND id > ${String(start)} AND expires_at > ${now}
        ORDER BY id LIMIT ${limit}`,
    );
    return rows.map(toQueuedEnvelope);
  }

  async ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]> {
    const valid = ackableIds(ids);
    if (valid.length === 0) return [];
    return this.queue.ack(accountId, deviceId, valid);
  }

  async queueDepth(accountId: string, deviceId: number): Promise<number> {
    const [row] = await this.db.guard(
      () => this.db.sql<{ queue_depth: number }[]>`
        SELECT queue_depth FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return row?.queue_depth ?? 0;
  }

  async totalQueued(): Promise<number> {
    const [row] = await this.db.guard(() => this.db.sql<{ n: string }[]>`SELECT count(*) AS n FROM envelopes`);
    return Number(row?.n ?? 0);
  }

  async deleteExpiredEnvelopes(now: number): Promise<number> {
    // In chunks, each its own short transaction. Like every queue change, a chunk locks the device rows (sorted)
    // before it touches their envelopes: one lock order everywhere, so the sweep cannot deadlock with sends and acks.
    const sql = this.db.sql;
    let total = 0;
    for (;;) {
      const { found, deleted } = await this.db.transaction(async (tx) => {
        const expired = await tx<{ id: string; account_id: string; device_id: number }[]>`
          SELECT id, account_id, device_id FROM envelopes WHERE expires_at <= ${now} LIMIT ${EXPIRY_CHUNK}`;
        if (expired.length === 0) return { found: 0, deleted: 0 };
        const queues = [...new Map(expired.map((row) => [`${row.account_id}/${row.device_id}`, row])).values()];
        await lockDevices(
          tx,
          sql.array(queues.map((q) => q.account_id), OID.text),
          sql.array(queues.map((q) => q.device_id), OID.int4),
        );
        const [result] = await tx<{ n: number }[]>`
          WITH gone AS (
            DELETE FROM envelopes WHERE id = ANY (${sql.array(expired.map((row) => row.id), OID.int8)}::bigint[])
            RETURNING account_id, device_id),
          per_queue AS (SELECT account_id, device_id, count(*)::int AS n FROM gone GROUP BY account_id, device_id),
          counted AS (
            UPDATE devices SET queue_depth = devices.queue_depth - q.n
            FROM per_queue q WHERE devices.account_id = q.account_id AND devices.device_id = q.device_id)
          SELECT count(*)::int AS n FROM gone`;
        return { found: expired.length, deleted: result?.n ?? 0 };
      });
      total += deleted;
      if (found < EXPIRY_CHUNK) return total;
    }
  }

  // Attachments

  async createAttachment(record: AttachmentRecord, quota: AttachmentQuota): Promise<void> {
    await this.db.transaction(async (tx) => {
      // The owner's row lock makes the uploads of one account take turns, on every node: each sums what the ones
      // before it committed, so a concurrent burst cannot pass the quota on the same room. (FOR NO KEY UPDATE: the
      // foreign key checks of other writes to the account, FOR KEY SHARE, do not wait for it.)
      const [owner] = await tx`SELECT 1 FROM accounts WHERE id = ${record.ownerAccountId} FOR NO KEY UPDATE`;
      if (owner === undefined) throw accountNotFound();
      const exceeded = exceededAttachmentQuota(await usageOf(tx, record.ownerAccountId, quota.now), record.size, quota);
      if (exceeded) throw exceeded;
      await tx`
        INSERT INTO attachments (id, owner_account_id, size, created_at, expires_at)
        VALUES (${record.id}, ${record.ownerAccountId}, ${record.size}, ${record.createdAt}, ${record.expiresAt})`;
    });
  }

  async attachmentUsage(accountId: string, now: number): Promise<AttachmentUsage> {
    return this.db.guard(() => usageOf(this.db.sql, accountId, now));
  }

  async getAttachment(id: string): Promise<AttachmentRecord | undefined> {
    const [row] = await this.db.guard(() => this.db.sql<AttachmentRow[]>`SELECT * FROM attachments WHERE id = ${id}`);
    return row === undefined ? undefined : toAttachment(row);
  }

  async deleteAttachment(id: string): Promise<void> {
    await this.db.guard(() => this.db.sql`DELETE FROM attachments WHERE id = ${id}`);
  }

  async deleteExpiredAttachments(now: number): Promise<string[]> {
    const rows = await this.db.guard(
      () => this.db.sql<{ id: string }[]>`DELETE FROM attachments WHERE expires_at <= ${now} RETURNING id`,
    );
    return rows.map((row) => row.id);
  }

  // Device linking

  async createLinkCode(accountId: string, codeHash: Uint8Array, expiresAt: number): Promise<void> {
    await this.db.guard(
      () => this.db.sql`
        INSERT INTO link_codes (code_hash, account_id, expires_at) VALUES (${codeHash}, ${accountId}, ${expiresAt})`,
      'ACCOUNT_NOT_FOUND',
    );
  }

  async consumeLinkCode(codeHash: Uint8Array, now: number): Promise<string | undefined> {
    // One statement: of two concurrent consumers exactly one gets the row. Deleted even when expired.
    const [row] = await this.db.guard(
      () => this.db.sql<{ account_id: string; expires_at: string }[]>`
        DELETE FROM link_codes WHERE code_hash = ${codeHash} RETURNING account_id, expires_at`,
    );
    return row !== undefined && Number(row.expires_at) > now ? row.account_id : undefined;
  }

  async deleteExpiredLinkCodes(now: number): Promise<number> {
    const result = await this.db.guard(() => this.db.sql`DELETE FROM link_codes WHERE expires_at <= ${now}`);
    return result.count;
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
    await this.db.transaction(async (tx) => {
      const [exists] = await tx`SELECT 1 FROM groups WHERE id = ${groupId}`;
      if (exists) throw groupExists();
      // As createAttachment: the creator's account row lock makes its creations take turns, so the quota holds on
      // every node.
      const [account] = await tx`SELECT 1 FROM accounts WHERE id = ${creator.accountId} FOR NO KEY UPDATE`;
      const [device] = await tx`SELECT 1 FROM devices WHERE account_id = ${creator.accountId} AND device_id = ${creator.deviceId} FOR KEY SHARE`;
      if (!account || !device) throw deviceNotFound();
      if ((await createdGroupsOf(tx, creator.accountId)) >= maxGroups) throw new QuotaExceededError('groups', maxGroups);
      await tx`
        INSERT INTO groups (id, epoch, group_info, created_at, updated_at, creator_account_id, send_key_hash)
        VALUES (${groupId}, ${epoch}, ${groupInfo}, ${now}, ${now}, ${creator.accountId}, ${sendKeyHash ?? null})`;
      await tx`INSERT INTO group_members (group_id, account_id, device_id) VALUES (${groupId}, ${creator.accountId}, ${creator.deviceId})`;
    });
  }

  async countCreatedGroups(accountId: string): Promise<number> {
    return this.db.guard(() => createdGroupsOf(this.db.sql, accountId));
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const [row] = await this.db.guard(() => this.db.sql<{ epoch: string; group_info: Uint8Array }[]>`SELECT epoch, group_info FROM groups WHERE id = ${groupId}`);
    if (!row) return undefined;
    return { groupId, epoch: Number(row.epoch), groupInfo: bytes(row.group_info), members: await this.groupMembers(this.db.sql, groupId) };
  }

  async setProfile(accountId: string, profile: StoredProfile, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [account] = await tx`SELECT 1 FROM accounts WHERE id = ${accountId} FOR KEY SHARE`;
      if (!account) throw accountNotFound();
      await tx`
        INSERT INTO profiles (account_id, version, name, about, avatar, updated_at)
        VALUES (${accountId}, ${profile.version}, ${profile.name ?? null}, ${profile.about ?? null}, ${profile.avatar ?? null}, ${now})
        ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, about = EXCLUDED.about,
          avatar = EXCLUDED.avatar, updated_at = EXCLUDED.updated_at`;
    });
  }

  async getProfile(accountId: string): Promise<StoredProfile | undefined> {
    const [row] = await this.db.guard(() => this.db.sql<ProfileRow[]>`SELECT version, name, about, avatar FROM profiles WHERE account_id = ${accountId}`);
    return row ? toStoredProfile(row) : undefined;
  }

  async getGroupSendKeyHash(groupId: string): Promise<Uint8Array | undefined> {
    const [row] = await this.db.guard(() => this.db.sql<{ send_key_hash: Uint8Array | null }[]>`SELECT send_key_hash FROM groups WHERE id = ${groupId}`);
    return row?.send_key_hash ? bytes(row.send_key_hash) : undefined;
  }

  async listGroups(accountId: string): Promise<{ groupId: string; epoch: number }[]> {
    const rows = await this.db.guard(
      () => this.db.sql<{ id: string; epoch: string }[]>`
        SELECT DISTINCT g.id, g.epoch FROM group_members m JOIN groups g ON g.id = m.group_id
        WHERE m.account_id = ${accountId} ORDER BY g.id`,
    );
    return rows.map((r) => ({ groupId: r.id, epoch: Number(r.epoch) }));
  }

  async commitGroup(commit: GroupCommit): Promise<StoredGroupEnvelope[]> {
    return this.db.transaction(async (tx) => {
      // The group row lock orders concurrent commits: the second waits, then sees the new epoch.
      const [group] = await tx<{ epoch: string }[]>`SELECT epoch FROM groups WHERE id = ${commit.groupId} FOR UPDATE`;
      if (!group) throw groupNotFound();
      if (Number(group.epoch) !== commit.epoch) throw new StaleEpochError(Number(group.epoch));
      const before = await this.groupMembers(tx, commit.groupId);
      const after = uniqueMembers(commit.members);
      await tx`
        UPDATE groups SET epoch = ${commit.epoch + 1}, group_info = ${commit.groupInfo}, updated_at = ${commit.receivedAt},
          send_key_hash = ${commit.sendKeyHash ?? null}
        WHERE id = ${commit.groupId}`;
      await tx`DELETE FROM group_members WHERE group_id = ${commit.groupId}`;
      if (after.length > 0) {
        await tx`
          INSERT INTO group_members (group_id, account_id, device_id)
          SELECT ${commit.groupId}, a, d FROM unnest(${this.db.sql.array(after.map((m) => m.accountId), OID.text)}::text[],
                                                     ${this.db.sql.array(after.map((m) => m.deviceId), OID.int4)}::int[]) AS t (a, d)
          WHERE EXISTS (SELECT 1 FROM devices WHERE account_id = t.a AND device_id = t.d)`;
      }
      const envelopes = commitEnvelopes(commit, before, after);
      return this.enqueueGroup(tx, envelopes, commit.maxQueueDepth);
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
    return this.db.transaction(async (tx) => {
      const [group] = await tx`SELECT 1 FROM groups WHERE id = ${groupId} FOR KEY SHARE`;
      if (!group) throw groupNotFound();
      const members = await this.groupMembers(tx, groupId);
      return this.enqueueGroup(tx, fanOutEnvelopes(members, sender, envelope, receivedAt, expiresAt), maxQueueDepth);
    });
  }

  private async groupMembers(sql: Sql, groupId: string): Promise<GroupMember[]> {
    const rows = await sql<GroupMemberRow[]>`
      SELECT account_id, device_id FROM group_members WHERE group_id = ${groupId} ORDER BY account_id, device_id`;
    return rows.map(toGroupMember);
  }
}

async function usageOf(sql: Sql, accountId: string, now: number): Promise<AttachmentUsage> {
  const [row] = await sql<{ count: number; bytes: string }[]>`
    SELECT count(*)::int AS count, coalesce(sum(size), 0)::bigint AS bytes FROM attachments
    WHERE owner_account_id = ${accountId} AND expires_at > ${now}`;
  return { count: row?.count ?? 0, bytes: Number(row?.bytes ?? 0) };
}

/** Groups the account created that a device of it is still a member of. */
async function createdGroupsOf(sql: Sql, accountId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM groups g WHERE g.creator_account_id = ${accountId}
      AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.account_id = g.creator_account_id)`;
  return row?.n ?? 0;
}

async function insertDevice(tx: Sql, accountId: string, deviceId: number, device: NewDevice): Promise<void> {
  await tx`
    INSERT INTO devices (account_id, device_id, registration_id, auth_hash, encrypted_name, created_at, last_seen_at)
    VALUES (${accountId}, ${deviceId}, ${device.registrationId}, ${device.authHash}, ${device.encryptedName},
            ${device.createdAt}, ${device.createdAt})`;
}
