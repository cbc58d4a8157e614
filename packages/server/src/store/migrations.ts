/**
 * Versioned schema migrations for both store engines, and the two runners that apply them.
 *
 * A migration is never edited once released: a change to the schema is a new entry at the end of MIGRATIONS, with
 * the same meaning written for each engine. `schema_migrations(version, applied_at)` records what was applied; each
 * migration runs in its own transaction together with its record, so a crash leaves it wholly applied or not at all.
 *
 * Concurrency: on PostgreSQL several server nodes may start at once, so every migration transaction first takes a
 * transaction-scoped advisory lock (one per schema) and re-checks the table under it. On SQLite a migration runs in a
 * `BEGIN IMMEDIATE` transaction, which holds the database's single write lock while it re-checks.
 *
 * The schema keeps the server's promise (docs/threat-model.md): usernames as keyed hashes, device secrets as slow
 * hashes, envelopes as opaque bytes. Everything of an account or a device hangs off it by a foreign key with
 * ON DELETE CASCADE, so deleting the parent row deletes all of it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Sql } from 'postgres';
import { reservedTransaction } from './postgres/reserved-transaction.js';

export interface Migration {
  readonly version: number;
  /** What the migration does, for operators reading the code; not stored. */
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

// SQLite tables are STRICT (column types enforced). Times are ms since the epoch; key ids are up to 2^32 - 1
// (@samizdat/protocol keys/prekeys.ts), so PostgreSQL stores them, like times and sizes, as bigint.
const SQLITE_V1 = `
CREATE TABLE accounts (
  id            TEXT    NOT NULL PRIMARY KEY,
  username_hash BLOB    UNIQUE,
  identity_key  BLOB    NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
  account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  device_id       INTEGER NOT NULL,
  registration_id INTEGER NOT NULL,
  auth_hash       TEXT    NOT NULL,
  encrypted_name  BLOB    NOT NULL,
  created_at      INTEGER NOT NULL,
  last_seen_at    INTEGER NOT NULL,
  -- Envelopes stored for the device, kept by the triggers below (see there).
  queue_depth     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, device_id)
) STRICT;

CREATE TABLE signed_prekeys (
  account_id TEXT    NOT NULL,
  device_id  INTEGER NOT NULL,
  key_id     INTEGER NOT NULL,
  public_key BLOB    NOT NULL,
  signature  BLOB    NOT NULL,
  PRIMARY KEY (account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE kyber_last_resort_prekeys (
  account_id TEXT    NOT NULL,
  device_id  INTEGER NOT NULL,
  key_id     INTEGER NOT NULL,
  public_key BLOB    NOT NULL,
  signature  BLOB    NOT NULL,
  PRIMARY KEY (account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE one_time_prekeys (
  account_id TEXT    NOT NULL,
  device_id  INTEGER NOT NULL,
  key_id     INTEGER NOT NULL,
  public_key BLOB    NOT NULL,
  PRIMARY KEY (account_id, device_id, key_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE kyber_one_time_prekeys (
  account_id TEXT    NOT NULL,
  device_id  INTEGER NOT NULL,
  key_id     INTEGER NOT NULL,
  public_key BLOB    NOT NULL,
  signature  BLOB    NOT NULL,
  PRIMARY KEY (account_id, device_id, key_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;

-- AUTOINCREMENT: an id is never reused, even after the newest envelope was acked, so a late duplicate ack or an
-- afterId cursor can never refer to a different envelope than the one the client saw.
CREATE TABLE envelopes (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id        TEXT    NOT NULL,
  device_id         INTEGER NOT NULL,
  source_account_id TEXT,
  source_device_id  INTEGER,
  envelope          BLOB    NOT NULL,
  received_at       INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL,
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX envelopes_queue ON envelopes (account_id, device_id, id);
CREATE INDEX envelopes_expiry ON envelopes (expires_at);

-- The depth limit is checked on every enqueue. Counting the queue costs one index step per stored envelope, which
-- blocks the event loop ~0.1 ms per 1,000 envelopes and made sends to deep queues 10x slower; the triggers keep the
-- count exact in every path (inserts, acks, sweeps, cascades) and roll back with the statement that fired them.
CREATE TRIGGER envelopes_count_insert AFTER INSERT ON envelopes BEGIN
  UPDATE devices SET queue_depth = queue_depth + 1 WHERE account_id = NEW.account_id AND device_id = NEW.device_id;
END;
CREATE TRIGGER envelopes_count_delete AFTER DELETE ON envelopes BEGIN
  UPDATE devices SET queue_depth = queue_depth - 1 WHERE account_id = OLD.account_id AND device_id = OLD.device_id;
END;

CREATE TABLE attachments (
  id               TEXT    NOT NULL PRIMARY KEY,
  owner_account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  size             INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX attachments_owner ON attachments (owner_account_id);
CREATE INDEX attachments_expiry ON attachments (expires_at);

CREATE TABLE link_codes (
  code_hash  BLOB    NOT NULL PRIMARY KEY,
  account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX link_codes_account ON link_codes (account_id);
CREATE INDEX link_codes_expiry ON link_codes (expires_at);
`;

const POSTGRES_V1 = `
CREATE TABLE accounts (
  id            text   NOT NULL PRIMARY KEY,
  username_hash bytea,
  identity_key  bytea  NOT NULL,
  created_at    bigint NOT NULL,
  CONSTRAINT accounts_username_hash_key UNIQUE (username_hash)
);

CREATE TABLE devices (
  account_id      text    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  device_id       integer NOT NULL,
  registration_id bigint  NOT NULL,
  auth_hash       text    NOT NULL,
  encrypted_name  bytea   NOT NULL,
  created_at      bigint  NOT NULL,
  last_seen_at    bigint  NOT NULL,
  -- Envelopes stored for the device. Kept by PostgresRepository under the device row lock that every change to the
  -- queue takes first (enqueue, ack, expiry sweep), so the depth check needs no count of the queue.
  queue_depth     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, device_id)
);

CREATE TABLE signed_prekeys (
  account_id text    NOT NULL,
  device_id  integer NOT NULL,
  key_id     bigint  NOT NULL,
  public_key bytea   NOT NULL,
  signature  bytea   NOT NULL,
  PRIMARY KEY (account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);

CREATE TABLE kyber_last_resort_prekeys (
  account_id text    NOT NULL,
  device_id  integer NOT NULL,
  key_id     bigint  NOT NULL,
  public_key bytea   NOT NULL,
  signature  bytea   NOT NULL,
  PRIMARY KEY (account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);

CREATE TABLE one_time_prekeys (
  account_id text    NOT NULL,
  device_id  integer NOT NULL,
  key_id     bigint  NOT NULL,
  public_key bytea   NOT NULL,
  PRIMARY KEY (account_id, device_id, key_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);

CREATE TABLE kyber_one_time_prekeys (
  account_id text    NOT NULL,
  device_id  integer NOT NULL,
  key_id     bigint  NOT NULL,
  public_key bytea   NOT NULL,
  signature  bytea   NOT NULL,
  PRIMARY KEY (account_id, device_id, key_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);

CREATE TABLE envelopes (
  id                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id        text    NOT NULL,
  device_id         integer NOT NULL,
  source_account_id text,
  source_device_id  integer,
  envelope          bytea   NOT NULL,
  received_at       bigint  NOT NULL,
  expires_at        bigint  NOT NULL,
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);
CREATE INDEX envelopes_queue ON envelopes (account_id, device_id, id);
CREATE INDEX envelopes_expiry ON envelopes (expires_at);

CREATE TABLE attachments (
  id               text   NOT NULL PRIMARY KEY,
  owner_account_id text   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  size             bigint NOT NULL,
  created_at       bigint NOT NULL,
  expires_at       bigint NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_account_id);
CREATE INDEX attachments_expiry ON attachments (expires_at);

CREATE TABLE link_codes (
  code_hash  bytea  NOT NULL PRIMARY KEY,
  account_id text   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  expires_at bigint NOT NULL
);
CREATE INDEX link_codes_account ON link_codes (account_id);
CREATE INDEX link_codes_expiry ON link_codes (expires_at);
`;

// Groups: the server's view for the MLS Delivery Service — epoch (to order commits), the latest GroupInfo, and
// which devices to fan out to. The real membership is inside MLS; the server sees only device addresses.
const SQLITE_V2 = `
CREATE TABLE groups (
  id         TEXT    NOT NULL PRIMARY KEY,
  epoch      INTEGER NOT NULL,
  group_info BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
  group_id   TEXT    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  account_id TEXT    NOT NULL,
  device_id  INTEGER NOT NULL,
  PRIMARY KEY (group_id, account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX group_members_account ON group_members (account_id, device_id);

CREATE TABLE key_packages (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id  TEXT    NOT NULL,
  device_id   INTEGER NOT NULL,
  key_package BLOB    NOT NULL,
  last_resort INTEGER NOT NULL,
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX key_packages_device ON key_packages (account_id, device_id, last_resort, id);
`;

const POSTGRES_V2 = `
CREATE TABLE groups (
  id         text   NOT NULL PRIMARY KEY,
  epoch      bigint NOT NULL,
  group_info bytea  NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE group_members (
  group_id   text    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  account_id text    NOT NULL,
  device_id  integer NOT NULL,
  PRIMARY KEY (group_id, account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);
CREATE INDEX group_members_account ON group_members (account_id, device_id);

CREATE TABLE key_packages (
  id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id  text    NOT NULL,
  device_id   integer NOT NULL,
  key_package bytea   NOT NULL,
  last_resort boolean NOT NULL,
  FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id) ON DELETE CASCADE
);
CREATE INDEX key_packages_device ON key_packages (account_id, device_id, last_resort, id);
`;

// Device ids are never reused within an account (issue 13): a device id names the device in sessions, group leaves
// and delivery lists, so a new device must not inherit a removed one's. accounts.next_device_id is the next id to hand
// out; for existing accounts it starts past the highest id in use (ids removed before this migration cannot be known).
const SQLITE_V3 = `
ALTER TABLE accounts ADD COLUMN next_device_id INTEGER NOT NULL DEFAULT 1;
UPDATE accounts SET next_device_id = 1 + coalesce((SELECT max(device_id) FROM devices WHERE devices.account_id = accounts.id), 0);
`;

const POSTGRES_V3 = `
ALTER TABLE accounts ADD COLUMN next_device_id integer NOT NULL DEFAULT 1;
UPDATE accounts SET next_device_id = 1 + coalesce((SELECT max(device_id) FROM devices WHERE devices.account_id = accounts.id), 0);
`;

// Storage quotas per account (issue 14). A group remembers the account that created it, so that the groups an account
// created (and is still in) can be counted; groups created before this migration have no creator and count for nobody.
// The attachments of an account are summed at every upload, from an index that holds what the sum needs.
const SQLITE_V4 = `
ALTER TABLE groups ADD COLUMN creator_account_id TEXT;
CREATE INDEX groups_creator ON groups (creator_account_id);
CREATE INDEX attachments_owner_live ON attachments (owner_account_id, expires_at, size);
DROP INDEX attachments_owner;
`;

const POSTGRES_V4 = `
ALTER TABLE groups ADD COLUMN creator_account_id text;
CREATE INDEX groups_creator ON groups (creator_account_id);
CREATE INDEX attachments_owner_live ON attachments (owner_account_id, expires_at, size);
DROP INDEX attachments_owner;
`;

// Sealed sender (issue 16): the account's published sealed-sender KEM key, signed by its identity key
// (@samizdat/protocol signSealedSenderKey; verified before it is stored). NULL until the account publishes one.
const SQLITE_V5 = `
ALTER TABLE accounts ADD COLUMN sealed_sender_key BLOB;
`;

const POSTGRES_V5 = `
ALTER TABLE accounts ADD COLUMN sealed_sender_key bytea;
`;

// Unidentified delivery (issue 16): the 16-byte access key senders of sealed envelopes must present (derived from the
// account's profile key, which only its contacts hold), and whether the account takes sealed envelopes from anyone.
const SQLITE_V6 = `
ALTER TABLE accounts ADD COLUMN access_key BLOB;
ALTER TABLE accounts ADD COLUMN unrestricted_access INTEGER NOT NULL DEFAULT 0;
`;

const POSTGRES_V6 = `
ALTER TABLE accounts ADD COLUMN access_key bytea;
ALTER TABLE accounts ADD COLUMN unrestricted_access boolean NOT NULL DEFAULT false;
`;

// Groups send unidentified (issue 16): the hash of the current epoch's group send key (an MLS exporter secret only
// members can derive, registered by the epoch's committer); NULL for a group whose committer registered none.
const SQLITE_V7 = `
ALTER TABLE groups ADD COLUMN send_key_hash BLOB;
`;

const POSTGRES_V7 = `
ALTER TABLE groups ADD COLUMN send_key_hash bytea;
`;

// Encrypted profiles (issue 16): an account's name, about text and avatar as ciphertext under its profile key, and
// the version (derived from that key) they may be fetched by. The server holds no key.
const SQLITE_V8 = `
CREATE TABLE profiles (
  account_id TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  version    BLOB    NOT NULL,
  name       BLOB,
  about      BLOB,
  avatar     BLOB,
  updated_at INTEGER NOT NULL
) STRICT;
`;

const POSTGRES_V8 = `
CREATE TABLE profiles (
  account_id text   NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  version    bytea  NOT NULL,
  name       bytea,
  about      bytea,
  avatar     bytea,
  updated_at bigint NOT NULL
);
`;

/** Every migration, in version order. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, devices, key directory, queues, attachments, link codes',
    sqlite: SQLITE_V1,
    postgres: POSTGRES_V1,
  },
  {
    version: 2,
    name: 'MLS groups (epoch, GroupInfo, member devices) and key packages',
    sqlite: SQLITE_V2,
    postgres: POSTGRES_V2,
  },
  {
    version: 3,
    name: 'device ids are never reused within an account (accounts.next_device_id)',
    sqlite: SQLITE_V3,
    postgres: POSTGRES_V3,
  },
  {
    version: 4,
    name: 'storage quotas per account (groups.creator_account_id, attachments by owner and expiry)',
    sqlite: SQLITE_V4,
    postgres: POSTGRES_V4,
  },
  {
    version: 5,
    name: "the account's sealed-sender key (accounts.sealed_sender_key)",
    sqlite: SQLITE_V5,
    postgres: POSTGRES_V5,
  },
  {
    version: 6,
    name: 'unidentified delivery: the access key and whether anyone may send sealed (accounts.access_key, unrestricted_access)',
    sqlite: SQLITE_V6,
    postgres: POSTGRES_V6,
  },
  {
    version: 7,
    name: "groups send unidentified: the current epoch's group send key hash (groups.send_key_hash)",
    sqlite: SQLITE_V7,
    postgres: POSTGRES_V7,
  },
  {
    version: 8,
    name: 'encrypted profiles (profiles: version, name, about, avatar ciphertexts)',
    sqlite: SQLITE_V8,
    postgres: POSTGRES_V8,
  },
];

/** The newest schema version this code knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Applies the missing migrations to a SQLite database (synchronous, like better-sqlite3). Returns the versions applied. */
export function migrateSqlite(db: BetterSqlite3.Database, now: () => number = Date.now): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
  const isApplied = db.prepare<[number], { one: number }>('SELECT 1 AS one FROM schema_migrations WHERE version = ?');
  const record = db.prepare<[number, number]>('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    // IMMEDIATE takes the write lock before the check, so a second process waits (busy_timeout) and then skips.
    db.transaction(() => {
      if (isApplied.get(migration.version) !== undefined) return;
      db.exec(migration.sqlite);
      record.run(migration.version, now());
      applied.push(migration.version);
    }).immediate();
  }
  return applied;
}

/** The versions recorded in a SQLite database, ascending. */
export function appliedSqliteMigrations(db: BetterSqlite3.Database): number[] {
  return db
    .prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version')
    .all()
    .map((row) => row.version);
}

const UNDEFINED_TABLE = '42P01';

/**
 * Applies the missing migrations on PostgreSQL, in the schema that `sql`'s search_path selects. Safe when several
 * processes call it at once. Returns the versions this call applied.
 */
export async function migratePostgres(sql: Sql, now: () => number = Date.now): Promise<number[]> {
  const known = new Set(await appliedPostgresMigrations(sql).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return [];
    throw err;
  }));
  if (MIGRATIONS.every((m) => known.has(m.version))) return [];
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (known.has(migration.version)) continue;
    await reservedTransaction(sql, async (tx) => {
      // One lock per schema: test runs in separate schemas of one database do not wait for each other.
      await tx`SELECT pg_advisory_xact_lock(hashtextextended('samizdat.migrate.' || coalesce(current_schema(), ''), 0))`;
      await tx.unsafe(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
      );
      const done = await tx`SELECT 1 FROM schema_migrations WHERE version = ${migration.version}`;
      if (done.length > 0) return;
      await tx.unsafe(migration.postgres);
      await tx`INSERT INTO schema_migrations (version, applied_at) VALUES (${migration.version}, ${now()})`;
      applied.push(migration.version);
    });
  }
  return applied;
}

/** The versions recorded on PostgreSQL, ascending (rejects when the table does not exist yet). */
export async function appliedPostgresMigrations(sql: Sql): Promise<number[]> {
  const rows = await sql<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
  return rows.map((row) => row.version);
}
