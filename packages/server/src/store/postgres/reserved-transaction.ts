/**
 * Workaround for a postgres.js 3.4.x bug (porsager/postgres#823, #1189; fixes proposed in #1207, #1218): under load
 * `sql.begin()` can send BEGIN without reserving the connection — when BEGIN is the query that fills a connection's
 * pipeline, `execute()` short-circuits before the reservation hook — so the transaction fails with
 * UNSAFE_TRANSACTION, or worse, its connection returns to the pool mid-transaction and unrelated queries run inside
 * it. The server benchmark hit it (7 sends answered 500 in one run at 1,000 devices).
 *
 * A connection from `sql.reserve()` is reserved before any query is written, so BEGIN / COMMIT sent on it cannot be
 * interleaved with anything else. Remove this file once the fix ships in a postgres.js release.
 */
import type { Sql } from 'postgres';

export async function reservedTransaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const reserved = await sql.reserve();
  try {
    await reserved`BEGIN`;
    let result: T;
    try {
      result = await fn(reserved);
    } catch (err) {
      await reserved`ROLLBACK`.catch(() => undefined);
      throw err;
    }
    await reserved`COMMIT`;
    return result;
  } finally {
    reserved.release();
  }
}
