/**
 * A small cache of database reads that other nodes may change behind our back: entries expire after `ttlMs` of real
 * time (performance.now(), so tests that fake the server clock do not freeze it), the oldest go first past
 * `maxEntries`. A read that started before an invalidation must not put its now stale result in the cache: callers
 * take `generation` before reading and pass it to set(), which drops the value when anything was deleted since.
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly until: number }>();
  private deletions = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get generation(): number {
    return this.deletions;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > performance.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, generation: number): void {
    if (generation !== this.deletions) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until: performance.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.deletions++;
    this.entries.delete(key);
  }
}
