/**
 * Unidentified delivery (issue 16; @samizdat/protocol sealed-sender/access-key.ts): a sealed send names no sender and
 * carries no credentials. It is let in by the recipient's 16-byte access key in the `Unidentified-Access-Key` header
 * (base64), compared in constant time with the key the account registered — or by any key when the account takes
 * sealed envelopes from anyone. Every refusal is the same INVALID_ACCESS_KEY, whether the key is wrong, the account
 * registered none, or there is no such account, and it takes the same work (a dummy key is compared), so that the
 * answer does not tell which accounts exist.
 *
 * Limits: per recipient account (everyone who holds its key shares the budget: the server cannot tell them apart),
 * checked before the account is read; per IP by the app's ipLimiter, as every request. Nothing about the request is
 * stored or logged.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ACCESS_KEY_LENGTH } from '@samizdat/protocol';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { fromBase64 } from '../http.js';
import { RateLimiter } from '../rate-limit.js';
import type { Repository } from '../store/repository.js';

export const ACCESS_KEY_HEADER = 'unidentified-access-key';

export class UnidentifiedAccess {
  readonly recipientLimiter: RateLimiter;
  private readonly dummyKey = new Uint8Array(randomBytes(ACCESS_KEY_LENGTH));
  private readonly authorized = new WeakMap<FastifyRequest, Promise<void>>();

  constructor(
    private readonly repo: Repository,
    limits: { readonly sealedSendsPerRecipientPerMinute: number; readonly sealedSendsPerRecipientBurst: number },
    private readonly now: () => number,
  ) {
    this.recipientLimiter = new RateLimiter(limits.sealedSendsPerRecipientPerMinute, { burst: limits.sealedSendsPerRecipientBurst });
  }

  /**
   * Resolves when the request may deliver sealed envelopes to `accountId`; once per request (the app's onRequest hook
   * asks before the body is read, the route again). BAD_REQUEST when it carries credentials as well (a client bug
   * that would name the sender), INVALID_ACCESS_KEY, RATE_LIMITED.
   */
  authorize(request: FastifyRequest, accountId: string): Promise<void> {
    let answer = this.authorized.get(request);
    if (answer === undefined) {
      answer = this.check(request, accountId);
      this.authorized.set(request, answer);
    }
    return answer;
  }

  private async check(request: FastifyRequest, accountId: string): Promise<void> {
    if (request.headers.authorization !== undefined) {
      throw new ApiError('BAD_REQUEST', 'a sealed send carries no credentials: send it without an Authorization header');
    }
    const header = request.headers[ACCESS_KEY_HEADER];
    if (typeof header !== 'string') throw new ApiError('INVALID_ACCESS_KEY', `a sealed send needs the ${ACCESS_KEY_HEADER} header`);
    let presented: Uint8Array;
    try {
      presented = fromBase64(header, ACCESS_KEY_HEADER, ACCESS_KEY_LENGTH);
    } catch {
      throw new ApiError('INVALID_ACCESS_KEY', `${ACCESS_KEY_HEADER} must be ${ACCESS_KEY_LENGTH} bytes in base64`);
    }
    if (!this.recipientLimiter.take(accountId, this.now())) {
      throw new ApiError('RATE_LIMITED', 'too many sealed sends to this account', { retryAfter: this.recipientLimiter.retryAfter(accountId) });
    }
    const account = await this.repo.getAccount(accountId);
    const expected = account?.accessKey ?? this.dummyKey;
    const matches = timingSafeEqual(presented, expected);
    if (account === undefined || !(account.unrestrictedAccess === true || (account.accessKey !== undefined && matches))) {
      throw new ApiError('INVALID_ACCESS_KEY');
    }
  }

  forgetIdle(now: number): void {
    this.recipientLimiter.forgetFull(now);
  }
}
