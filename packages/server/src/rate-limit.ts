/**
 * Token-bucket rate limits kept in memory per node (per account, per IP, per pair of accounts). A multi-node
 * deployment divides the budget by node count or moves this to a shared store; the interface stays the same.
 */
export interface RateLimiterOptions {
  /** Tokens a full bucket holds: how many at once after a quiet spell. Default: `perMinute`. */
  readonly burst?: number;
  /** Keys tracked at most; past it, full buckets are dropped, then the least recently used ones. */
  readonly maxKeys?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private readonly maxKeys: number;
  /** Tokens regained per millisecond. */
  private readonly rate: number;

  constructor(
    private readonly perMinute: number,
    options: RateLimiterOptions = {},
  ) {
    this.burst = options.burst ?? perMinute;
    this.maxKeys = options.maxKeys ?? 200_000;
    this.rate = perMinute / 60_000;
  }

  /** Takes `cost` tokens for `key`; false when the bucket is empty (the caller answers RATE_LIMITED). */
  take(key: string, now = Date.now(), cost = 1): boolean {
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-inserted so that the map's order is least recently used first (prune).
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = { tokens: this.burst, at: now };
    }
    this.buckets.set(key, bucket);
    bucket.tokens = this.level(bucket, now);
    bucket.at = now;
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Whether `cost` tokens are there for `key`, without taking them (to check several limits before taking any). */
  has(key: string, now = Date.now(), cost = 1): boolean {
    const bucket = this.buckets.get(key);
    return bucket === undefined ? this.burst >= cost : this.level(bucket, now) >= cost;
  }

  /** Whether `key`'s bucket is full: never used, or unused long enough to have refilled (a "new" key). */
  isFull(key: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(key);
    return bucket === undefined || this.level(bucket, now) >= this.burst;
  }

  /** Gives back tokens taken for an attempt that turned out not to count (limits that count only failures). */
  refund(key: string, cost = 1): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.burst, bucket.tokens + cost);
  }

  /**
   * Seconds until `cost` tokens are available again (for Retry-After), counted from `now`, or without it from the
   * bucket's last use (right after a refused take()).
   */
  retryAfter(key: string, cost = 1, now?: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = now === undefined ? bucket.tokens : this.level(bucket, now);
    return Math.max(1, Math.ceil((cost - tokens) / (this.perMinute / 60)));
  }

  /** Forgets the buckets that are full again (forgetting them changes nothing): run by the server's sweep. */
  forgetFull(now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (this.level(bucket, now) >= this.burst) this.buckets.delete(key);
    }
  }

  private level(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.rate);
  }

  /**
   * Drops the buckets that are full again (forgetting them changes nothing), then, if that was not enough, the least
   * recently used tenth: forgetting every bucket at once would hand everyone a fresh budget.
   */
  private prune(now: number): void {
    this.forgetFull(now);
    let excess = this.buckets.size - Math.floor(this.maxKeys * 0.9);
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}

export interface TargetBudgetLimits {
  /** Requests by one account about one target account: a burst, then so many a minute. */
  readonly perTargetBurst: number;
  readonly perTargetPerMinute: number;
  /** Target accounts one account may ask about that it has not asked about lately: a burst, then so many a minute. */
  readonly targetsBurst: number;
  readonly targetsPerMinute: number;
}

export type TargetBudgetAnswer =
  | { readonly kind: 'admitted' }
  /** `scope` says which budget ran out: the one of a target, or the requester's for new targets. */
  | { readonly kind: 'limited'; readonly scope: 'target' | 'targets'; readonly retryAfter: number };

/**
 * What one account may ask the server to hand out of other accounts (prekey bundles, KeyPackages), as Signal-Server's
 * prekey limiter keys its buckets by requester and target: per (requester, target) pair a burst, then a few a minute,
 * so that no account drains another's one-time keys; and per requester a budget of targets it has not asked about
 * lately (whose pair bucket is full), so that no account drains everyone's a few keys at a time.
 */
export class TargetBudget {
  private readonly pairs: RateLimiter;
  private readonly targets: RateLimiter;

  constructor(limits: TargetBudgetLimits) {
    this.pairs = new RateLimiter(limits.perTargetPerMinute, { burst: limits.perTargetBurst });
    this.targets = new RateLimiter(limits.targetsPerMinute, { burst: limits.targetsBurst });
  }

  /**
   * One request by `requester` about each of `targets` (duplicates count once): takes a token of every pair and one
   * of the requester's new-target tokens per target not asked about lately — all of them, or none when any is short.
   * The requester's own account is not counted: draining its own devices' keys harms nobody else. Synchronous, so
   * concurrent requests on this node cannot both pass on the same token.
   */
  take(requester: string, targets: readonly string[], now: number): TargetBudgetAnswer {
    const others = new Set(targets);
    others.delete(requester);
    const pairs = [...others].map((target) => `${requester}>${target}`);
    for (const pair of pairs) {
      if (!this.pairs.has(pair, now)) return { kind: 'limited', scope: 'target', retryAfter: Math.max(1, this.pairs.retryAfter(pair, 1, now)) };
    }
    const fresh = pairs.filter((pair) => this.pairs.isFull(pair, now)).length;
    if (fresh > 0) {
      if (!this.targets.has(requester, now, fresh)) {
        return { kind: 'limited', scope: 'targets', retryAfter: Math.max(1, this.targets.retryAfter(requester, fresh, now)) };
      }
      this.targets.take(requester, now, fresh);
    }
    for (const pair of pairs) this.pairs.take(pair, now);
    return { kind: 'admitted' };
  }

  /** Forgets who asked about whom once it no longer matters (RateLimiter.forgetFull). */
  forgetFull(now: number): void {
    this.pairs.forgetFull(now);
    this.targets.forgetFull(now);
  }
}
