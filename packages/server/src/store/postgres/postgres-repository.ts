/**
 * The scale-out store: PostgreSQL (or a PostgreSQL-compatible database) through postgres.js, shared by any number
 * of stateless server nodes. Every statement here must therefore be safe against other nodes running at once:
 *
 * - takeBundle consumes a one-time key with `DELETE … WHERE key_id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`:
 *   concurrent callers lock different rows instead of queueing behind (or, under READ COMMITTED, skipping past) the
 *   same one, so no key is handed out twice and none is skipped while it is still free. Keys are addressed by their
 *   primary key, not by ctid, which CockroachDB does not have.
 * - Every change to a queue (enqueue, ack, expiry sweep) first takes a FOR NO KEY UPDATE lock on the device rows
 *   concerned, in one statement sorted by key, so overlapping changes wait instead of deadlocking. Under that lock
 *   the change adjusts devices.queue_depth, which makes the depth check exact under concurrency and O(1) (counting
 *   a queue of 9,000-10,000 envelopes inside the lock made sends to it ~10x slower). The lock also makes ids of one
 *   queue increase in commit order: an envelope committed later always has a larger id, so a client paginating
 *   with afterId can never miss one (plain sequence ids would not guarantee that).
 * - addDevice and deleteAccount lock the account row first (max + 1 and "delete everything" need a stable set), and
 *   so do createAttachment and createGroup (a quota check and the insert it allows must see a stable count).
 *
 * The hot-path queue writes — enqueue, ack, touchDevice — are batched across calls (QueueBatch below): every call
 * made while a batch is starting joins the next one, and a batch is ONE transaction of five statements
 * (lock every device row it touches, sorted; delete the acked envelopes; insert the new ones and count them into the
 * depths; touch; commit). One transaction per call cost about ten round trips per message, each driven from the
 * busy event loop while its connection sat idle in transaction holding row locks (docs/benchmarks.md, "Server
 * profile"). Each call keeps its own all-or-nothing rule: the depth and device checks run in JS on the locked rows
 * before anything is written, so a call that is QUEUE_FULL or DEVICE_NOT_FOUND stores nothing and the others go on.
 * Nothing resolves before the batch's COMMIT returned. Two batches may be in flight, so that one's COMMIT (and its
 * WAL flush) overlaps the next one's statements; the next starts only once the previous holds its row locks, so that
 * a queue's writes are still stored in the order they were made (a later batch that touches the same queue waits for
 * the earlier one's COMMIT on that row lock). Only a batch whose transaction is retried (deadlock or serialization
 * failure, which sorted locking under READ COMMITTED should never produce) can be overtaken by the next one. Group
 * fan-out keeps one transaction per call.
 *
 * Errors: constraint violations the contract names become RepositoryError; every other PostgresError is rethrown as
 * a PostgresStoreError carrying only the SQLSTATE code and the server's primary message — never the `detail` field,
 * which quotes key values (account ids, username hashes), nor the query parameters.
 */
import postgres from 'postgres';
import type { Sql } from 'postgres';
import { reservedTransaction } from './reserved-transaction.js';
import { appliedPostgresMigrations, migratePostgres } from '../migrations.js';
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

export interface PostgresConnectOptions {
  /** Schema to keep every table in (created if missing, selected through search_path); default: the server's. */
  readonly schema?: string;
  /** Pool size (connections). */
  readonly max?: number;
}

/** A PostgreSQL failure with the details (which may quote stored values) stripped. */
export class PostgresStoreError extends Error {
  override readonly name = 'PostgresStoreError';
  constructor(
    /** SQLSTATE, e.g. 40P01. */
    readonly code: string,
    message: string,
  ) {
    super(`PostgreSQL error ${code}: ${message}`);
  }
}

type RepositoryCode = RepositoryError['code'];

// Array parameters need their element type OID (postgres.js cannot infer it from an empty or all-null array). It maps
// them to array types with the type list it fetches on its first connection, which connect() opens before returning.
const OID = { text: 25, int4: 23, int8: 20, bytea: 17 } as const;
const MAX_ENVELOPE_ID = 2n ** 63n - 1n;
const EXPIRY_CHUNK = 5_000;
const TRANSACTION_ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

interface AccountRow {
  id: string;
  username_hash: Uint8Array | null;
  identity_key: Uint8Array;
  created_at: string;
}

interface DeviceRow {
  account_id: string;
  device_id: number;
  registration_id: string;
  auth_hash: string;
  encrypted_name: Uint8Array;
  created_at: string;
  last_seen_at: string;
}

interface KeyRow {
  key_id: string;
  public_key: Uint8Array;
  signature: Uint8Array;
}

interface AttachmentRow {
  id: string;
  owner_account_id: string;
  size: string;
  created_at: string;
  expires_at: string;
}

/** A hot-path queue write waiting for the next batch. */
type QueueWrite =
  | { readonly kind: 'enqueue'; readonly envelopes: readonly NewEnvelope[]; readonly maxQueueDepth: number; readonly settle: Settle<bigint[]> }
  | { readonly kind: 'ack'; readonly accountId: string; readonly deviceId: number; readonly ids: readonly bigint[]; readonly settle: Settle<bigint[]> }
  | { readonly kind: 'touch'; readonly accountId: string; readonly deviceId: number; readonly at: number; readonly settle: Settle<void> };

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type QueueOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** Most writes in one batch (a batch of 1,000 one-envelope sends is ~300 KB of parameters). */
const MAX_BATCH_WRITES = 1_000;
/** Batches in flight at once: one committing while the next runs its statements. */
const MAX_BATCHES_IN_FLIGHT = 2;

const deviceKeyOf = (accountId: string, deviceId: number) => `${accountId}/${deviceId}`;

export class PostgresRepository implements Repository {
  readonly engine = 'postgres';
  private closed = false;
  /** Queue writes waiting for the next batch; the batches in flight (at most MAX_BATCHES_IN_FLIGHT per process). */
  private queued: QueueWrite[] = [];
  private readonly batchesInFlight = new Set<Promise<void>>();
  /** True from a batch's start until it holds its row locks: no other batch starts meanwhile. */
  private batchLocking = false;
  private batchScheduled = false;
  private readonly counters = { queueTransactions: 0, mostBatchesInFlight: 0 };

  private constructor(
    private readonly sql: Sql,
    /** The schema this repository works in, when one was chosen. */
    readonly schema: string | undefined,
  ) {}

  /**
   * Connects (and checks the connection with one query). With `schema`, creates it if missing and points the
   * search_path of every pooled connection at it. Call migrate() before use.
   */
  static async connect(url: string, options: PostgresConnectOptions = {}): Promise<PostgresRepository> {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error('invalid PostgreSQL schema name: use lowercase letters, digits and "_", not starting with a digit');
    }
    const sql = postgres(url, {
      max: options.max ?? 10,
      // postgres.js prints notices (e.g. "schema already exists, skipping") to the console by default.
      onnotice: () => undefined,
      connection: { application_name: 'samizdat-server', ...(schema === undefined ? {} : { search_path: schema }) },
    });
    try {
      if (schema === undefined) {
        await sql`SELECT 1`;
      } else {
        await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).catch((err: unknown) => {
          // Two processes creating the schema at the same moment: one of them loses the race, which is fine.
          if (!['42P06', '23505'].includes(pgCode(err) ?? '')) throw err;
        });
      }
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw translate(err);
    }
    return new PostgresRepository(sql, schema);
  }

  async migrate(): Promise<void> {
    await this.guard(() => migratePostgres(this.sql));
  }

  /** The schema versions recorded in schema_migrations, ascending. */
  async appliedMigrations(): Promise<number[]> {
    return this.guard(() => appliedPostgresMigrations(this.sql));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.batchesInFlight.size > 0 || this.batchScheduled) {
      if (this.batchesInFlight.size > 0) await Promise.all([...this.batchesInFlight]);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }

  /** Batches committed by the queue writer, and the most ever in flight at once (for tests). */
  get stats(): { readonly queueTransactions: number; readonly mostBatchesInFlight: number } {
    return { ...this.counters };
  }

  // Accounts

  async createAccount(account: AccountRecord, firstDevice: NewDevice): Promise<void> {
    await this.transaction(async (tx) => {
      await tx`
        INSERT INTO accounts (id, username_hash, identity_key, created_at)
        VALUES (${account.id}, ${account.usernameHash ?? null}, ${account.identityKey}, ${account.createdAt})`;
      await insertDevice(tx, account.id, 1, firstDevice);
    });
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const [row] = await this.guard(() => this.sql<AccountRow[]>`SELECT * FROM accounts WHERE id = ${accountId}`);
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByUsernameHash(usernameHash: Uint8Array): Promise<AccountRecord | undefined> {
    const [row] = await this.guard(
      () => this.sql<AccountRow[]>`SELECT * FROM accounts WHERE username_hash = ${usernameHash}`,
    );
    return row === undefined ? undefined : toAccount(row);
  }

  async setUsernameHash(accountId: string, usernameHash: Uint8Array | undefined): Promise<void> {
    // The unique constraint decides a race between two accounts claiming the same hash.
    const result = await this.guard(
      () => this.sql`UPDATE accounts SET username_hash = ${usernameHash ?? null} WHERE id = ${accountId}`,
    );
    if (result.count === 0) throw accountNotFound();
  }

  async deleteAccount(accountId: string): Promise<string[]> {
    return this.transaction(async (tx) => {
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
    return this.transaction(async (tx) => {
      const [account] = await tx<{ next: number }[]>`
        SELECT next_device_id AS next FROM accounts WHERE id = ${accountId} FOR NO KEY UPDATE`;
      if (account === undefined) throw accountNotFound();
      const [stats] = await tx<{ n: number; top: number }[]>`
        SELECT count(*)::int AS n, coalesce(max(device_id), 0)::int AS top FROM devices WHERE account_id = ${accountId}`;
      if (stats === undefined) throw new Error('aggregate query returned no row');
      if (stats.n >= maxDevices) {
        throw new RepositoryError('TOO_MANY_DEVICES', 'the account has the maximum number of devices');
      }
      // Never an id the account had before, even one since removed (migration 3).
      const deviceId = Math.max(account.next, stats.top + 1);
      await insertDevice(tx, accountId, deviceId, device);
      await tx`UPDATE accounts SET next_device_id = ${deviceId + 1} WHERE id = ${accountId}`;
      return deviceId;
    });
  }

  async getDevice(accountId: string, deviceId: number): Promise<DeviceRecord | undefined> {
    const [row] = await this.guard(
      () => this.sql<DeviceRow[]>`SELECT * FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const rows = await this.guard(
      () => this.sql<DeviceRow[]>`SELECT * FROM devices WHERE account_id = ${accountId} ORDER BY device_id`,
    );
    return rows.map(toDevice);
  }

  async removeDevice(accountId: string, deviceId: number): Promise<boolean> {
    // ON DELETE CASCADE removes the device's prekeys and queued envelopes in the same statement.
    const result = await this.guard(
      () => this.sql`DELETE FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return result.count > 0;
  }

  async touchDevice(accountId: string, deviceId: number, at: number): Promise<void> {
    await new Promise<void>((resolve, reject) => this.queueWrite({ kind: 'touch', accountId, deviceId, at, settle: { resolve, reject } }));
  }

  // Key directory

  async setSignedPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    await this.guard(
      () => this.sql`
        INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature)
        VALUES (${accountId}, ${deviceId}, ${key.keyId}, ${key.publicKey}, ${key.signature})
        ON CONFLICT (account_id, device_id) DO UPDATE
          SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async setKyberLastResortPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    await this.guard(
      () => this.sql`
        INSERT INTO kyber_last_resort_prekeys (account_id, device_id, key_id, public_key, signature)
        VALUES (${accountId}, ${deviceId}, ${key.keyId}, ${key.publicKey}, ${key.signature})
        ON CONFLICT (account_id, device_id) DO UPDATE
          SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async addOneTimePreKeys(accountId: string, deviceId: number, keys: readonly OneTimePreKeyRecord[]): Promise<void> {
    // ON CONFLICT cannot touch one row twice in a statement: of repeated key ids in one upload, the last one wins.
    const unique = [...new Map(keys.map((key) => [key.keyId, key])).values()];
    if (unique.length === 0) return;
    const sql = this.sql;
    await this.guard(
      () => sql`
        INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key)
        SELECT ${accountId}, ${deviceId}, k, p
        FROM unnest(${sql.array(unique.map((key) => key.keyId), OID.int8)}::bigint[],
                    ${sql.array(unique.map((key) => key.publicKey), OID.bytea)}::bytea[]) AS t (k, p)
        ON CONFLICT (account_id, device_id, key_id) DO UPDATE SET public_key = excluded.public_key`,
      'DEVICE_NOT_FOUND',
    );
  }

  async addKyberOneTimePreKeys(accountId: string, deviceId: number, keys: readonly SignedPreKeyRecord[]): Promise<void> {
    const unique = [...new Map(keys.map((key) => [key.keyId, key])).values()];
    if (unique.length === 0) return;
    const sql = this.sql;
    await this.guard(
      () => sql`
        INSERT INTO kyber_one_time_prekeys (account_id, device_id, key_id, public_key, signature)
        SELECT ${accountId}, ${deviceId}, k, p, s
        FROM unnest(${sql.array(unique.map((key) => key.keyId), OID.int8)}::bigint[],
                    ${sql.array(unique.map((key) => key.publicKey), OID.bytea)}::bytea[],
                    ${sql.array(unique.map((key) => key.signature), OID.bytea)}::bytea[]) AS t (k, p, s)
        ON CONFLICT (account_id, device_id, key_id) DO UPDATE
          SET public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async takeBundle(accountId: string, deviceId: number): Promise<DeviceBundle | undefined> {
    return this.transaction(async (tx) => {
      const [device] = await tx<{ registration_id: string }[]>`
        SELECT registration_id FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      const [signed] = await tx<KeyRow[]>`
        SELECT key_id, public_key, signature FROM signed_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      if (device === undefined || signed === undefined) return undefined;
      let [kyber] = await tx<KeyRow[]>`
        DELETE FROM kyber_one_time_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key_id = (
          SELECT key_id FROM kyber_one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId}
          ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING key_id, public_key, signature`;
      if (kyber === undefined) {
        [kyber] = await tx<KeyRow[]>`
          SELECT key_id, public_key, signature FROM kyber_last_resort_prekeys
          WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      }
      // Nothing has been consumed when this returns: the kyber DELETE found no row.
      if (kyber === undefined) return undefined;
      const [oneTime] = await tx<Omit<KeyRow, 'signature'>[]>`
        DELETE FROM one_time_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key_id = (
          SELECT key_id FROM one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId}
          ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING key_id, public_key`;
      return {
        deviceId,
        registrationId: Number(device.registration_id),
        signedPreKey: toSignedKey(signed),
        oneTimePreKey:
          oneTime === undefined ? undefined : { keyId: Number(oneTime.key_id), publicKey: bytes(oneTime.public_key) },
        kyberPreKey: toSignedKey(kyber),
      };
    });
  }

  async countPreKeys(accountId: string, deviceId: number): Promise<PreKeyCounts> {
    const [row] = await this.guard(
      () => this.sql<{ one_time: number; kyber_one_time: number }[]>`
        SELECT
          (SELECT count(*) FROM one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId})::int
            AS one_time,
          (SELECT count(*) FROM kyber_one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId})::int
            AS kyber_one_time`,
    );
    return { oneTime: row?.one_time ?? 0, kyberOneTime: row?.kyber_one_time ?? 0 };
  }

  // Queues

  async enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]> {
    if (envelopes.length === 0) return [];
    return new Promise((resolve, reject) => this.queueWrite({ kind: 'enqueue', envelopes, maxQueueDepth, settle: { resolve, reject } }));
  }

  /**
   * Group fan-out inside a transaction: locks the target device rows (sorted, as every queue change does), leaves out
   * envelopes for devices that no longer exist or whose queue is full (withinQueueDepth) and stores the rest; returns
   * what was stored, in input order.
   */
  private async enqueueGroup(tx: Sql, envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<StoredGroupEnvelope[]> {
    if (envelopes.length === 0) return [];
    const sql = this.sql;
    const targets = [...new Map(envelopes.map((e) => [deviceKeyOf(e.accountId, e.deviceId), e])).values()];
    const locked = await lockDevices<{ account_id: string; device_id: number; queue_depth: number }>(
      tx,
      sql.array(targets.map((t) => t.accountId), OID.text),
      sql.array(targets.map((t) => t.deviceId), OID.int4),
    );
    const depths = new Map(locked.map((row) => [memberKey({ accountId: row.account_id, deviceId: row.device_id }), Number(row.queue_depth)]));
    const kept = withinQueueDepth(envelopes, depths, maxQueueDepth);
    const ids = kept.length === 0 ? [] : await insertCounted(sql, tx, kept);
    return kept.map((e, i) => ({ accountId: e.accountId, deviceId: e.deviceId, id: ids[i] as bigint, envelope: e.envelope }));
  }

  async fetchQueue(
    accountId: string,
    deviceId: number,
    afterId: bigint,
    limit: number,
    now: number,
  ): Promise<QueuedEnvelope[]> {
    if (afterId >= MAX_ENVELOPE_ID || limit <= 0) return [];
    const rows = await this.guard(
      () => this.sql<
        {
          id: string;
          source_account_id: string | null;
          source_device_id: number | null;
          envelope: Uint8Array;
          received_at: string;
        }[]
      >`
        SELECT id, source_account_id, source_device_id, envelope, received_at FROM envelopes
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND id > ${String(afterId < 0n ? 0n : afterId)}
          AND expires_at > ${now}
        ORDER BY id LIMIT ${limit}`,
    );
    return rows.map((row) => ({
      id: BigInt(row.id),
      sourceAccountId: row.source_account_id ?? undefined,
      sourceDeviceId: row.source_device_id ?? undefined,
      envelope: bytes(row.envelope),
      receivedAt: Number(row.received_at),
    }));
  }

  async ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]> {
    const valid = ids.filter((id) => id > 0n && id <= MAX_ENVELOPE_ID);
    if (valid.length === 0) return [];
    return new Promise((resolve, reject) => this.queueWrite({ kind: 'ack', accountId, deviceId, ids: valid, settle: { resolve, reject } }));
  }

  private queueWrite(write: QueueWrite): void {
    if (this.closed) {
      write.settle.reject(new Error('the PostgreSQL repository is closed'));
      return;
    }
    this.queued.push(write);
    this.scheduleBatch();
  }

  /** Starts a batch soon (calls made in this event-loop turn join it) if one may start. */
  private scheduleBatch(): void {
    if (this.batchScheduled || this.queued.length === 0) return;
    if (this.batchLocking || this.batchesInFlight.size >= MAX_BATCHES_IN_FLIGHT) return;
    this.batchScheduled = true;
    setImmediate(() => {
      this.batchScheduled = false;
      this.startBatch();
    });
  }

  private startBatch(): void {
    if (this.queued.length === 0 || this.batchLocking || this.batchesInFlight.size >= MAX_BATCHES_IN_FLIGHT) return;
    const batch = this.queued.splice(0, MAX_BATCH_WRITES);
    this.batchLocking = true;
    // Once per batch (a retried transaction locks again; its end also counts, should it fail before locking).
    let signalled = false;
    const locked = (): void => {
      if (signalled) return;
      signalled = true;
      this.batchLocking = false;
      this.scheduleBatch();
    };
    const running: Promise<void> = this.runBatch(batch, locked).finally(() => {
      this.batchesInFlight.delete(running);
      locked();
      this.scheduleBatch();
    });
    this.batchesInFlight.add(running);
    this.counters.mostBatchesInFlight = Math.max(this.counters.mostBatchesInFlight, this.batchesInFlight.size);
  }

  private async runBatch(batch: readonly QueueWrite[], locked: () => void): Promise<void> {
    let outcomes: QueueOutcome[];
    try {
      outcomes = await this.transaction((tx) => this.applyBatch(tx, batch, locked));
      this.counters.queueTransactions += 1;
    } catch (error) {
      for (const write of batch) write.settle.reject(error);
      return;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) write.settle.reject(new Error('queue batch lost track of a write'));
      else if (outcome.ok) (write.settle as Settle<unknown>).resolve(outcome.value);
      else write.settle.reject(outcome.error);
    });
  }

  /**
   * One batch inside its transaction; returns an outcome per write (nothing is settled here: a deadlock retry runs
   * this again from the start). Acks are applied before enqueues, so a queue emptied by an ack in the same batch has
   * room for the sends in it.
   */
  private async applyBatch(tx: Sql, batch: readonly QueueWrite[], locked: () => void): Promise<QueueOutcome[]> {
    const sql = this.sql;
    const outcomes: QueueOutcome[] = new Array(batch.length);
    // 1. Lock every device row the batch touches, in key order (other nodes' batches lock in the same order).
    const devices = new Map<string, { accountId: string; deviceId: number }>();
    for (const w of batch) {
      if (w.kind === 'enqueue') for (const e of w.envelopes) devices.set(deviceKeyOf(e.accountId, e.deviceId), e);
      else devices.set(deviceKeyOf(w.accountId, w.deviceId), w);
    }
    const targets = [...devices.values()];
    const lockedRows = await lockDevices<{ account_id: string; device_id: number; queue_depth: number }>(
      tx,
      sql.array(targets.map((t) => t.accountId), OID.text),
      sql.array(targets.map((t) => t.deviceId), OID.int4),
    );
    // The next batch may start now: whatever it shares with this one waits for this COMMIT.
    locked();
    const depth = new Map(lockedRows.map((row) => [deviceKeyOf(row.account_id, row.device_id), row.queue_depth]));
    // 2. Acks: one DELETE for all of them, each id only from its own device's queue.
    const acks = batch.flatMap((w) => (w.kind === 'ack' ? w.ids.map((id) => ({ w, id })) : []));
    // Per device: envelopes acked (their depth is subtracted) and the last-seen time, written in step 4.
    const changes = new Map<string, { accountId: string; deviceId: number; acked: number; at: number | null }>();
    const change = (accountId: string, deviceId: number) => {
      const key = deviceKeyOf(accountId, deviceId);
      let c = changes.get(key);
      if (c === undefined) changes.set(key, (c = { accountId, deviceId, acked: 0, at: null }));
      return c;
    };
    const gone = new Set<string>();
    if (acks.length > 0) {
      const rows = await tx<{ account_id: string; device_id: number; id: string }[]>`
        DELETE FROM envelopes e
        USING unnest(${sql.array(acks.map((a) => (a.w as { accountId: string }).accountId), OID.text)}::text[],
                     ${sql.array(acks.map((a) => (a.w as { deviceId: number }).deviceId), OID.int4)}::int[],
                     ${sql.array(acks.map((a) => String(a.id)), OID.int8)}::bigint[]) AS t (a, d, id)
        WHERE e.account_id = t.a AND e.device_id = t.d AND e.id = t.id
        RETURNING e.account_id, e.device_id, e.id`;
      for (const row of rows) {
        const key = deviceKeyOf(row.account_id, row.device_id);
        gone.add(`${key}/${row.id}`);
        depth.set(key, (depth.get(key) ?? 1) - 1);
        change(row.account_id, row.device_id).acked += 1;
      }
    }
    // 3. Enqueues: checked in call order against the locked depths; the accepted ones are inserted together.
    const accepted: { index: number; envelopes: readonly NewEnvelope[] }[] = [];
    const claimed = new Set<string>();
    batch.forEach((w, index) => {
      if (w.kind === 'ack') {
        // In input order, each id once (and to the first ack of the batch that named it).
        const key = deviceKeyOf(w.accountId, w.deviceId);
        outcomes[index] = {
          ok: true,
          value: w.ids.filter((id) => {
            const entry = `${key}/${id}`;
            if (!gone.has(entry) || claimed.has(entry)) return false;
            claimed.add(entry);
            return true;
          }),
        };
      } else if (w.kind === 'touch') {
        outcomes[index] = { ok: true, value: undefined };
      } else {
        const adding = new Map<string, number>();
        for (const e of w.envelopes) adding.set(deviceKeyOf(e.accountId, e.deviceId), (adding.get(deviceKeyOf(e.accountId, e.deviceId)) ?? 0) + 1);
        let error: unknown;
        for (const [key, count] of adding) {
          const current = depth.get(key);
          if (current === undefined) error ??= deviceNotFound();
          else if (current + count > w.maxQueueDepth) error ??= new RepositoryError('QUEUE_FULL', 'a recipient device queue is full');
        }
        if (error !== undefined) {
          outcomes[index] = { ok: false, error };
          return;
        }
        for (const [key, count] of adding) depth.set(key, (depth.get(key) as number) + count);
        accepted.push({ index, envelopes: w.envelopes });
      }
    });
    const envelopes = accepted.flatMap((a) => a.envelopes);
    if (envelopes.length > 0) {
      const ids = await insertCounted(sql, tx, envelopes);
      let next = 0;
      for (const a of accepted) {
        outcomes[a.index] = { ok: true, value: ids.slice(next, next + a.envelopes.length) };
        next += a.envelopes.length;
      }
    }
    // 4. The acked queues' depths (the inserts counted theirs above) and last-seen times: one UPDATE, one row each.
    for (const w of batch) {
      if (w.kind !== 'touch') continue;
      const c = change(w.accountId, w.deviceId);
      c.at = Math.max(c.at ?? w.at, w.at);
    }
    if (changes.size > 0) {
      const list = [...changes.values()];
      await tx`
        UPDATE devices SET queue_depth = devices.queue_depth - t.n, last_seen_at = COALESCE(t.at, devices.last_seen_at)
        FROM unnest(${sql.array(list.map((c) => c.accountId), OID.text)}::text[], ${sql.array(list.map((c) => c.deviceId), OID.int4)}::int[],
                    ${sql.array(list.map((c) => c.acked), OID.int4)}::int[], ${sql.array(list.map((c) => c.at), OID.int8)}::bigint[])
             AS t (a, d, n, at)
        WHERE devices.account_id = t.a AND devices.device_id = t.d`;
    }
    return outcomes;
  }

  async queueDepth(accountId: string, deviceId: number): Promise<number> {
    const [row] = await this.guard(
      () => this.sql<{ queue_depth: number }[]>`
        SELECT queue_depth FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`,
    );
    return row?.queue_depth ?? 0;
  }

  async totalQueued(): Promise<number> {
    const [row] = await this.guard(() => this.sql<{ n: string }[]>`SELECT count(*) AS n FROM envelopes`);
    return Number(row?.n ?? 0);
  }

  async deleteExpiredEnvelopes(now: number): Promise<number> {
    // In chunks, each its own short transaction. Like every queue change, a chunk locks the device rows (sorted)
    // before it touches their envelopes: one lock order everywhere, so the sweep cannot deadlock with sends and acks.
    const sql = this.sql;
    let total = 0;
    for (;;) {
      const { found, deleted } = await this.transaction(async (tx) => {
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
    await this.transaction(async (tx) => {
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
    return this.guard(() => usageOf(this.sql, accountId, now));
  }

  async getAttachment(id: string): Promise<AttachmentRecord | undefined> {
    const [row] = await this.guard(() => this.sql<AttachmentRow[]>`SELECT * FROM attachments WHERE id = ${id}`);
    return row === undefined ? undefined : toAttachment(row);
  }

  async deleteAttachment(id: string): Promise<void> {
    await this.guard(() => this.sql`DELETE FROM attachments WHERE id = ${id}`);
  }

  async deleteExpiredAttachments(now: number): Promise<string[]> {
    const rows = await this.guard(
      () => this.sql<{ id: string }[]>`DELETE FROM attachments WHERE expires_at <= ${now} RETURNING id`,
    );
    return rows.map((row) => row.id);
  }

  // Device linking

  async createLinkCode(accountId: string, codeHash: Uint8Array, expiresAt: number): Promise<void> {
    await this.guard(
      () => this.sql`
        INSERT INTO link_codes (code_hash, account_id, expires_at) VALUES (${codeHash}, ${accountId}, ${expiresAt})`,
      'ACCOUNT_NOT_FOUND',
    );
  }

  async consumeLinkCode(codeHash: Uint8Array, now: number): Promise<string | undefined> {
    // One statement: of two concurrent consumers exactly one gets the row. Deleted even when expired.
    const [row] = await this.guard(
      () => this.sql<{ account_id: string; expires_at: string }[]>`
        DELETE FROM link_codes WHERE code_hash = ${codeHash} RETURNING account_id, expires_at`,
    );
    return row !== undefined && Number(row.expires_at) > now ? row.account_id : undefined;
  }

  async deleteExpiredLinkCodes(now: number): Promise<number> {
    const result = await this.guard(() => this.sql`DELETE FROM link_codes WHERE expires_at <= ${now}`);
    return result.count;
  }

  // Groups

  async createGroup(groupId: string, epoch: number, creator: GroupMember, groupInfo: Uint8Array, now: number, maxGroups: number): Promise<void> {
    await this.transaction(async (tx) => {
      const [exists] = await tx`SELECT 1 FROM groups WHERE id = ${groupId}`;
      if (exists) throw groupExists();
      // As createAttachment: the creator's account row lock makes its creations take turns, so the quota holds on
      // every node.
      const [account] = await tx`SELECT 1 FROM accounts WHERE id = ${creator.accountId} FOR NO KEY UPDATE`;
      const [device] = await tx`SELECT 1 FROM devices WHERE account_id = ${creator.accountId} AND device_id = ${creator.deviceId} FOR KEY SHARE`;
      if (!account || !device) throw deviceNotFound();
      if ((await createdGroupsOf(tx, creator.accountId)) >= maxGroups) throw new QuotaExceededError('groups', maxGroups);
      await tx`
        INSERT INTO groups (id, epoch, group_info, created_at, updated_at, creator_account_id)
        VALUES (${groupId}, ${epoch}, ${groupInfo}, ${now}, ${now}, ${creator.accountId})`;
      await tx`INSERT INTO group_members (group_id, account_id, device_id) VALUES (${groupId}, ${creator.accountId}, ${creator.deviceId})`;
    });
  }

  async countCreatedGroups(accountId: string): Promise<number> {
    return this.guard(() => createdGroupsOf(this.sql, accountId));
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const [row] = await this.guard(() => this.sql<{ epoch: string; group_info: Uint8Array }[]>`SELECT epoch, group_info FROM groups WHERE id = ${groupId}`);
    if (!row) return undefined;
    return { groupId, epoch: Number(row.epoch), groupInfo: new Uint8Array(row.group_info), members: await this.groupMembers(this.sql, groupId) };
  }

  async listGroups(accountId: string): Promise<{ groupId: string; epoch: number }[]> {
    const rows = await this.guard(
      () => this.sql<{ id: string; epoch: string }[]>`
        SELECT DISTINCT g.id, g.epoch FROM group_members m JOIN groups g ON g.id = m.group_id
        WHERE m.account_id = ${accountId} ORDER BY g.id`,
    );
    return rows.map((r) => ({ groupId: r.id, epoch: Number(r.epoch) }));
  }

  async commitGroup(commit: GroupCommit): Promise<StoredGroupEnvelope[]> {
    return this.transaction(async (tx) => {
      // The group row lock orders concurrent commits: the second waits, then sees the new epoch.
      const [group] = await tx<{ epoch: string }[]>`SELECT epoch FROM groups WHERE id = ${commit.groupId} FOR UPDATE`;
      if (!group) throw groupNotFound();
      if (Number(group.epoch) !== commit.epoch) throw new StaleEpochError(Number(group.epoch));
      const before = await this.groupMembers(tx, commit.groupId);
      const after = uniqueMembers(commit.members);
      await tx`UPDATE groups SET epoch = ${commit.epoch + 1}, group_info = ${commit.groupInfo}, updated_at = ${commit.receivedAt} WHERE id = ${commit.groupId}`;
      await tx`DELETE FROM group_members WHERE group_id = ${commit.groupId}`;
      if (after.length > 0) {
        await tx`
          INSERT INTO group_members (group_id, account_id, device_id)
          SELECT ${commit.groupId}, a, d FROM unnest(${this.sql.array(after.map((m) => m.accountId), OID.text)}::text[],
                                                     ${this.sql.array(after.map((m) => m.deviceId), OID.int4)}::int[]) AS t (a, d)
          WHERE EXISTS (SELECT 1 FROM devices WHERE account_id = t.a AND device_id = t.d)`;
      }
      const envelopes = commitEnvelopes(commit, before, after);
      return this.enqueueGroup(tx, envelopes, commit.maxQueueDepth);
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
    return this.transaction(async (tx) => {
      const [group] = await tx`SELECT 1 FROM groups WHERE id = ${groupId} FOR KEY SHARE`;
      if (!group) throw groupNotFound();
      const targets = (await this.groupMembers(tx, groupId)).filter((m) => memberKey(m) !== memberKey(sender));
      return this.enqueueGroup(
        tx,
        targets.map((m) => ({ accountId: m.accountId, deviceId: m.deviceId, sourceAccountId: sender.accountId, sourceDeviceId: sender.deviceId, envelope, receivedAt, expiresAt })),
        maxQueueDepth,
      );
    });
  }

  async addKeyPackages(accountId: string, deviceId: number, keyPackages: readonly Uint8Array[], lastResort: Uint8Array | undefined): Promise<void> {
    await this.transaction(async (tx) => {
      const [device] = await tx`SELECT 1 FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId} FOR KEY SHARE`;
      if (!device) throw deviceNotFound();
      if (keyPackages.length > 0) {
        await tx`
          INSERT INTO key_packages (account_id, device_id, key_package, last_resort)
          SELECT ${accountId}, ${deviceId}, k, false FROM unnest(${this.sql.array([...keyPackages], OID.bytea)}::bytea[]) WITH ORDINALITY AS t (k, ord)
          ORDER BY ord`;
      }
      if (lastResort) {
        await tx`DELETE FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND last_resort`;
        await tx`INSERT INTO key_packages (account_id, device_id, key_package, last_resort) VALUES (${accountId}, ${deviceId}, ${lastResort}, true)`;
      }
    });
  }

  async claimKeyPackages(accountIds: readonly string[]): Promise<{ accountId: string; deviceId: number; keyPackage: Uint8Array }[]> {
    const out: { accountId: string; deviceId: number; keyPackage: Uint8Array }[] = [];
    for (const accountId of new Set(accountIds)) {
      const devices = await this.guard(() => this.sql<{ device_id: number }[]>`SELECT device_id FROM devices WHERE account_id = ${accountId} ORDER BY device_id`);
      for (const { device_id: deviceId } of devices) {
        // As takeBundle: concurrent claimers lock different one-use rows (SKIP LOCKED), so none is handed out twice.
        const [taken] = await this.guard(
          () => this.sql<{ key_package: Uint8Array }[]>`
            DELETE FROM key_packages WHERE id = (
              SELECT id FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND NOT last_resort
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING key_package`,
        );
        const keyPackage =
          taken?.key_package ??
          (
            await this.guard(
              () => this.sql<{ key_package: Uint8Array }[]>`
                SELECT key_package FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND last_resort LIMIT 1`,
            )
          )[0]?.key_package;
        if (keyPackage) out.push({ accountId, deviceId, keyPackage: new Uint8Array(keyPackage) });
      }
    }
    return out;
  }

  async countKeyPackages(accountId: string, deviceId: number): Promise<number> {
    const [row] = await this.guard(
      () => this.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND NOT last_resort`,
    );
    return row?.n ?? 0;
  }

  private async groupMembers(sql: Sql, groupId: string): Promise<GroupMember[]> {
    const rows = await sql<{ account_id: string; device_id: number }[]>`
      SELECT account_id, device_id FROM group_members WHERE group_id = ${groupId} ORDER BY account_id, device_id`;
    return rows.map((r) => ({ accountId: r.account_id, deviceId: r.device_id }));
  }

  // Internals

  /** Runs one query (or a few) and translates its errors; `foreignKey` names what a foreign key violation means. */
  private async guard<T>(run: () => Promise<T>, foreignKey?: RepositoryCode): Promise<T> {
    if (this.closed) throw new Error('the PostgreSQL repository is closed');
    try {
      return await run();
    } catch (err) {
      throw translate(err, foreignKey);
    }
  }

  /** A transaction, retried when PostgreSQL aborted it for a deadlock or a serialization failure. */
  private async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.guard(() => reservedTransaction(this.sql, fn));
      } catch (err) {
        if (!(err instanceof PostgresStoreError && RETRYABLE.has(err.code)) || attempt >= TRANSACTION_ATTEMPTS) throw err;
      }
    }
  }
}

function pgCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'PostgresError') return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function translate(err: unknown, foreignKey?: RepositoryCode): unknown {
  const code = pgCode(err);
  if (code === undefined) return err;
  const constraint = (err as { constraint_name?: unknown }).constraint_name;
  if (code === '23505' && constraint === 'accounts_username_hash_key') return usernameTaken();
  if (code === '23503' && foreignKey !== undefined) {
    return new RepositoryError(foreignKey, foreignKey === 'DEVICE_NOT_FOUND' ? 'no such device' : 'no such account');
  }
  return new PostgresStoreError(code, (err as Error).message);
}

/** Locks the given device rows in key order (FOR NO KEY UPDATE) and returns them: the first step of every queue change. */
async function lockDevices<Row extends object = Record<string, unknown>>(
  tx: Sql,
  accounts: postgres.Parameter,
  devices: postgres.Parameter,
): Promise<Row[]> {
  return tx<Row[]>`
    SELECT account_id, device_id, queue_depth FROM devices
    WHERE (account_id, device_id) IN (SELECT * FROM unnest(${accounts}::text[], ${devices}::int[]))
    ORDER BY account_id, device_id
    FOR NO KEY UPDATE`;
}

/**
 * Inserts `envelopes` (their device rows locked by the caller, checks done) and adds them to the queue depths, in one
 * statement; returns their ids in input order.
 */
async function insertCounted(sql: Sql, tx: Sql, envelopes: readonly NewEnvelope[]): Promise<bigint[]> {
  const counts = new Map<string, { accountId: string; deviceId: number; n: number }>();
  for (const e of envelopes) {
    const key = deviceKeyOf(e.accountId, e.deviceId);
    const c = counts.get(key);
    if (c === undefined) counts.set(key, { accountId: e.accountId, deviceId: e.deviceId, n: 1 });
    else c.n += 1;
  }
  const targets = [...counts.values()];
  const rows = await tx<{ id: string }[]>`
    WITH counted AS (
      UPDATE devices SET queue_depth = devices.queue_depth + t.n
      FROM unnest(${sql.array(targets.map((t) => t.accountId), OID.text)}::text[], ${sql.array(targets.map((t) => t.deviceId), OID.int4)}::int[],
                  ${sql.array(targets.map((t) => t.n), OID.int4)}::int[]) AS t (a, d, n)
      WHERE devices.account_id = t.a AND devices.device_id = t.d)
    INSERT INTO envelopes
      (account_id, device_id, source_account_id, source_device_id, envelope, received_at, expires_at)
    SELECT a, d, sa, sd, e, r, x
    FROM unnest(${sql.array(envelopes.map((e) => e.accountId), OID.text)}::text[],
                ${sql.array(envelopes.map((e) => e.deviceId), OID.int4)}::int[],
                ${sql.array(envelopes.map((e) => e.sourceAccountId ?? null), OID.text)}::text[],
                ${sql.array(envelopes.map((e) => e.sourceDeviceId ?? null), OID.int4)}::int[],
                ${sql.array(envelopes.map((e) => e.envelope), OID.bytea)}::bytea[],
                ${sql.array(envelopes.map((e) => e.receivedAt), OID.int8)}::bigint[],
                ${sql.array(envelopes.map((e) => e.expiresAt), OID.int8)}::bigint[])
         WITH ORDINALITY AS t (a, d, sa, sd, e, r, x, ord)
    ORDER BY ord
    RETURNING id`;
  // Ids are drawn in insertion order (ORDER BY ord); sorting does not rely on RETURNING keeping that order.
  return rows.map((row) => BigInt(row.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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

/** A fresh Uint8Array, so callers never hold a Buffer (whose toString/JSON would expose the bytes differently). */
function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

function toAccount(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    usernameHash: row.username_hash === null ? undefined : bytes(row.username_hash),
    identityKey: bytes(row.identity_key),
    createdAt: Number(row.created_at),
  };
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    accountId: row.account_id,
    deviceId: row.device_id,
    registrationId: Number(row.registration_id),
    authHash: row.auth_hash,
    encryptedName: bytes(row.encrypted_name),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
  };
}

function toSignedKey(row: KeyRow): SignedPreKeyRecord {
  return { keyId: Number(row.key_id), publicKey: bytes(row.public_key), signature: bytes(row.signature) };
}

function toAttachment(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    ownerAccountId: row.owner_account_id,
    size: Number(row.size),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}
