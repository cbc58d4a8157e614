/**
 * Token-bucket rate limits kept in memory per node (per account and per IP). A multi-node deployment divides the
 * budget by node count or moves this to a shared store; the interface stays the same.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 200_000,
  ) {}

  /** Takes `cost` tokens for `key`; false when the bucket is empty (the caller answers RATE_LIMITED). */
  take(key: string, now = Date.now(), cost = 1): boolean {
    const rate = this.perMinute / 60_000;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = { tokens: this.perMinute, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Whether `cost` tokens are there for `key`, without taking them (limits that count only failures). */
  has(key: string, now = Date.now(), cost = 1): boolean {
    const bucket = this.buckets.get(key);
    if (!bucket) return true;
    return Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * (this.perMinute / 60_000)) >= cost;
  }

  /** Gives back tokens taken for an attempt that turned out not to count (limits that count only failures). */
  refund(key: string, cost = 1): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.perMinute, bucket.tokens + cost);
  }

  /** Seconds until `cost` tokens are available again (for Retry-After). */
  retryAfter(key: string, cost = 1): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    return Math.max(1, Math.ceil((cost - bucket.tokens) / (this.perMinute / 60)));
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * (this.perMinute / 60_000) >= this.perMinute) this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}
