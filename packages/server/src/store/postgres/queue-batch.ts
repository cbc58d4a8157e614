/**
 * The PostgreSQL queue batch writer: the hot-path queue writes — enqueue, ack, touchDevice — are batched across calls.
 * Every call made while a batch is starting joins the next one, and a batch is ONE transaction of five statements
 * (lock every device row it touches, sorted; delete the acked envelopes; insert the new ones and count them into the
 * depths; touch; commit). One transaction per call cost about ten round trips per message, each driven from the
 * busy event loop while its connection sat idle in transaction holding row locks (docs/benchmarks.md, "Server
 * profile"). Each call keeps its own all-or-nothing rule: the depth and device checks run in JS on the locked rows
 * before anything is written (common/admission.ts), so a call that is QUEUE_FULL or DEVICE_NOT_FOUND stores nothing
 * and the others go on.
 *
 * Nothing resolves before the batch's COMMIT returned. Two batches may be in flight, so that one's COMMIT (and its
 * WAL flush) overlaps the next one's statements; the next starts only once the previous holds its row locks, so that
 * a queue's writes are still stored in the order they were made (a later batch that touches the same queue waits for
 * the earlier one's COMMIT on that row lock). Only a batch whose transaction is retried (deadlock or serialization
 * failure, which sorted locking under READ COMMITTED should never produce) can be overtaken by the next one: a retry
 * runs the whole batch again from the start, and its writes settle with the outcome of the attempt that committed.
 */
import type { Sql } from 'postgres';
import { memberKey } from '../repository.js';
import type { NewEnvelope } from '../repository.js';
import { countPerQueue, refusedEnqueue } from '../common/admission.js';
import { DeletedEnvelopes } from '../common/envelope-ids.js';
import { OID } from './postgres-database.js';
import type { PostgresDatabase } from './postgres-database.js';
import { insertCounted, lockTargets } from './queue-statements.js';

/** Most writes in one batch (a batch of 1,000 one-envelope sends is ~300 KB of parameters). */
export const MAX_BATCH_WRITES = 1_000;
/** Batches in flight at once: one committing while the next runs its statements. */
export const MAX_BATCHES_IN_FLIGHT = 2;

export interface QueueBatchStats {
  /** Batches committed. */
  readonly queueTransactions: number;
  /** The most batches ever in flight at once. */
  readonly mostBatchesInFlight: number;
}

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A hot-path queue write waiting for the next batch. */
type QueueWrite =
  | { readonly kind: 'enqueue'; readonly envelopes: readonly NewEnvelope[]; readonly maxQueueDepth: number; readonly settle: Settle<bigint[]> }
  | { readonly kind: 'ack'; readonly accountId: string; readonly deviceId: number; readonly ids: readonly bigint[]; readonly settle: Settle<bigint[]> }
  | { readonly kind: 'touch'; readonly accountId: string; readonly deviceId: number; readonly at: number; readonly settle: Settle<void> };

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export class QueueBatchWriter {
  private closed = false;
  /** Writes waiting for the next batch; the batches in flight (at most MAX_BATCHES_IN_FLIGHT). */
  private queued: QueueWrite[] = [];
  private readonly batchesInFlight = new Set<Promise<void>>();
  /** True from a batch's start until it holds its row locks: no other batch starts meanwhile. */
  private batchLocking = false;
  private batchScheduled = false;
  private readonly counters = { queueTransactions: 0, mostBatchesInFlight: 0 };

  /** `db`: the pool for array parameters and the (retrying) transaction every batch runs in. */
  constructor(private readonly db: Pick<PostgresDatabase, 'sql' | 'transaction'>) {}

  get stats(): QueueBatchStats {
    return { ...this.counters };
  }

  /** Repository.enqueue: the envelopes' ids in input order, or QUEUE_FULL / DEVICE_NOT_FOUND with nothing stored. */
  enqueue(envelopes: readonly NewEnvelope[], maxQueueDepth: number): Promise<bigint[]> {
    return new Promise((resolve, reject) => this.add({ kind: 'enqueue', envelopes, maxQueueDepth, settle: { resolve, reject } }));
  }

  /** Repository.ack, for ids in range (common/envelope-ids.ts ackableIds). */
  ack(accountId: string, deviceId: number, ids: readonly bigint[]): Promise<bigint[]> {
    return new Promise((resolve, reject) => this.add({ kind: 'ack', accountId, deviceId, ids, settle: { resolve, reject } }));
  }

  /** Repository.touchDevice. */
  touch(accountId: string, deviceId: number, at: number): Promise<void> {
    return new Promise((resolve, reject) => this.add({ kind: 'touch', accountId, deviceId, at, settle: { resolve, reject } }));
  }

  /** Waits for every batch in flight or scheduled (writes made meanwhile included); later writes are refused. */
  async close(): Promise<void> {
    while (this.batchesInFlight.size > 0 || this.batchScheduled) {
      if (this.batchesInFlight.size > 0) await Promise.all([...this.batchesInFlight]);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    this.closed = true;
  }

  private add(write: QueueWrite): void {
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
    let outcomes: Outcome[];
    try {
      outcomes = await this.db.transaction((tx) => this.applyBatch(tx, batch, locked));
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
  private async applyBatch(tx: Sql, batch: readonly QueueWrite[], locked: () => void): Promise<Outcome[]> {
    const sql = this.db.sql;
    const outcomes: Outcome[] = new Array(batch.length);
    // 1. Lock every device row the batch touches, in key order (other nodes' batches lock in the same order).
    const devices = new Map<string, { accountId: string; deviceId: number }>();
    for (const w of batch) {
      if (w.kind === 'enqueue') for (const e of w.envelopes) devices.set(memberKey(e), e);
      else devices.set(memberKey(w), w);
    }
    const lockedRows = await lockTargets(sql, tx, [...devices.values()]);
    // The next batch may start now: whatever it shares with this one waits for this COMMIT.
    locked();
    const depth = new Map(lockedRows.map((row) => [memberKey({ accountId: row.account_id, deviceId: row.device_id }), row.queue_depth]));
    // 2. Acks: one DELETE for all of them, each id only from its own device's queue.
    const acks = batch.flatMap((w) => (w.kind === 'ack' ? w.ids.map((id) => ({ w, id })) : []));
    // Per device: envelopes acked (their depth is subtracted) and the last-seen time, written in step 4.
    const changes = new Map<string, { accountId: string; deviceId: number; acked: number; at: number | null }>();
    const change = (accountId: string, deviceId: number) => {
      const key = memberKey({ accountId, deviceId });
      let c = changes.get(key);
      if (c === undefined) changes.set(key, (c = { accountId, deviceId, acked: 0, at: null }));
      return c;
    };
    const deleted = new DeletedEnvelopes();
    if (acks.length > 0) {
      const rows = await tx<{ account_id: string; device_id: number; id: string }[]>`
        DELETE FROM envelopes e
        USING unnest(${sql.array(acks.map((a) => (a.w as { accountId: string }).accountId), OID.text)}::text[],
                     ${sql.array(acks.map((a) => (a.w as { deviceId: number }).deviceId), OID.int4)}::int[],
                     ${sql.array(acks.map((a) => String(a.id)), OID.int8)}::bigint[]) AS t (a, d, id)
        WHERE e.account_id = t.a AND e.device_id = t.d AND e.id = t.id
        RETURNING e.account_id, e.device_id, e.id`;
      for (const row of rows) {
        const key = memberKey({ accountId: row.account_id, deviceId: row.device_id });
        deleted.add(row.account_id, row.device_id, row.id);
        depth.set(key, (depth.get(key) ?? 1) - 1);
        change(row.account_id, row.device_id).acked += 1;
      }
    }
    // 3. Enqueues: checked in call order against the locked depths; the accepted ones are inserted together.
    const accepted: { index: number; envelopes: readonly NewEnvelope[] }[] = [];
    batch.forEach((w, index) => {
      if (w.kind === 'ack') {
        outcomes[index] = { ok: true, value: deleted.claim(w.accountId, w.deviceId, w.ids) };
      } else if (w.kind === 'touch') {
        outcomes[index] = { ok: true, value: undefined };
      } else {
        const counts = countPerQueue(w.envelopes);
        const error = refusedEnqueue(counts, (target) => depth.get(memberKey(target)), w.maxQueueDepth);
        if (error !== undefined) {
          outcomes[index] = { ok: false, error };
          return;
        }
        for (const target of counts) depth.set(memberKey(target), (depth.get(memberKey(target)) as number) + target.count);
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
}
