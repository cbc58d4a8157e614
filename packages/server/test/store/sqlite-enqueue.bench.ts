/**
 * Group commit in numbers: envelopes stored per second by SqliteRepository (synchronous=FULL, a real file) with one
 * enqueue call in flight — a transaction and an fsync each — against 100 and 500 concurrent calls, which the writer
 * commits together. Each iteration stores 500 envelopes (256 B), so envelopes/s = hz × 500; read the ratios, which
 * hold across machines better than the absolute figures.
 *
 *   npx vitest bench --run packages/server/test/store/sqlite-enqueue.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { SqliteRepository } from '../../src/store/sqlite/sqlite-repository.js';
import { account, device, envelope } from './repository.suite.js';

const PER_ITERATION = 500;
const dir = mkdtempSync(join(tmpdir(), 'samizdat-bench-'));
const repo = SqliteRepository.open(join(dir, 'bench.db'));
await repo.migrate();
const owner = account();
await repo.createAccount(owner, device());
// Eight devices, as many as an account may have; acks keep the queues short, as online devices do.
for (let i = 2; i <= 8; i++) await repo.addDevice(owner.id, device(i), 8);
const payload = new Uint8Array(256).fill(7);
let next = 0;

async function store(inFlight: number): Promise<void> {
  for (let done = 0; done < PER_ITERATION; done += inFlight) {
    const batch = Array.from({ length: inFlight }, () => 1 + (next++ % 8));
    const ids = await Promise.all(batch.map((d) => repo.enqueue([envelope(owner.id, d, { envelope: payload })], 10_000)));
    await Promise.all(batch.map((d, i) => repo.ack(owner.id, d, ids[i] ?? [])));
  }
}

afterAll(async () => {
  await repo.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`SQLite enqueue + ack, ${PER_ITERATION} envelopes per iteration`, () => {
  bench('1 call in flight (a transaction per call)', () => store(1), { iterations: 5, time: 0 });
  bench('100 calls in flight (group commit)', () => store(100), { iterations: 20, time: 0 });
  bench('500 calls in flight (group commit)', () => store(500), { iterations: 20, time: 0 });
});
