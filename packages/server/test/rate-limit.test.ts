import { describe, expect, it } from 'vitest';
import { RateLimiter, TargetBudget } from '../src/rate-limit.js';

const T0 = 1_790_000_000_000;

describe('RateLimiter', () => {
  it('allows a burst, then refills at its rate, never past the burst', () => {
    const limiter = new RateLimiter(6, { burst: 3 });
    for (let i = 0; i < 3; i++) expect(limiter.take('a', T0)).toBe(true);
    expect(limiter.take('a', T0)).toBe(false);
    expect(limiter.retryAfter('a')).toBe(10);
    expect(limiter.has('a', T0 + 9_999)).toBe(false);
    expect(limiter.take('a', T0 + 10_000)).toBe(true);
    // An hour later the bucket holds the burst, not 360 tokens.
    const later = T0 + 3_600_000;
    expect(limiter.isFull('a', later)).toBe(true);
    for (let i = 0; i < 3; i++) expect(limiter.take('a', later)).toBe(true);
    expect(limiter.take('a', later)).toBe(false);
    expect(limiter.isFull('b', later)).toBe(true);
    // The sweep forgets only buckets that are full again.
    limiter.forgetFull(later);
    expect(limiter.take('a', later)).toBe(false);
  });

  it('checks without taking, and gives back what it refunds', () => {
    const limiter = new RateLimiter(60, { burst: 2 });
    expect(limiter.has('a', T0, 2)).toBe(true);
    expect(limiter.has('a', T0, 3)).toBe(false);
    expect(limiter.take('a', T0, 2)).toBe(true);
    expect(limiter.has('a', T0)).toBe(false);
    expect(limiter.retryAfter('a', 2, T0 + 1_000)).toBe(1);
    limiter.refund('a', 5);
    expect(limiter.take('a', T0, 2)).toBe(true);
    expect(limiter.take('a', T0)).toBe(false);
  });

  it('when full of keys forgets refilled buckets first, then the least recently used, never everyone at once', () => {
    const limiter = new RateLimiter(1, { burst: 1, maxKeys: 10 });
    for (let i = 0; i < 10; i++) expect(limiter.take(`k${i}`, T0)).toBe(true);
    expect(limiter.take('k0', T0)).toBe(false); // k0 is now the most recently used
    expect(limiter.take('new', T0)).toBe(true);
    // k1 was the least recently used and was forgotten (a fresh bucket); everyone else is still limited.
    expect(limiter.isFull('k1', T0)).toBe(true);
    for (const key of ['k0', 'k2', 'k9', 'new']) expect(limiter.has(key, T0)).toBe(false);
  });
});

describe('TargetBudget', () => {
  const limits = { perTargetBurst: 2, perTargetPerMinute: 6, targetsBurst: 3, targetsPerMinute: 1 };

  it('limits each (requester, target) pair apart', () => {
    const budget = new TargetBudget(limits);
    expect(budget.take('alice', ['bob'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['bob'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['bob'], T0)).toEqual({ kind: 'limited', scope: 'target', retryAfter: 10 });
    expect(budget.take('carol', ['bob'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['bob'], T0 + 10_000)).toEqual({ kind: 'admitted' });
    // An account's own devices are not limited: draining them harms nobody else.
    for (let i = 0; i < 10; i++) expect(budget.take('alice', ['alice'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['alice', 'bob'], T0)).toMatchObject({ kind: 'limited', scope: 'target' });
  });

  it("counts a target against the requester's budget only when not asked about lately, all or nothing", () => {
    const budget = new TargetBudget(limits);
    expect(budget.take('alice', ['b', 'c', 'c'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['b', 'c'], T0)).toEqual({ kind: 'admitted' }); // not new: no target budget spent
    expect(budget.take('alice', ['d', 'e'], T0)).toEqual({ kind: 'limited', scope: 'targets', retryAfter: 60 });
    // The refused request took nothing: one new target still fits, and b's pair is still empty.
    expect(budget.take('alice', ['d'], T0)).toEqual({ kind: 'admitted' });
    expect(budget.take('alice', ['e'], T0)).toMatchObject({ kind: 'limited', scope: 'targets' });
    expect(budget.take('alice', ['b', 'd'], T0)).toMatchObject({ kind: 'limited', scope: 'target' });
    expect(budget.take('alice', ['d'], T0)).toEqual({ kind: 'admitted' });
  });
});
