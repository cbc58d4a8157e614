/**
 * The SQLite group-commit writer: the hot-path writes (enqueue, ack, touchDevice, group fan-out) share transactions.
 *
 * synchronous=FULL makes SQLite fsync the WAL at every commit, so a write is on disk before its method resolves. An
 * fsync per message would cap the server at ~5k messages/s (docs/dependencies.md), so every write submitted within
 * one event-loop turn joins one transaction, flushed on setImmediate or as soon as MAX_BATCH_ROWS rows are waiting. A
 * write that fails (QUEUE_FULL, DEVICE_NOT_FOUND) stores nothing and does not fail the others (see flush).
 *
 * The group commit's fsync does not block the event loop: its transaction commits with synchronous=NORMAL (in WAL
 * mode: the frames are written to the WAL, not fsynced), then fdatasync of the WAL file runs on libuv's thread pool,
 * and only when it returns do the batch's promises settle — the same guarantee as FULL (the WAL is on disk before
 * anyone is told "stored"), while the next batch is already being built. One fdatasync covers every batch committed
 * before it started. Every other write keeps synchronous=FULL. In NORMAL mode SQLite still syncs the WAL before a
 * checkpoint copies it into the database and the database after it, so a checkpoint never loses synced frames. If an
 * fdatasync fails, the state of the page cache is unknown: every later write fails until the server restarts.
 */
import { closeSync, fdatasync, fstatSync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** Rows (envelopes enqueued + ids acked + devices touched) after which a batch is committed without waiting. */
export const MAX_BATCH_ROWS = 500;

/** Counters of the writer itself, for tests and metrics. */
export interface GroupCommitStats {
  /** Transactions committed by the writer. */
  readonly queueTransactions: number;
  /** Syncs of the WAL that completed (each covers every transaction committed before it started). */
  readonly walSyncs: number;
}

export interface GroupCommitOptions {
  /** Makes everything committed so far durable: WalFile.sync in production; tests pass their own. */
  readonly sync: () => Promise<void>;
  /**
   * Counters the writes bump while they run: put back as they were when their transaction rolls back, so that they
   * count committed work only.
   */
  readonly counters?: Record<string, number>;
}

interface PendingWrite {
  readonly rows: number;
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export class GroupCommitWriter {
  private pending: PendingWrite[] = [];
  private pendingRows = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  private readonly own = { queueTransactions: 0, walSyncs: 0 };
  private readonly counters: Record<string, number>;
  private readonly sync: () => Promise<void>;
  /** Settlements of committed batches waiting for the next sync. */
  private unsynced: (() => void)[] = [];
  private syncing: Promise<void> | undefined;
  /** Set when a sync failed: nothing written since can be promised durable. */
  private syncError: Error | undefined;
  private readonly normalSync: Database.Statement;
  private readonly fullSync: Database.Statement;

  /** The group commit's fast path: every write of the batch in one transaction, none may fail. */
  private readonly batchTransaction: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;
  /** The fallback: each write in its own SAVEPOINT, so a failing one rolls back only its own rows. */
  private readonly savepointTransaction: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;

  constructor(db: Database.Database, options: GroupCommitOptions) {
    this.sync = options.sync;
    this.counters = options.counters ?? {};
    this.normalSync = db.prepare('PRAGMA synchronous = NORMAL');
    this.fullSync = db.prepare('PRAGMA synchronous = FULL');
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

  get stats(): GroupCommitStats {
    return { ...this.own };
  }

  /**
   * Queues a write for the next group commit; resolves with its result once the shared transaction committed and
   * was synced. `rows` is how many rows it writes (what MAX_BATCH_ROWS counts).
   */
  submit<T>(rows: number, run: () => T): Promise<T> {
    if (this.syncError) return Promise.reject(this.syncError);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ rows, run, resolve: resolve as (value: unknown) => void, reject });
      this.pendingRows += rows;
      if (this.pendingRows >= MAX_BATCH_ROWS) this.flush();
      else this.flushTimer ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is pending and waits until every committed batch is synced and settled. */
  async drain(): Promise<void> {
    this.flush();
    while (this.syncing) await this.syncing;
  }

  /**
   * Commits every pending write in one transaction, then settles their promises. The common case runs the writes
   * back to back in one cached transaction function. If any write throws, SQLite rolls that transaction back whole and
   * the batch runs again with each write in its own SAVEPOINT, so that only the failing call fails (QUEUE_FULL,
   * DEVICE_NOT_FOUND) — a savepoint per write costs two statements and a transaction wrapper each, most of the
   * commit's time when nothing fails.
   */
  flush(): void {
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
    this.normalSync.run();
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
      this.fullSync.run();
    }
    if (outcomes === undefined) {
      for (const write of batch) write.reject(failure);
      return;
    }
    this.own.queueTransactions += 1;
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
    this.syncing ??= this.syncAll();
  }

  /** Syncs until no committed batch waits for one; settles the batches each sync covered. */
  private async syncAll(): Promise<void> {
    try {
      while (this.unsynced.length > 0) {
        const covered = this.unsynced;
        this.unsynced = [];
        try {
          await this.sync();
          this.own.walSyncs += 1;
        } catch (err) {
          this.syncError = new Error(`fdatasync of the SQLite WAL failed (${(err as NodeJS.ErrnoException).code ?? 'error'}): restart the server`);
        }
        for (const settle of covered) settle();
      }
    } finally {
      this.syncing = undefined;
    }
  }
}

/** The WAL file of a database, for fdatasync (opened read-only at the first sync). */
export class WalFile {
  private fd: number | undefined;

  /** `databaseFile`: the database's path (better-sqlite3's `db.name`); the WAL is next to it. */
  constructor(private readonly databaseFile: string) {}

  sync(): Promise<void> {
    // The WAL exists once a transaction has been written in WAL mode, and lives as long as this connection does
    // (SQLite deletes it only when the last connection closes). A WAL file replaced underneath (nlink 0) is reopened.
    if (this.fd !== undefined && fstatSync(this.fd).nlink === 0) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.fd ??= openSync(`${this.databaseFile}-wal`, 'r');
    const fd = this.fd;
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
