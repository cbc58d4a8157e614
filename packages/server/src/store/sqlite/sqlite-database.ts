/**
 * The process's one SQLite connection: the database file (0600, in a 0700 directory), the pragmas that durability
 * and privacy depend on, a cache of prepared statements and write transactions. The repository (sqlite-repository.ts),
 * the key directory (sqlite-keys.ts) and the group-commit writer (group-commit.ts) all work through it.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** The connection settings that durability depends on, read back from SQLite (for /health and tests). */
export interface SqliteSettings {
  readonly journalMode: string;
  /** 2 = FULL. */
  readonly synchronous: number;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
}

/** How a cached statement returns rows: see SqliteDatabase.stmt. */
export interface StatementMode {
  readonly pluck?: boolean;
  readonly safeIntegers?: boolean;
}

/** True when `err` is SQLite refusing a row whose parent (account, device) does not exist. */
export function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

export class SqliteDatabase {
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  private constructor(readonly connection: Database.Database) {}

  /**
   * Opens (creating it and its directory if needed) the database file.
   * The directory is created 0700 and the file 0600 (an existing one is narrowed to 0600): SQLite gives its -wal and
   * -shm files the database file's mode, so they are 0600 too. `secure_delete` overwrites what a DELETE frees with
   * zeros; SqliteRepository.forget() then moves it out of the WAL.
   */
  static open(file: string): SqliteDatabase {
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
    return new SqliteDatabase(db);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new Error('the SQLite repository is closed');
  }

  settings(): SqliteSettings {
    const db = this.connection;
    return {
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      foreignKeys: Number(db.pragma('foreign_keys', { simple: true })) === 1,
      busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
    };
  }

  /**
   * A cached prepared statement. `pluck`: rows are their first column's value; `safeIntegers`: INTEGER columns
   * (and lastInsertRowid) come back as bigint. The modes are fixed per cached statement.
   */
  stmt(sql: string, mode: StatementMode = {}): Database.Statement {
    this.assertOpen();
    const key = `${mode.pluck === true ? 'p' : '-'}${mode.safeIntegers === true ? 's' : '-'}${sql}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.connection.prepare(sql);
      if (mode.pluck === true) statement.pluck(true);
      if (mode.safeIntegers === true) statement.safeIntegers(true);
      this.statements.set(key, statement);
    }
    return statement;
  }

  /** Runs fn in a write transaction (BEGIN IMMEDIATE: another process writing makes us wait, never fail midway). */
  transaction<T>(fn: () => T): T {
    this.assertOpen();
    return this.connection.transaction(fn).immediate();
  }

  close(): void {
    this.closed = true;
    this.statements.clear();
    this.connection.close();
  }
}
