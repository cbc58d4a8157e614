/**
 * Runs tasks one at a time in the order they were added. The client puts every operation that reads and advances
 * session state (sending, processing a received envelope) through one queue, as the protocol requires
 * (SessionManager: calls for one address must not interleave).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => task());
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything added so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
