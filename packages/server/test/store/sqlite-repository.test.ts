import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openRepository, SQLITE_FILE_NAME } from '../../src/store/open-repository.js';
import { RepositoryError } from '../../src/store/repository.js';
import { MAX_BATCH_ROWS } from '../../src/store/sqlite/group-commit.js';
import { SqliteRepository } from '../../src/store/sqlite/sqlite-repository.js';
import { account, describeRepositorySuite, device, envelope, fill } from './repository.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'samizdat-sqlite-'));
let files = 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function openMigrated(file = join(dir, `repo-${++files}.db`)): Promise<SqliteRepository> {
  const repo = SqliteRepository.open(file);
  await repo.migrate();
  return repo;
}

describeRepositorySuite('sqlite', { create: () => openMigrated() });

describe('sqlite repository', () => {
  it('creates the parent directory and runs with WAL, synchronous=FULL and foreign keys', async () => {
    const file = join(dir, 'nested', 'deeper', 'store.db');
    const repo = await openMigrated(file);
    try {
      expect(existsSync(file)).toBe(true);
      expect(repo.settings()).toEqual({ journalMode: 'wal', synchronous: 2, foreignKeys: true, busyTimeoutMs: 5000 });
    } finally {
      await repo.close();
    }
  });

  it('commits 200 concurrent enqueue calls in far fewer transactions (group commit)', async () => {
    const repo = await openMigrated();
    try {
      const owner = account();
      await repo.createAccount(owner, device());
      const before = repo.stats;
      const ids = await Promise.all(Array.from({ length: 200 }, () => repo.enqueue([envelope(owner.id, 1)], 1000)));
      const after = repo.stats;
      expect(ids.flat()).toHaveLength(200);
      expect(after.queueTransactions - before.queueTransactions).toBeLessThan(50);
      expect(after.queueTransactions - before.queueTransactions).toBeGreaterThanOrEqual(1);
      expect(after.enqueueCalls - before.enqueueCalls).toBe(200);
      expect(after.enqueuedEnvelopes - before.enqueuedEnvelopes).toBe(200);
    } finally {
      await repo.close();
    }
  });

  it('settles a group commit only after an fdatasync of the WAL, and keeps synchronous=FULL for everything else', async () => {
    const file = join(dir, `sync-${++files}.db`);
    const repo = await openMigrated(file);
    try {
      const owner = account();
      await repo.createAccount(owner, device());
      const before = repo.stats;
      let settledBeforeSync = 0;
      const calls = Array.from({ length: 50 }, () =>
        repo.enqueue([envelope(owner.id, 1)], 1000).then(() => {
          if (repo.stats.walSyncs === before.walSyncs) settledBeforeSync++;
        }),
      );
      await Promise.all(calls);
      expect(settledBeforeSync).toBe(0);
      const after = repo.stats;
      expect(after.walSyncs - before.walSyncs).toBeGreaterThanOrEqual(1);
      // One fdatasync covers every transaction committed before it started: never more syncs than transactions.
      expect(after.walSyncs - before.walSyncs).toBeLessThanOrEqual(after.queueTransactions - before.queueTransactions);
      // The stored rows are in the WAL the fdatasync covered, visible to another connection.
      const reader = new Database(file, { readonly: true });
      try {
        expect(reader.prepare('SELECT count(*) FROM envelopes').pluck().get()).toBe(50);
      } finally {
        reader.close();
      }
      expect(repo.settings().synchronous).toBe(2);
    } finally {
      await repo.close();
    }
  });

  it('commits a batch early once it holds MAX_BATCH_ROWS rows, keeping each transaction short', async () => {
    const repo = await openMigrated();
    try {
      const owner = account();
      await repo.createAccount(owner, device());
      const before = repo.stats.queueTransactions;
      await Promise.all(Array.from({ length: MAX_BATCH_ROWS * 3 }, () => repo.enqueue([envelope(owner.id, 1)], 10_000)));
      expect(repo.stats.queueTransactions - before).toBe(3);
    } finally {
      await repo.close();
    }
  });

  it('keeps the other calls of a batch when one is QUEUE_FULL, in one transaction', async () => {
    const repo = await openMigrated();
    try {
      const owner = account();
      await repo.createAccount(owner, device());
      const before = repo.stats;
      const results = await Promise.allSettled([
        repo.enqueue([envelope(owner.id, 1)], 2),
        repo.enqueue([envelope(owner.id, 1), envelope(owner.id, 1)], 2),
        repo.ack(owner.id, 1, [1n]),
        repo.touchDevice(owner.id, 1, 77),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RepositoryError);
      expect(repo.stats.queueTransactions - before.queueTransactions).toBe(1);
      expect(repo.stats.enqueueCalls - before.enqueueCalls).toBe(1);
      // The ack in the same batch saw the envelope the first call stored before it.
      expect((results[2] as PromiseFulfilledResult<bigint[]>).value).toHaveLength(1);
      expect(await repo.queueDepth(owner.id, 1)).toBe(0);
      expect((await repo.getDevice(owner.id, 1))?.lastSeenAt).toBe(77);
    } finally {
      await repo.close();
    }
  });

  it('keeps the trigger-maintained queue depth equal to the stored envelopes through every path', async () => {
    const file = join(dir, `depth-${++files}.db`);
    const repo = await openMigrated(file);
    const reader = new Database(file, { readonly: true });
    const mismatches = (): unknown[] =>
      reader
        .prepare(
          `SELECT d.account_id, d.device_id, d.queue_depth,
                  (SELECT count(*) FROM envelopes e WHERE e.account_id = d.account_id AND e.device_id = d.device_id) AS n
           FROM devices d WHERE d.queue_depth <> n`,
        )
        .all();
    try {
      const a = account();
      const b = account();
      await repo.createAccount(a, device());
      await repo.createAccount(b, device());
      await repo.addDevice(a.id, device(), 8);
      const ids = await repo.enqueue(
        [envelope(a.id, 1), envelope(a.id, 2), envelope(b.id, 1, { expiresAt: 5 }), envelope(b.id, 1)],
        10,
      );
      await Promise.allSettled([
        repo.enqueue([envelope(b.id, 1), envelope(a.id, 1)], 2), // QUEUE_FULL on b/1: rolled back
        repo.enqueue([envelope(a.id, 3)], 2), // DEVICE_NOT_FOUND: rolled back
        repo.ack(a.id, 1, [ids[0]!, ids[2]!]), // only a/1's envelope is deleted
      ]);
      expect(mismatches()).toEqual([]);
      expect(await repo.queueDepth(b.id, 1)).toBe(2);
      expect(await repo.deleteExpiredEnvelopes(10)).toBe(1);
      expect(await repo.queueDepth(b.id, 1)).toBe(1);
      await repo.removeDevice(a.id, 2);
      await repo.deleteAccount(b.id);
      expect(mismatches()).toEqual([]);
      expect(await repo.queueDepth(a.id, 1)).toBe(0);
    } finally {
      reader.close();
      await repo.close();
    }
  });

  it('claims key packages in one transaction: a claim that fails midway consumes none', async () => {
    const file = join(dir, `claim-${++files}.db`);
    const repo = await openMigrated(file);
    const raw = new Database(file);
    try {
      const a = account();
      const b = account();
      await repo.createAccount(a, device());
      await repo.createAccount(b, device());
      await repo.keys.addKeyPackages(a.id, 1, [fill(8, 1), fill(8, 2)], undefined);
      await repo.keys.addKeyPackages(b.id, 1, [fill(8, 0xee)], undefined);
      // Consuming b's package fails, after a's was taken in the same claim.
      raw.exec(`CREATE TRIGGER poison BEFORE DELETE ON key_packages WHEN old.key_package = x'${'ee'.repeat(8)}'
                BEGIN SELECT RAISE(ABORT, 'poisoned key package'); END`);
      await expect(repo.keys.claimKeyPackages([a.id, b.id])).rejects.toThrow(/poisoned/);
      expect(await repo.keys.countKeyPackages(a.id, 1)).toBe(2);
      expect((await repo.keys.claimKeyPackages([a.id]))[0]?.keyPackage).toEqual(fill(8, 1));
    } finally {
      raw.close();
      await repo.close();
    }
  });

  it('keeps everything after close and reopen, and flushes pending writes on close', async () => {
    const file = join(dir, `reopen-${++files}.db`);
    const first = await openMigrated(file);
    const owner = account({ usernameHash: fill(32, 4) });
    await first.createAccount(owner, device(77));
    await first.keys.setSignedPreKey(owner.id, 1, { keyId: 1, publicKey: fill(33, 1), signature: fill(64, 1) });
    await first.keys.setKyberLastResortPreKey(owner.id, 1, { keyId: 2, publicKey: fill(33, 2), signature: fill(64, 2) });
    await first.keys.addOneTimePreKeys(owner.id, 1, [{ keyId: 3, publicKey: fill(33, 3) }]);
    const stored = await first.enqueue([envelope(owner.id, 1), envelope(owner.id, 1)], 100);
    await first.ack(owner.id, 1, [stored[1]!]); // the newest id is gone; reopening must not hand it out again
    const pending = first.enqueue([envelope(owner.id, 1)], 100); // not yet flushed when close() is called
    await first.close();
    const [flushed] = await pending;

    const second = await openMigrated(file);
    try {
      expect(await second.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await second.getAccount(owner.id)).toEqual(owner);
      expect((await second.getDevice(owner.id, 1))?.registrationId).toBe(77);
      expect(await second.keys.countPreKeys(owner.id, 1)).toEqual({ oneTime: 1, kyberOneTime: 0 });
      expect((await second.fetchQueue(owner.id, 1, 0n, 10, 0)).map((q) => q.id)).toEqual([stored[0], flushed]);
      const [next] = await second.enqueue([envelope(owner.id, 1)], 100);
      expect(next! > flushed!).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('rejects calls after close', async () => {
    const repo = await openMigrated();
    await repo.close();
    await repo.close();
    await expect(repo.enqueue([envelope('0'.repeat(32), 1)], 1)).rejects.toThrow(/closed/);
    await expect(repo.getAccount('0'.repeat(32))).rejects.toThrow(/closed/);
  });

  it('is what openRepository opens by default, in the data directory', async () => {
    const dataDir = join(dir, `data-${++files}`);
    const repo = await openRepository({ dataDir, databaseUrl: undefined });
    try {
      expect(repo).toBeInstanceOf(SqliteRepository);
      expect(repo.engine).toBe('sqlite');
      expect(existsSync(join(dataDir, SQLITE_FILE_NAME))).toBe(true);
      expect(await (repo as SqliteRepository).appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await repo.close();
    }
  });

  it('migrates a version 2 database so that new device ids start past the highest one in use', async () => {
    const file = join(dir, `v2-${++files}.db`);
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
      raw.exec(m.sqlite);
      raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(m.version);
    }
    const accountId = 'a'.repeat(32);
    raw.prepare('INSERT INTO accounts (id, username_hash, identity_key, created_at) VALUES (?, NULL, ?, 0)').run(accountId, Buffer.alloc(33, 5));
    for (const deviceId of [1, 3]) {
      raw
        .prepare('INSERT INTO devices (account_id, device_id, registration_id, auth_hash, encrypted_name, created_at, last_seen_at) VALUES (?, ?, 1, ?, ?, 0, 0)')
        .run(accountId, deviceId, 'x', Buffer.alloc(0));
    }
    raw.close();
    const repo = SqliteRepository.open(file);
    try {
      await repo.migrate();
      expect(await repo.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await repo.addDevice(accountId, device(9), 8)).toBe(4);
      expect((await repo.listDevices(accountId)).map((d) => d.deviceId)).toEqual([1, 3, 4]);
    } finally {
      await repo.close();
    }
  });

  it('migrates a version 3 database: its groups count against no quota, its attachments against their owners', async () => {
    const file = join(dir, `v3-${++files}.db`);
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) {
      raw.exec(m.sqlite);
      raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(m.version);
    }
    const accountId = 'b'.repeat(32);
    raw.prepare('INSERT INTO accounts (id, username_hash, identity_key, created_at) VALUES (?, NULL, ?, 0)').run(accountId, Buffer.alloc(33, 5));
    raw
      .prepare('INSERT INTO devices (account_id, device_id, registration_id, auth_hash, encrypted_name, created_at, last_seen_at) VALUES (?, 1, 1, ?, ?, 0, 0)')
      .run(accountId, 'x', Buffer.alloc(0));
    raw.prepare('INSERT INTO groups (id, epoch, group_info, created_at, updated_at) VALUES (?, 0, ?, 0, 0)').run('c'.repeat(64), Buffer.alloc(4));
    raw.prepare('INSERT INTO group_members (group_id, account_id, device_id) VALUES (?, ?, 1)').run('c'.repeat(64), accountId);
    raw.prepare('INSERT INTO attachments (id, owner_account_id, size, created_at, expires_at) VALUES (?, ?, 7, 0, 100)').run('d'.repeat(64), accountId);
    raw.close();
    const repo = SqliteRepository.open(file);
    try {
      await repo.migrate();
      expect(await repo.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await repo.countCreatedGroups(accountId)).toBe(0);
      expect(await repo.attachmentUsage(accountId, 50)).toEqual({ count: 1, bytes: 7 });
      await repo.createGroup('e'.repeat(64), 0, { accountId, deviceId: 1 }, fill(4, 1), undefined, 0, 1);
      expect(await repo.countCreatedGroups(accountId)).toBe(1);
    } finally {
      await repo.close();
    }
  });

  it('lets a second connection to the same file migrate without applying anything twice', async () => {
    const file = join(dir, `twice-${++files}.db`);
    const a = SqliteRepository.open(file);
    const b = SqliteRepository.open(file);
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      expect(await a.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await b.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
