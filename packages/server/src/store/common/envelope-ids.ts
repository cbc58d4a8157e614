/**
 * Envelope ids as both engines treat them: positive signed 64-bit integers (SQLite's rowid, PostgreSQL's BIGINT)
 * that a client names when it reads and acknowledges. A client may send any 19 digits: ids out of range match
 * nothing and reach no statement.
 */
import { memberKey } from '../repository.js';

export const MAX_ENVELOPE_ID = 2n ** 63n - 1n;

/** The ids an ack call may delete: those in range, in input order (duplicates kept: each is deleted once). */
export function ackableIds(ids: readonly bigint[]): bigint[] {
  return ids.filter((id) => id > 0n && id <= MAX_ENVELOPE_ID);
}

/**
 * Where a queue read (fetchQueue) starts: after `afterId`, a negative one read as 0; undefined when it can return
 * nothing (no id lies above the largest, or no row is asked for), so that no statement runs.
 */
export function readStart(afterId: bigint, limit: number): bigint | undefined {
  if (afterId >= MAX_ENVELOPE_ID || limit <= 0) return undefined;
  return afterId < 0n ? 0n : afterId;
}

/**
 * The envelopes that one statement deleted for several ack calls at once (a PostgreSQL queue batch), handed back to
 * the calls: each call learns which of its ids it deleted, in its input order, each once — an id named by two calls
 * of the batch counts for the first only, as if the calls had run one after the other.
 */
export class DeletedEnvelopes {
  private readonly deleted = new Set<string>();
  private readonly claimed = new Set<string>();

  add(accountId: string, deviceId: number, id: bigint | string): void {
    this.deleted.add(`${memberKey({ accountId, deviceId })}/${id}`);
  }

  /** Of `ids`, acknowledged by device `accountId.deviceId`, those deleted and not claimed by an earlier call. */
  claim(accountId: string, deviceId: number, ids: readonly bigint[]): bigint[] {
    const queue = memberKey({ accountId, deviceId });
    return ids.filter((id) => {
      const entry = `${queue}/${id}`;
      if (!this.deleted.has(entry) || this.claimed.has(entry)) return false;
      this.claimed.add(entry);
      return true;
    });
  }
}
