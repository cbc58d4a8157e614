/**
 * The shared suite and PostgreSQL-only behaviour against a real server: postgres://postgres@127.0.0.1:5432/test by
 * default, SAMIZDAT_TEST_DATABASE_URL to use another. Every repository lives in its own schema of this run
 * (samizdat_test_<random>_<n>); all of them are dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../src/store/open-repository.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { PostgresStoreError } from '../../src/store/postgres/postgres-database.js';
import { PostgresRepository } from '../../src/store/postgres/postgres-repository.js';
import { account, describeRepositorySuite, device, envelope, fill } from './repository.suite.js';

const url = process.env['SAMIZDAT_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `samizdat_test_${randomBytes(4).toString('hex')}`;
let schemas = 0;
const admin = postgres(url, { max: 2, onnotice: () => undefined });

beforeAll(async () => {
  try {
    await admin`SELECT 1`;
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}); ` +
        'start it or point SAMIZDAT_TEST_DATABASE_URL at one',
    );
  }
});

afterAll(async () => {
  const rows = await admin<{ nspname: string }[]>`SELECT nspname FROM pg_namespace WHERE nspname LIKE ${`${run}%`}`;
  for (const { nspname } of rows) await admin.unsafe(`DROP SCHEMA "${nspname}" CASCADE`);
  await admin.end();
});

function nextSchema(): string {
  return `${run}_${++schemas}`;
}

async function connectMigrated(schema = nextSchema()): Promise<PostgresRepository> {
  // A pool of 10 lets the concurrency tests really run transactions side by side.
  const repo = await PostgresRepository.connect(url, { schema, max: 10 });
  await repo.migrate();
  return repo;
}

describeRepositorySuite('postgres', { create: () => connectMigrated() });

describe('postgres repository', () => {
  it('keeps each repository in its own schema', async () => {
    const schema = nextSchema();
    const repo = await connectMigrated(schema);
    try {
      expect(repo.schema).toBe(schema);
      const tables = await admin<{ table_name: string }[]>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} ORDER BY table_name`;
      expect(tables.map((t) => t.table_name)).toEqual([
        'accounts',
        'attachments',
        'devices',
        'envelopes',
        'group_members',
        'groups',
        'key_packages',
        'kyber_last_resort_prekeys',
        'kyber_one_time_prekeys',
        'link_codes',
        'one_time_prekeys',
        'profiles',
        'schema_migrations',
        'signed_prekeys',
      ]);
    } finally {
      await repo.close();
    }
  });

  it('keeps the queue depth counter equal to the stored envelopes through every path, under concurrency', async () => {
    const schema = nextSchema();
    const repo = await connectMigrated(schema);
    const mismatches = (): Promise<unknown[]> =>
      admin.unsafe(`
        SELECT d.account_id, d.device_id, d.queue_depth, count(e.id)::int AS n
        FROM "${schema}".devices d LEFT JOIN "${schema}".envelopes e USING (account_id, device_id)
        GROUP BY d.account_id, d.device_id, d.queue_depth HAVING d.queue_depth <> count(e.id)`);
    try {
      const a = account();
      const b = account();
      await repo.createAccount(a, device());
      await repo.createAccount(b, device());
      await repo.addDevice(a.id, device(), 8);
      const sends = Array.from({ length: 60 }, (_, i) =>
        repo.enqueue(
          [envelope(a.id, 1 + (i % 2)), envelope(b.id, 1, { expiresAt: i % 3 === 0 ? 5 : 8e15 })],
          i % 5 === 0 ? 1 : 40, // some calls fail QUEUE_FULL and must leave the counters alone
        ),
      );
      const settled = await Promise.allSettled(sends);
      const stored = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      await Promise.all([
        ...stored.slice(0, 20).map((ids) => repo.ack(a.id, 1, ids)),
        ...stored.slice(20, 30).map((ids) => repo.ack(b.id, 1, ids)),
        repo.deleteExpiredEnvelopes(10),
        repo.deleteExpiredEnvelopes(10),
      ]);
      expect(await mismatches()).toEqual([]);
      await repo.removeDevice(a.id, 2);
      await repo.deleteAccount(b.id);
      expect(await mismatches()).toEqual([]);
      const [row] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".envelopes`);
      expect(await repo.queueDepth(a.id, 1)).toBe(row?.['n']);
    } finally {
      await repo.close();
    }
  });

  it('batches concurrent enqueue, ack and touch calls into few transactions, each call all-or-nothing', async () => {
    const schema = nextSchema();
    const repo = await connectMigrated(schema);
    try {
      const a = account();
      await repo.createAccount(a, device());
      const before = repo.stats.queueTransactions;
      const ids = await Promise.all(Array.from({ length: 200 }, () => repo.enqueue([envelope(a.id, 1)], 1000)));
      expect(ids.flat()).toHaveLength(200);
      expect(new Set(ids.flat().map(String)).size).toBe(200);
      const batches = repo.stats.queueTransactions - before;
      expect(batches).toBeGreaterThanOrEqual(1);
      expect(batches).toBeLessThan(50);
      // One batch: acks of the first 100 (one id twice, one unknown), a send that fits only because of those acks,
      // a send that is QUEUE_FULL, a send to a missing device, and a touch — each with its own outcome.
      const first = ids.slice(0, 100).flat();
      const results = await Promise.allSettled([
        repo.ack(a.id, 1, [...first, first[0]!, 999_999_999n]),
        repo.enqueue([envelope(a.id, 1)], 101),
        repo.enqueue([envelope(a.id, 1), envelope(a.id, 1)], 102),
        repo.enqueue([envelope(a.id, 1), envelope(a.id, 7)], 1000),
        repo.touchDevice(a.id, 1, 12345),
        repo.ack(a.id, 1, [first[1]!]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
      expect((results[0] as PromiseFulfilledResult<bigint[]>).value).toEqual(first);
      expect(((results[2] as PromiseRejectedResult).reason as { code: string }).code).toBe('QUEUE_FULL');
      expect(((results[3] as PromiseRejectedResult).reason as { code: string }).code).toBe('DEVICE_NOT_FOUND');
      // An id already acknowledged by an earlier call of the batch is not acknowledged twice.
      expect((results[5] as PromiseFulfilledResult<bigint[]>).value).toEqual([]);
      expect(await repo.queueDepth(a.id, 1)).toBe(101);
      const [row] = await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".envelopes`);
      expect(row?.['n']).toBe(101);
      expect((await repo.getDevice(a.id, 1))?.lastSeenAt).toBe(12345);
    } finally {
      await repo.close();
    }
  });

  it('runs two batches at once and still stores a queue\'s writes in the order they were made', async () => {
    const repo = await connectMigrated();
    try {
      const a = account();
      const b = account();
      await repo.createAccount(a, device());
      await repo.createAccount(b, device());
      // 2,500 one-envelope sends made at once are three batches (1,000 writes each at most); the second starts while
      // the first is still in flight, once the first holds its row locks. Half go to each queue, interleaved.
      const calls = Array.from({ length: 2_500 }, (_, i) => repo.enqueue([envelope(i % 2 === 0 ? a.id : b.id, 1)], 10_000));
      const ids = (await Promise.all(calls)).map(([id]) => id as bigint);
      expect(repo.stats.mostBatchesInFlight).toBe(2);
      for (const parity of [0, 1]) {
        const queue = ids.filter((_, i) => i % 2 === parity);
        expect(queue.every((id, i) => i === 0 || id > (queue[i - 1] as bigint))).toBe(true);
        const stored = await repo.fetchQueue(parity === 0 ? a.id : b.id, 1, 0n, 5_000, 0);
        expect(stored.map((e) => e.id)).toEqual(queue);
      }
    } finally {
      await repo.close();
    }
  });

  it('claims key packages in one transaction: a claim that fails midway consumes none', async () => {
    const schema = nextSchema();
    const repo = await connectMigrated(schema);
    try {
      const a = account();
      const b = account();
      await repo.createAccount(a, device());
      await repo.createAccount(b, device());
      await repo.keys.addKeyPackages(a.id, 1, [fill(8, 1), fill(8, 2)], undefined);
      await repo.keys.addKeyPackages(b.id, 1, [fill(8, 0xee)], undefined);
      // Consuming b's package fails, after a's was taken in the same claim.
      await admin.unsafe(`
        CREATE FUNCTION "${schema}".poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.key_package = '\\x${'ee'.repeat(8)}'::bytea THEN RAISE EXCEPTION 'poisoned key package'; END IF;
          RETURN OLD;
        END $$`);
      await admin.unsafe(`CREATE TRIGGER poison BEFORE DELETE ON "${schema}".key_packages FOR EACH ROW EXECUTE FUNCTION "${schema}".poison()`);
      const err = await repo.keys.claimKeyPackages([a.id, b.id]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresStoreError);
      expect(await repo.keys.countKeyPackages(a.id, 1)).toBe(2);
      expect((await repo.keys.claimKeyPackages([a.id]))[0]?.keyPackage).toEqual(fill(8, 1));
    } finally {
      await repo.close();
    }
  });

  it('applies each migration once when several processes migrate at the same moment', async () => {
    const schema = nextSchema();
    const repos = await Promise.all(Array.from({ length: 4 }, () => PostgresRepository.connect(url, { schema, max: 2 })));
    try {
      await Promise.all(repos.map((repo) => repo.migrate()));
      const rows = await admin.unsafe(`SELECT version FROM "${schema}".schema_migrations`);
      expect(rows.map((r) => Number(r['version']))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(repos.map((repo) => repo.close()));
    }
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(PostgresRepository.connect(url, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(/schema name/);
  });

  it('reports other database errors by SQLSTATE without quoting stored values', async () => {
    const repo = await connectMigrated();
    try {
      const owner = account();
      await repo.createAccount(owner, device());
      const record = { id: 'f'.repeat(64), ownerAccountId: owner.id, size: 1, createdAt: 1, expiresAt: 2 };
      await repo.createAttachment(record, { maxCount: 10, maxBytes: 10, now: 0 });
      const err = await repo.createAttachment(record, { maxCount: 10, maxBytes: 10, now: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresStoreError);
      expect((err as PostgresStoreError).code).toBe('23505');
      expect(JSON.stringify(err)).not.toContain(record.id);
      expect(String((err as Error).stack)).not.toContain(record.id);
      expect(Object.keys(err as object)).not.toContain('detail');
    } finally {
      await repo.close();
    }
  });

  it('is what openRepository opens when a database URL is configured', async () => {
    const schema = nextSchema();
    await admin.unsafe(`CREATE SCHEMA "${schema}"`);
    const separator = url.includes('?') ? '&' : '?';
    const repo = await openRepository({ dataDir: '/nonexistent', databaseUrl: `${url}${separator}search_path=${schema}` });
    try {
      expect(repo).toBeInstanceOf(PostgresRepository);
      expect(repo.engine).toBe('postgres');
      const rows = await admin.unsafe(`SELECT version FROM "${schema}".schema_migrations`);
      expect(rows).toHaveLength(MIGRATIONS.length);
    } finally {
      await repo.close();
    }
  });
});
