/**
 * The SQLite group-commit writer on its own: a real database file in WAL mode with a table of its own, and a `sync`
 * the test controls (resolved, held back or failing), so that ordering, partial failure, the savepoint retry and a
 * failed fdatasync can each be seen directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GroupCommitWriter, MAX_BATCH_ROWS, WalFile } from '../../src/store/sqlite/group-commit.js';

const dir = mkdtempSync(join(tmpdir(), 'samizdat-group-commit-'));
let files = 0;
const open: Database.Database[] = [];

afterEach(() => {
  for (const db of open.splice(0)) db.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function database(): Database.Database {
  const db = new Database(join(dir, `writer-${++files}.db`));
  open.push(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)');
  return db;
}

function values(db: Database.Database): string[] {
  return db.prepare('SELECT value FROM rows ORDER BY id').pluck().all() as string[];
}

/** A sync the test releases: `release()` lets the oldest pending one return. */
function heldSync(): { sync: () => Promise<void>; release: () => void; readonly waiting: number } {
  const pending: (() => void)[] = [];
  return {
    sync: () => new Promise<void>((resolve) => pending.push(resolve)),
    release: () => pending.shift()?.(),
    get waiting() {
      return pending.length;
    },
  };
}

const insert = (db: Database.Database, value: string) => () => Number(db.prepare('INSERT INTO rows (value) VALUES (?)').run(value).lastInsertRowid);

describe('sqlite group-commit writer', () => {
  it('commits the writes of one event-loop turn in one transaction, in the order they were submitted', async () => {
    const db = database();
    const writer = new GroupCommitWriter(db, { sync: async () => undefined });
    const ids = await Promise.all(['a', 'b', 'c', 'd'].map((v) => writer.submit(1, insert(db, v))));
    expect(ids).toEqual([1, 2, 3, 4]);
    expect(values(db)).toEqual(['a', 'b', 'c', 'd']);
    expect(writer.stats).toEqual({ queueTransactions: 1, walSyncs: 1 });
  });

  it('settles a batch only once its sync returned, and runs one sync for the batches committed meanwhile', async () => {
    const db = database();
    const held = heldSync();
    const writer = new GroupCommitWriter(db, { sync: held.sync });
    const settled: string[] = [];
    const first = writer.submit(1, insert(db, 'first')).then(() => settled.push('first'));
    writer.flush();
    expect(held.waiting).toBe(1);
    // Committed (another connection sees it) but not settled: the sync has not returned.
    expect(values(db)).toEqual(['first']);
    const second = writer.submit(1, insert(db, 'second')).then(() => settled.push('second'));
    const third = writer.submit(1, insert(db, 'third')).then(() => settled.push('third'));
    writer.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual([]);
    expect(held.waiting).toBe(1);
    held.release();
    await first;
    expect(settled).toEqual(['first']);
    // The second and third were committed while the first sync ran: one more sync covers both.
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.waiting).toBe(1);
    held.release();
    await Promise.all([second, third]);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(writer.stats).toEqual({ queueTransactions: 2, walSyncs: 2 });
  });

  it('fails only the write that threw: the others of its batch commit, and what the failing one wrote is rolled back', async () => {
    const db = database();
    const counters = { calls: 0 };
    const writer = new GroupCommitWriter(db, { sync: async () => undefined, counters });
    const counted = (value: string) => () => {
      const id = insert(db, value)();
      counters.calls += 1;
      return id;
    };
    const results = await Promise.allSettled([
      writer.submit(1, counted('a')),
      writer.submit(2, () => {
        insert(db, 'half')();
        insert(db, 'a')(); // UNIQUE: the whole write fails, its first row with it
        counters.calls += 1;
      }),
      writer.submit(1, counted('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(values(db)).toEqual(['a', 'b']);
    // The first attempt (all writes in one transaction) rolled back and was retried with a savepoint per write: one
    // committed transaction, and the counters of the rolled-back attempt were put back.
    expect(writer.stats.queueTransactions).toBe(1);
    expect(counters.calls).toBe(2);
  });

  it('rejects every write of a batch whose transaction SQLite ended, and counts none of them', async () => {
    const db = database();
    const counters = { calls: 0 };
    const writer = new GroupCommitWriter(db, { sync: async () => undefined, counters });
    const results = await Promise.allSettled([
      writer.submit(1, () => {
        counters.calls += 1;
        return insert(db, 'a')();
      }),
      writer.submit(1, () => {
        // As SQLite does on I/O errors or a full disk: the whole transaction is gone, not just this write's savepoint,
        // so the other writes must not go on in autocommit mode.
        if (db.inTransaction) db.exec('ROLLBACK');
        throw new Error('transaction rolled back by SQLite');
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(values(db)).toEqual([]);
    expect(counters.calls).toBe(0);
    expect(writer.stats.queueTransactions).toBe(0);
  });

  it('commits early, without waiting for the event loop, once MAX_BATCH_ROWS rows are waiting', async () => {
    const db = database();
    const writer = new GroupCommitWriter(db, { sync: async () => undefined });
    const small = writer.submit(1, insert(db, 'small'));
    expect(values(db)).toEqual([]);
    const big = writer.submit(MAX_BATCH_ROWS - 1, insert(db, 'big'));
    // Submitting the row that reaches the limit committed the batch at once.
    expect(values(db)).toEqual(['small', 'big']);
    expect(writer.stats.queueTransactions).toBe(1);
    await Promise.all([small, big]);
  });

  it('fails the batch whose sync failed and every later write, until restart', async () => {
    const db = database();
    const failure = Object.assign(new Error('EIO'), { code: 'EIO' });
    const writer = new GroupCommitWriter(db, { sync: () => Promise.reject(failure) });
    const results = await Promise.allSettled([writer.submit(1, insert(db, 'a')), writer.submit(1, insert(db, 'b'))]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/fdatasync of the SQLite WAL failed \(EIO\)/);
    }
    let ran = false;
    await expect(writer.submit(1, () => (ran = true))).rejects.toThrow(/restart the server/);
    expect(ran).toBe(false);
  });

  it('drains: commits what is pending and returns once every batch is synced and settled', async () => {
    const db = database();
    const writer = new GroupCommitWriter(db, { sync: async () => undefined });
    let settled = false;
    const write = writer.submit(1, insert(db, 'a')).then(() => (settled = true));
    await writer.drain();
    expect(settled).toBe(true);
    await write;
  });

  it('syncs the WAL file next to the database through WalFile', async () => {
    const db = database();
    const wal = new WalFile(db.name);
    const writer = new GroupCommitWriter(db, { sync: () => wal.sync() });
    try {
      await writer.submit(1, insert(db, 'a'));
      expect(writer.stats.walSyncs).toBe(1);
    } finally {
      wal.close();
    }
  });
});
