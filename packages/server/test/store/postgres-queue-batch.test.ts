/**
 * The PostgreSQL queue batch writer on its own, against a real server (postgres://postgres@127.0.0.1:5432/test, or
 * SAMIZDAT_TEST_DATABASE_URL), each test in a schema of its own: the writer runs on a pool of its own, a repository
 * on the same schema sets up accounts and reads back what was stored. Its transaction can be wrapped, so that a
 * retried or failed batch can be provoked directly.
 */
import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PostgresDatabase, PostgresStoreError } from '../../src/store/postgres/postgres-database.js';
import { PostgresRepository } from '../../src/store/postgres/postgres-repository.js';
import { MAX_BATCH_WRITES, QueueBatchWriter } from '../../src/store/postgres/queue-batch.js';
import { account, device, envelope } from './repository.suite.js';

const url = process.env['SAMIZDAT_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `samizdat_batch_${randomBytes(4).toString('hex')}`;
let schemas = 0;
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const closable of opened.splice(0).reverse()) await closable.close();
});

afterAll(async () => {
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const rows = await admin<{ nspname: string }[]>`SELECT nspname FROM pg_namespace WHERE nspname LIKE ${`${run}%`}`;
    for (const { nspname } of rows) await admin.unsafe(`DROP SCHEMA "${nspname}" CASCADE`);
  } finally {
    await admin.end();
  }
});

type Transaction = PostgresDatabase['transaction'];

interface Setup {
  readonly repo: PostgresRepository;
  readonly writer: QueueBatchWriter;
  /** An account with one device. */
  readonly accountId: string;
}

/**
 * A migrated schema, a repository on it and a writer whose every batch runs through `wrap(transaction)` (default:
 * the database's own retrying transaction).
 */
async function setUp(wrap: (transaction: Transaction) => Transaction = (t) => t): Promise<Setup> {
  const schema = `${run}_${++schemas}`;
  const repo = await PostgresRepository.connect(url, { schema, max: 4 });
  opened.push(repo);
  await repo.migrate();
  const db = await PostgresDatabase.connect(url, { schema, max: 4 });
  opened.push(db);
  const transaction = wrap((fn) => db.transaction(fn));
  const writer = new QueueBatchWriter({ sql: db.sql, transaction });
  const owner = account();
  await repo.createAccount(owner, device());
  return { repo, writer, accountId: owner.id };
}

describe('postgres queue batch writer', () => {
  it("stores a queue's writes in the order they were made, with two batches in flight at once", async () => {
    const { repo, writer, accountId } = await setUp();
    const calls = Array.from({ length: MAX_BATCH_WRITES * 2 + 100 }, () => writer.enqueue([envelope(accountId, 1)], 10_000));
    const ids = (await Promise.all(calls)).map(([id]) => id as bigint);
    expect(writer.stats.queueTransactions).toBeGreaterThanOrEqual(3);
    expect(writer.stats.mostBatchesInFlight).toBe(2);
    expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as bigint))).toBe(true);
    expect((await repo.fetchQueue(accountId, 1, 0n, 5_000, 0)).map((e) => e.id)).toEqual(ids);
  });

  it('gives each write of a batch its own outcome: a refused one stores nothing and the others go on', async () => {
    const { repo, writer, accountId } = await setUp();
    const stored = await writer.enqueue([envelope(accountId, 1), envelope(accountId, 1)], 10);
    const before = writer.stats.queueTransactions;
    const results = await Promise.allSettled([
      writer.ack(accountId, 1, [stored[0] as bigint, 999_999_999n]),
      // Acks are applied before the enqueues of their batch: these two fit in a queue of 2 only because of them.
      writer.enqueue([envelope(accountId, 1), envelope(accountId, 1)], 2),
      writer.enqueue([envelope(accountId, 1)], 2), // QUEUE_FULL: the queue holds 2 now
      writer.enqueue([envelope(accountId, 1), envelope(accountId, 2)], 100), // DEVICE_NOT_FOUND: device 2 does not exist
      writer.touch(accountId, 1, 4242),
      writer.ack(accountId, 1, [stored[0] as bigint, stored[1] as bigint]), // the first id went to the first ack
    ]);
    expect(writer.stats.queueTransactions - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseFulfilledResult<bigint[]>).value).toEqual([stored[0]]);
    expect((results[1] as PromiseFulfilledResult<bigint[]>).value).toHaveLength(2);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'QUEUE_FULL' });
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    expect((results[5] as PromiseFulfilledResult<bigint[]>).value).toEqual([stored[1]]);
    expect((await repo.fetchQueue(accountId, 1, 0n, 100, 0)).map((e) => e.id)).toEqual((results[1] as PromiseFulfilledResult<bigint[]>).value);
    expect(await repo.queueDepth(accountId, 1)).toBe(2);
    expect((await repo.getDevice(accountId, 1))?.lastSeenAt).toBe(4242);
  });

  it('runs a retried batch again from the start and settles each write once, with what the committed attempt stored', async () => {
    let attempts = 0;
    const { repo, writer, accountId } = await setUp((transaction) => (fn) =>
      transaction(async (tx: Sql) => {
        const outcomes = await fn(tx);
        // The first attempt did all its work, then PostgreSQL aborts it (as a deadlock would): it is rolled back.
        if (++attempts === 1) throw new PostgresStoreError('40P01', 'deadlock detected');
        return outcomes;
      }),
    );
    const first = envelope(accountId, 1);
    const results = await Promise.all([writer.enqueue([first], 10), writer.enqueue([envelope(accountId, 1)], 10), writer.touch(accountId, 1, 7)]);
    expect(attempts).toBe(2);
    expect(writer.stats.queueTransactions).toBe(1);
    const queue = await repo.fetchQueue(accountId, 1, 0n, 100, 0);
    // Stored once, under the ids the committed attempt drew (the rolled-back attempt's ids are gone).
    expect(queue.map((e) => e.id)).toEqual([results[0][0], results[1][0]]);
    expect(queue[0]?.envelope).toEqual(first.envelope);
    expect(await repo.queueDepth(accountId, 1)).toBe(2);
    expect((await repo.getDevice(accountId, 1))?.lastSeenAt).toBe(7);
  });

  it('rejects every write of a batch whose transaction fails for good, stores nothing, and goes on with the next', async () => {
    let fail = true;
    const { repo, writer, accountId } = await setUp((transaction) => (fn) =>
      transaction(async (tx: Sql) => {
        const outcomes = await fn(tx);
        if (fail) throw new PostgresStoreError('53100', 'disk full');
        return outcomes;
      }),
    );
    const results = await Promise.allSettled([writer.enqueue([envelope(accountId, 1)], 10), writer.touch(accountId, 1, 9)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: '53100' });
    expect(await repo.queueDepth(accountId, 1)).toBe(0);
    expect(writer.stats.queueTransactions).toBe(0);
    fail = false;
    await expect(writer.enqueue([envelope(accountId, 1)], 10)).resolves.toHaveLength(1);
    expect(await repo.queueDepth(accountId, 1)).toBe(1);
  });

  it('finishes the writes in flight when closed, and refuses later ones', async () => {
    const { repo, writer, accountId } = await setUp();
    const pending = Array.from({ length: 20 }, () => writer.enqueue([envelope(accountId, 1)], 100));
    await writer.close();
    expect(await Promise.all(pending)).toHaveLength(20);
    expect(await repo.queueDepth(accountId, 1)).toBe(20);
    await expect(writer.enqueue([envelope(accountId, 1)], 100)).rejects.toThrow(/closed/);
  });
});
