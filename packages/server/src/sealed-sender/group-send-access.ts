/**
 * Sealed group sends (issue 16; docs/protocol.md "Group send keys"): an MLS application message is submitted with no
 * credentials, let in by the group's send key for the current epoch in the `Group-Send-Key` header (32 bytes,
 * base64). Members derive the key from the epoch's MLS exporter (RFC 9420 §8.5, @samizdat/protocol
 * `MlsEngine.groupSendKey`); the epoch's committer registers its SHA-256 with the commit, and the server keeps that
 * hash only, so a copy of the database does not let anyone send. A removed member cannot derive the next epoch's key,
 * and the previous epoch's stops working at the commit.
 *
 * Every refusal is the same INVALID_GROUP_SEND_KEY — a wrong key, no key registered, no such group — after the same
 * work (a dummy hash is compared), so that the answer does not tell which groups exist. Limits: per group (all its
 * members share the budget; the server cannot tell them apart), before the group is read; per IP by the app's
 * ipLimiter. Nothing about the request is stored or logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { fromBase64 } from '../http.js';
import { RateLimiter } from '../rate-limit.js';
import type { Repository } from '../store/repository.js';

export const GROUP_SEND_KEY_HEADER = 'group-send-key';
export const GROUP_SEND_KEY_LENGTH = 32;

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());

export class GroupSendAccess {
  readonly groupLimiter: RateLimiter;
  private readonly dummyHash = new Uint8Array(randomBytes(32));
  private readonly authorized = new WeakMap<FastifyRequest, Promise<void>>();

  constructor(
    private readonly repo: Repository,
    limits: { readonly sealedSendsPerRecipientPerMinute: number; readonly sealedSendsPerRecipientBurst: number },
    private readonly now: () => number,
  ) {
    this.groupLimiter = new RateLimiter(limits.sealedSendsPerRecipientPerMinute, { burst: limits.sealedSendsPerRecipientBurst });
  }

  /**
   * Resolves when the request may post to `groupId`; once per request (the onRequest hook asks before the body is
   * read, the route again). BAD_REQUEST when it carries credentials too, INVALID_GROUP_SEND_KEY, RATE_LIMITED.
   */
  authorize(request: FastifyRequest, groupId: string): Promise<void> {
    let answer = this.authorized.get(request);
    if (answer === undefined) {
      answer = this.check(request, groupId);
      this.authorized.set(request, answer);
    }
    return answer;
  }

  private async check(request: FastifyRequest, groupId: string): Promise<void> {
    if (request.headers.authorization !== undefined) {
      throw new ApiError('BAD_REQUEST', 'a sealed group send carries no credentials: send it without an Authorization header');
    }
    const header = request.headers[GROUP_SEND_KEY_HEADER];
    if (typeof header !== 'string') throw new ApiError('INVALID_GROUP_SEND_KEY', `a sealed group send needs the ${GROUP_SEND_KEY_HEADER} header`);
    let presented: Uint8Array;
    try {
      presented = fromBase64(header, GROUP_SEND_KEY_HEADER, GROUP_SEND_KEY_LENGTH);
    } catch {
      throw new ApiError('INVALID_GROUP_SEND_KEY', `${GROUP_SEND_KEY_HEADER} must be ${GROUP_SEND_KEY_LENGTH} bytes in base64`);
    }
    if (!this.groupLimiter.take(groupId, this.now())) {
      throw new ApiError('RATE_LIMITED', 'too many sealed sends to this group', { retryAfter: this.groupLimiter.retryAfter(groupId) });
    }
    const registered = await this.repo.getGroupSendKeyHash(groupId);
    const matches = timingSafeEqual(sha256(presented), registered ?? this.dummyHash);
    if (registered === undefined || !matches) throw new ApiError('INVALID_GROUP_SEND_KEY');
  }

  forgetIdle(now: number): void {
    this.groupLimiter.forgetFull(now);
  }
}
