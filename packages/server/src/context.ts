/** What every route and the WebSocket handler share: configuration, storage, bus, metrics and auth. */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import type { Config } from './config.js';
import type { Repository } from './store/repository.js';
import type { LocalBlobStore } from './blobs/blob-store.js';
import type { MessageBus } from './bus/bus.js';
import type { Metrics } from './metrics.js';
import type { Credentials } from './auth.js';
import { VerifiedSecretCache, parseBasicAuth, verifySecret } from './auth.js';
import { RateLimiter } from './rate-limit.js';
import { ApiError } from './errors.js';

export interface AuthenticatedDevice {
  readonly accountId: string;
  readonly deviceId: number;
  readonly registrationId: number;
}

export class ServerContext {
  readonly crypto = new NodeCryptoProvider();
  readonly secrets = new VerifiedSecretCache();
  readonly accountLimiter: RateLimiter;
  readonly ipLimiter: RateLimiter;
  /** Set while shutting down: new sends are refused with SHUTTING_DOWN. */
  closing = false;
  /** Aborted when shutdown starts, so that long-polls answer at once instead of holding the drain for `wait` seconds. */
  readonly shutdown = new AbortController();

  constructor(
    readonly config: Config,
    readonly repo: Repository,
    readonly blobs: LocalBlobStore,
    readonly bus: MessageBus,
    readonly metrics: Metrics,
    /** Key of the username hash (HMAC-SHA256): usernames are never stored in clear. */
    readonly usernameKey: Uint8Array,
    readonly log: FastifyBaseLogger,
    readonly now: () => number = Date.now,
  ) {
    this.accountLimiter = new RateLimiter(config.limits.accountRequestsPerMinute);
    this.ipLimiter = new RateLimiter(config.limits.ipRequestsPerMinute);
  }

  /** Checks credentials; UNAUTHORIZED for anything wrong, without saying what. RATE_LIMITED per account. */
  async authenticateCredentials(credentials: Credentials | undefined): Promise<AuthenticatedDevice> {
    if (!credentials) throw new ApiError('UNAUTHORIZED');
    const { accountId, deviceId, secret } = credentials;
    const device = await this.repo.getDevice(accountId, deviceId);
    if (!device) throw new ApiError('UNAUTHORIZED');
    if (!this.secrets.matches(accountId, deviceId, device.registrationId, secret)) {
      if (!(await verifySecret(secret, device.authHash))) throw new ApiError('UNAUTHORIZED');
      this.secrets.remember(accountId, deviceId, device.registrationId, secret);
    }
    if (!this.accountLimiter.take(accountId, this.now())) {
      throw new ApiError('RATE_LIMITED', undefined, { retryAfter: this.accountLimiter.retryAfter(accountId) });
    }
    return { accountId, deviceId, registrationId: device.registrationId };
  }

  authenticate(request: FastifyRequest): Promise<AuthenticatedDevice> {
    return this.authenticateCredentials(parseBasicAuth(request.headers.authorization));
  }
}
