/**
 * ClientStore on one SQLite file (better-sqlite3, Node). WAL mode with synchronous=FULL: a batch that `write`
 * resolved is on disk, so a message acknowledged to the server after it is never lost on a crash or power cut.
 * The file holds the account's private keys: it is created readable by its owner only (0600).
 *
 * Records the store does not query by (account, contact, message bodies) are JSON in a column; byte fields inside
 * them are written as {"$bytes": "<base64>"}. Keys use the protocol package's own binary encodings.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import {
  decodeKyberPreKey,
  decodeOneTimePreKey,
  decodeSignedPreKey,
  encodeKyberPreKey,
  encodeOneTimePreKey,
  encodeSignedPreKey,
} from '@samizdat/protocol';
import type { KyberPreKey, OneTimePreKey, PreKeyId, ProtocolAddress, SignedPreKey } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../errors.js';
import type { AccountRecord, ClientStore, ContactRecord, ConversationSummary, DeviceListRecord, GroupRecord, MessageRecord, StoreTx } from '../store.js';

/** The schema this code writes; a file with a newer one is refused rather than damaged. */
const SCHEMA_VERSION = 3;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE sessions (account TEXT NOT NULL, device INTEGER NOT NULL, record BLOB NOT NULL, PRIMARY KEY (account, device));
   CREATE TABLE identities (account TEXT PRIMARY KEY, identity_key BLOB NOT NULL);
   CREATE TABLE signed_prekeys (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
   CREATE TABLE one_time_prekeys (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
   CREATE TABLE kyber_prekeys (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
   CREATE TABLE kyber_base_keys (id INTEGER NOT NULL, base_key BLOB NOT NULL, PRIMARY KEY (id, base_key));
   CREATE TABLE contacts (account TEXT PRIMARY KEY, username_lower TEXT, data TEXT NOT NULL);
   CREATE INDEX contacts_by_username ON contacts (username_lower);
   CREATE TABLE messages (
     conversation TEXT NOT NULL, author TEXT NOT NULL, id TEXT NOT NULL,
     timestamp INTEGER NOT NULL, received_at INTEGER NOT NULL, direction TEXT NOT NULL, status TEXT NOT NULL,
     unread INTEGER NOT NULL, expires_at INTEGER, data TEXT NOT NULL,
     PRIMARY KEY (conversation, author, id));
   CREATE INDEX messages_by_time ON messages (conversation, timestamp, received_at);
   CREATE INDEX messages_pending ON messages (status) WHERE status = 'pending';
   CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;`,
  `CREATE TABLE groups (group_id TEXT PRIMARY KEY, data TEXT NOT NULL, state BLOB NOT NULL);
   CREATE TABLE key_package_bundles (ref TEXT PRIMARY KEY, bundle BLOB NOT NULL);`,
  // Device lists had been JSON [[deviceId, registrationId], …] under kv 'devices.<account>': the same, typed.
  `CREATE TABLE device_lists (account TEXT PRIMARY KEY, data TEXT NOT NULL);
   INSERT INTO device_lists (account, data) SELECT substr(key, 9), value FROM kv WHERE key LIKE 'devices.%';
   DELETE FROM kv WHERE key LIKE 'devices.%';`,
];

const ACCOUNT_KEY = 'account';

// `value` has already been through toJSON, which turns a Buffer (a Uint8Array too) into {type, data}: look at the
// holder's own property instead.
function replacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  return original instanceof Uint8Array ? { $bytes: Buffer.from(original).toString('base64') } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(bytes, 'base64'));
  }
  return value;
}

const toJson = (value: unknown): string => JSON.stringify(value, replacer);

function fromJson<T>(text: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text, reviver);
  } catch {
    throw new ClientError(ClientErrorCode.StorageError, 'a stored record is not valid JSON (the profile database is damaged)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ClientError(ClientErrorCode.StorageError, 'a stored record is not an object (the profile database is damaged)');
  }
  return value as T;
}

const bytes = (value: Buffer | Uint8Array): Uint8Array => new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();

interface MessageRow {
  readonly data: string;
}

export class SqliteClientStore implements ClientStore {
  private readonly statements = new Map<string, Statement>();

  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens (creating if needed) the store at `path` and applies the schema. Throws STORAGE_ERROR when unusable. */
  static open(path: string): SqliteClientStore {
    let db: SqliteDatabase;
    try {
      // Created 0600 before SQLite opens it, so that no one can open it while it is still readable by others.
      // SQLite gives the -wal and -shm files the mode of the database file.
      if (!existsSync(path)) {
        closeSync(openSync(path, 'wx', 0o600));
        chmodSync(path, 0o600);
      }
      db = new Database(path);
    } catch (err) {
      throw new ClientError(ClientErrorCode.StorageError, `cannot open the profile database: ${(err as Error).message}`);
    }
    const store = new SqliteClientStore(db);
    try {
      // The version is checked before anything writes to the file: switching to WAL rewrites its header.
      const version = store.schemaVersion();
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      store.migrate(version);
    } catch (err) {
      db.close();
      if (err instanceof ClientError) throw err;
      throw new ClientError(ClientErrorCode.StorageError, `cannot open the profile database: ${(err as Error).message}`);
    }
    return store;
  }

  private schemaVersion(): number {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new ClientError(ClientErrorCode.StorageError, `the profile database has schema ${version}; this version of Samizdat reads up to ${SCHEMA_VERSION}`);
    }
    return version;
  }

  private migrate(version: number): void {
    this.db.transaction(() => {
      for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v] as string);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  private all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  private run(sql: string, ...params: unknown[]): void {
    this.stmt(sql).run(...params);
  }

  async getAccount(): Promise<AccountRecord | undefined> {
    const text = await this.getKv(ACCOUNT_KEY);
    return text === undefined ? undefined : fromJson<AccountRecord>(text);
  }

  async getKv(key: string): Promise<string | undefined> {
    return this.get<{ value: string }>('SELECT value FROM kv WHERE key = ?', key)?.value;
  }

  async loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined> {
    const row = this.get<{ record: Buffer }>('SELECT record FROM sessions WHERE account = ? AND device = ?', address.account, address.device);
    return row && bytes(row.record);
  }

  async listSessionDevices(account: string): Promise<number[]> {
    return this.all<{ device: number }>('SELECT device FROM sessions WHERE account = ? ORDER BY device', account).map((r) => r.device);
  }

  async getIdentity(account: string): Promise<Uint8Array | undefined> {
    const row = this.get<{ identity_key: Buffer }>('SELECT identity_key FROM identities WHERE account = ?', account);
    return row && bytes(row.identity_key);
  }

  async getSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined> {
    const row = this.get<{ data: Buffer }>('SELECT data FROM signed_prekeys WHERE id = ?', id);
    return row && decodeSignedPreKey(bytes(row.data));
  }

  async listSignedPreKeys(): Promise<SignedPreKey[]> {
    return this.all<{ data: Buffer }>('SELECT data FROM signed_prekeys ORDER BY id').map((r) => decodeSignedPreKey(bytes(r.data)));
  }

  async getOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined> {
    const row = this.get<{ data: Buffer }>('SELECT data FROM one_time_prekeys WHERE id = ?', id);
    return row && decodeOneTimePreKey(bytes(row.data));
  }

  async getKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined> {
    const row = this.get<{ data: Buffer }>('SELECT data FROM kyber_prekeys WHERE id = ?', id);
    return row && decodeKyberPreKey(bytes(row.data));
  }

  async listKyberPreKeys(): Promise<KyberPreKey[]> {
    return this.all<{ data: Buffer }>('SELECT data FROM kyber_prekeys ORDER BY id').map((r) => decodeKyberPreKey(bytes(r.data)));
  }

  async hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean> {
    return this.get('SELECT 1 AS x FROM kyber_base_keys WHERE id = ? AND base_key = ?', id, baseKey) !== undefined;
  }

  async getContact(accountId: string): Promise<ContactRecord | undefined> {
    const row = this.get<{ data: string }>('SELECT data FROM contacts WHERE account = ?', accountId);
    return row && fromJson<ContactRecord>(row.data);
  }

  async findContactByUsername(username: string): Promise<ContactRecord | undefined> {
    const row = this.get<{ data: string }>('SELECT data FROM contacts WHERE username_lower = ? LIMIT 1', username.toLowerCase());
    return row && fromJson<ContactRecord>(row.data);
  }

  async listContacts(): Promise<ContactRecord[]> {
    return this.all<{ data: string }>('SELECT data FROM contacts ORDER BY username_lower, account').map((r) => fromJson<ContactRecord>(r.data));
  }

  async getMessage(conversation: string, author: string, id: string): Promise<MessageRecord | undefined> {
    const row = this.get<MessageRow>('SELECT data FROM messages WHERE conversation = ? AND author = ? AND id = ?', conversation, author, id);
    return row && fromJson<MessageRecord>(row.data);
  }

  async listMessages(conversation: string, options: { limit?: number; before?: number } = {}): Promise<MessageRecord[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 100_000));
    const rows = this.all<MessageRow>(
      `SELECT data FROM messages WHERE conversation = ? AND timestamp < ?
       ORDER BY timestamp DESC, received_at DESC LIMIT ?`,
      conversation,
      options.before ?? Number.MAX_SAFE_INTEGER,
      limit,
    );
    return rows.reverse().map((r) => fromJson<MessageRecord>(r.data));
  }

  async listUnread(conversation: string): Promise<MessageRecord[]> {
    return this.all<MessageRow>('SELECT data FROM messages WHERE conversation = ? AND unread = 1 ORDER BY timestamp, received_at', conversation).map((r) =>
      fromJson<MessageRecord>(r.data),
    );
  }

  async getDeviceList(accountId: string): Promise<DeviceListRecord | undefined> {
    const row = this.get<{ data: string }>('SELECT data FROM device_lists WHERE account = ?', accountId);
    if (row === undefined) return undefined;
    const pairs = JSON.parse(row.data) as [number, number][];
    return { accountId, devices: pairs.map(([deviceId, registrationId]) => ({ deviceId, registrationId })) };
  }

  async findOutgoingByTimestamp(conversation: string, timestamps: readonly number[]): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    for (const t of timestamps) {
      for (const r of this.all<MessageRow>("SELECT data FROM messages WHERE conversation = ? AND timestamp = ? AND direction = 'outgoing'", conversation, t)) {
        out.push(fromJson<MessageRecord>(r.data));
      }
    }
    return out;
  }

  async listPending(): Promise<MessageRecord[]> {
    return this.all<MessageRow>("SELECT data FROM messages WHERE status = 'pending' ORDER BY timestamp").map((r) => fromJson<MessageRecord>(r.data));
  }

  async listConversations(): Promise<ConversationSummary[]> {
    const rows = this.all<{ conversation: string; unread: number; data: string }>(
      `SELECT m.conversation AS conversation, m.data AS data,
              (SELECT COUNT(*) FROM messages u WHERE u.conversation = m.conversation AND u.unread = 1) AS unread
       FROM messages m
       WHERE m.rowid = (SELECT rowid FROM messages l WHERE l.conversation = m.conversation ORDER BY timestamp DESC, received_at DESC LIMIT 1)
       ORDER BY m.timestamp DESC`,
    );
    return rows.map((r) => ({ conversation: r.conversation, lastMessage: fromJson<MessageRecord>(r.data), unread: r.unread }));
  }

  async listExpired(now: number): Promise<MessageRecord[]> {
    return this.all<MessageRow>('SELECT data FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ?', now).map((r) => fromJson<MessageRecord>(r.data));
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const row = this.get<{ data: string; state: Buffer }>('SELECT data, state FROM groups WHERE group_id = ?', groupId);
    return row && { ...fromJson<Omit<GroupRecord, 'state'>>(row.data), state: bytes(row.state) };
  }

  async listGroups(): Promise<GroupRecord[]> {
    return this.all<{ data: string; state: Buffer }>('SELECT data, state FROM groups ORDER BY group_id').map((row) => ({
      ...fromJson<Omit<GroupRecord, 'state'>>(row.data),
      state: bytes(row.state),
    }));
  }

  async getKeyPackageBundle(ref: string): Promise<Uint8Array | undefined> {
    const row = this.get<{ bundle: Buffer }>('SELECT bundle FROM key_package_bundles WHERE ref = ?', ref);
    return row && bytes(row.bundle);
  }

  async listKeyPackageRefs(): Promise<string[]> {
    return this.all<{ ref: string }>('SELECT ref FROM key_package_bundles ORDER BY ref').map((r) => r.ref);
  }

  async write(fn: (tx: StoreTx) => void): Promise<void> {
    const tx = this.tx();
    try {
      this.db.transaction(() => fn(tx)).immediate();
    } catch (err) {
      if (err instanceof ClientError) throw err;
      throw new ClientError(ClientErrorCode.StorageError, `could not write to the profile database: ${(err as Error).message}`);
    }
  }

  private tx(): StoreTx {
    return {
      putAccount: (account) => this.run('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)', ACCOUNT_KEY, toJson(account)),
      putKv: (key, value) => {
        if (value === undefined) this.run('DELETE FROM kv WHERE key = ?', key);
        else this.run('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)', key, value);
      },
      putSession: (address, record) => {
        if (record === undefined) this.run('DELETE FROM sessions WHERE account = ? AND device = ?', address.account, address.device);
        else this.run('INSERT OR REPLACE INTO sessions (account, device, record) VALUES (?, ?, ?)', address.account, address.device, record);
      },
      putIdentity: (account, key) => this.run('INSERT OR REPLACE INTO identities (account, identity_key) VALUES (?, ?)', account, key),
      putSignedPreKey: (key) => this.run('INSERT OR REPLACE INTO signed_prekeys (id, data) VALUES (?, ?)', key.id, encodeSignedPreKey(key)),
      removeSignedPreKey: (id) => this.run('DELETE FROM signed_prekeys WHERE id = ?', id),
      putOneTimePreKey: (key) => this.run('INSERT OR REPLACE INTO one_time_prekeys (id, data) VALUES (?, ?)', key.id, encodeOneTimePreKey(key)),
      removeOneTimePreKey: (id) => this.run('DELETE FROM one_time_prekeys WHERE id = ?', id),
      putKyberPreKey: (key) => this.run('INSERT OR REPLACE INTO kyber_prekeys (id, data) VALUES (?, ?)', key.id, encodeKyberPreKey(key)),
      removeKyberPreKey: (id) => {
        this.run('DELETE FROM kyber_prekeys WHERE id = ?', id);
        this.run('DELETE FROM kyber_base_keys WHERE id = ?', id);
      },
      addKyberBaseKey: (id, baseKey) => this.run('INSERT OR IGNORE INTO kyber_base_keys (id, base_key) VALUES (?, ?)', id, baseKey),
      putContact: (contact) =>
        this.run(
          'INSERT OR REPLACE INTO contacts (account, username_lower, data) VALUES (?, ?, ?)',
          contact.accountId,
          contact.username?.toLowerCase() ?? null,
          toJson(contact),
        ),
      putDeviceList: (list) =>
        this.run(
          'INSERT OR REPLACE INTO device_lists (account, data) VALUES (?, ?)',
          list.accountId,
          JSON.stringify(list.devices.map((d) => [d.deviceId, d.registrationId])),
        ),
      putMessage: (m) =>
        this.run(
          `INSERT OR REPLACE INTO messages (conversation, author, id, timestamp, received_at, direction, status, unread, expires_at, data)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          m.conversation,
          m.author,
          m.id,
          m.timestamp,
          m.receivedAt,
          m.direction,
          m.status,
          m.direction === 'incoming' && m.kind === 'message' && m.readAt === undefined && !m.deleted ? 1 : 0,
          m.expiresAt ?? null,
          toJson(m),
        ),
      putGroup: (group) => {
        const { state, ...rest } = group;
        this.run('INSERT OR REPLACE INTO groups (group_id, data, state) VALUES (?, ?, ?)', group.groupId, toJson(rest), state);
      },
      putKeyPackageBundle: (ref, bundle) => {
        if (bundle === undefined) this.run('DELETE FROM key_package_bundles WHERE ref = ?', ref);
        else this.run('INSERT OR REPLACE INTO key_package_bundles (ref, bundle) VALUES (?, ?)', ref, bundle);
      },
      deleteMessage: (conversation, author, id) =>
        this.run('DELETE FROM messages WHERE conversation = ? AND author = ? AND id = ?', conversation, author, id),
      deleteConversation: (conversation) => this.run('DELETE FROM messages WHERE conversation = ?', conversation),
    };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
