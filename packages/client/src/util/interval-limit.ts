/**
 * At most one event per key per interval, remembered in memory (a restart forgets, which at worst allows one more):
 * how often this device asks a peer device to resend, and how often it rebuilds a session because a peer asked.
 */
export class IntervalLimit {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** When `key` may next happen (ms since the epoch; `now` or earlier when it may happen at once). */
  nextAllowed(key: string): number {
    const at = this.last.get(key);
    return at === undefined ? 0 : at + this.intervalMs;
  }

  /** Whether `key` may happen at `now`; if so, it counts as happened. */
  take(key: string, now: number): boolean {
    if (now < this.nextAllowed(key)) return false;
    if (this.last.size >= this.maxKeys) {
      for (const [k, at] of this.last) if (at + this.intervalMs <= now) this.last.delete(k);
      if (this.last.size >= this.maxKeys) this.last.clear();
    }
    this.last.set(key, now);
    return true;
  }
}
