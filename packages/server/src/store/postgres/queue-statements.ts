/**
 * The two statements every PostgreSQL queue change is built around, shared by the queue batch writer
 * (queue-batch.ts) and group fan-out (postgres-repository.ts): first lock the device rows concerned, in key order
 * (so overlapping changes on any node wait for each other instead of deadlocking), then insert the envelopes and
 * count them into devices.queue_depth in one statement.
 */
import type postgres from 'postgres';
import type { Sql } from 'postgres';
import type { GroupMember, NewEnvelope } from '../repository.js';
import { countPerQueue } from '../common/admission.js';
import { OID } from './postgres-database.js';

/** A device row as lockDevices returns it. */
export interface LockedDevice {
  account_id: string;
  device_id: number;
  queue_depth: number;
}

/** Locks the given device rows in key order (FOR NO KEY UPDATE) and returns them: the first step of every queue change. */
export async function lockDevices(tx: Sql, accounts: postgres.Parameter, devices: postgres.Parameter): Promise<LockedDevice[]> {
  return tx<LockedDevice[]>`
    SELECT account_id, device_id, queue_depth FROM devices
    WHERE (account_id, device_id) IN (SELECT * FROM unnest(${accounts}::text[], ${devices}::int[]))
    ORDER BY account_id, device_id
    FOR NO KEY UPDATE`;
}

/** lockDevices for `targets` (each device once). */
export async function lockTargets(sql: Sql, tx: Sql, targets: readonly GroupMember[]): Promise<LockedDevice[]> {
  return lockDevices(
    tx,
    sql.array(targets.map((t) => t.accountId), OID.text),
    sql.array(targets.map((t) => t.deviceId), OID.int4),
  );
}

/**
 * Inserts `envelopes` (their device rows locked by the caller, checks done) and adds them to the queue depths, in one
 * statement; returns their ids in input order.
 */
export async function insertCounted(sql: Sql, tx: Sql, envelopes: readonly NewEnvelope[]): Promise<bigint[]> {
  const targets = countPerQueue(envelopes);
  const rows = await tx<{ id: string }[]>`
    WITH counted AS (
      UPDATE devices SET queue_depth = devices.queue_depth + t.n
      FROM unnest(${sql.array(targets.map((t) => t.accountId), OID.text)}::text[], ${sql.array(targets.map((t) => t.deviceId), OID.int4)}::int[],
                  ${sql.array(targets.map((t) => t.count), OID.int4)}::int[]) AS t (a, d, n)
      WHERE devices.account_id = t.a AND devices.device_id = t.d)
    INSERT INTO envelopes
      (account_id, device_id, source_account_id, source_device_id, envelope, received_at, expires_at)
    SELECT a, d, sa, sd, e, r, x
    FROM unnest(${sql.array(envelopes.map((e) => e.accountId), OID.text)}::text[],
                ${sql.array(envelopes.map((e) => e.deviceId), OID.int4)}::int[],
                ${sql.array(envelopes.map((e) => e.sourceAccountId ?? null), OID.text)}::text[],
                ${sql.array(envelopes.map((e) => e.sourceDeviceId ?? null), OID.int4)}::int[],
                ${sql.array(envelopes.map((e) => e.envelope), OID.bytea)}::bytea[],
                ${sql.array(envelopes.map((e) => e.receivedAt), OID.int8)}::bigint[],
                ${sql.array(envelopes.map((e) => e.expiresAt), OID.int8)}::bigint[])
         WITH ORDINALITY AS t (a, d, sa, sd, e, r, x, ord)
    ORDER BY ord
    RETURNING id`;
  // Ids are drawn in insertion order (ORDER BY ord); sorting does not rely on RETURNING keeping that order.
  return rows.map((row) => BigInt(row.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
