/** What every route and the WebSocket handler share: configuration, storage, bus, metrics and auth. */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import type { Config } from './config.js';
import type { DeviceRecord, Repository } from './store/repository.js';
import type { LocalBlobStore } from './blobs/blob-store.js';
import type { MessageBus } from './bus/bus.js';
import type { Metrics } from './metrics.js';
import type { Credentials } from './auth.js';
import { VerifiedSecretCache, parseBasicAuth, verifySecret } from './auth.js';
import { RateLimiter } from './rate-limit.js';
import { ExpiringCache } from './expiring-cache.js';
import { ApiError } from './errors.js';

/**
 * How long device rows (for authentication) and device lists (for sends) are reused. Removals and links on this node,
 * and removals on any node (through the bus), invalidate them at once; the TTL bounds how long a link on another node
 * (not announced on the bus) or a missed bus message goes unseen.
 */
const DEVICE_CACHE_TTL_MS = 1_000;
const DEVICE_CACHE_MAX_ENTRIES = 100_000;

type Credential = Pick<DeviceRecord, 'registrationId' | 'authHash'>;

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
  /** Device credentials by `account.device`, so that authenticating a request does not read the database. */
  private readonly credentials = new ExpiringCache<Credential>(DEVICE_CACHE_TTL_MS, DEVICE_CACHE_MAX_ENTRIES);
  /** Device lists by account, for the device-list check of every send. */
  private readonly deviceLists = new ExpiringCache<readonly DeviceRecord[]>(DEVICE_CACHE_TTL_MS, DEVICE_CACHE_MAX_ENTRIES);

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
    // Removals on other nodes (and, a microtask later, on this one) arrive here.
    bus.onRemoved((device) => this.forgetDeviceRecord(device.accountId, device.deviceId));
  }

  /** Call when a device was removed: its credentials stop working on this node at once. */
  forgetDevice(accountId: string, deviceId: number): void {
    this.secrets.forgetDevice(accountId, deviceId);
    this.forgetDeviceRecord(accountId, deviceId);
  }

  /** Call when a device was added to the account: the next send to it must list it. */
  forgetDeviceList(accountId: string): void {
    this.deviceLists.delete(accountId);
  }

  private forgetDeviceRecord(accountId: string, deviceId: number): void {
    this.credentials.delete(`${accountId}.${deviceId}`);
    this.deviceLists.delete(accountId);
  }

  /**
   * The devices of an account, from the cache while fresh unless `fresh`. A cached list may lack a device linked on
   * another node within the last second: callers that would refuse a request because of the list ask again with
   * `fresh`. An account without devices (unknown) is not cached.
   */
  async listDevices(accountId: string, fresh = false): Promise<readonly DeviceRecord[]> {
    if (!fresh) {
      const cached = this.deviceLists.get(accountId);
      if (cached) return cached;
    }
    const generation = this.deviceLists.generation;
    const devices = await this.repo.listDevices(accountId);
    if (devices.length > 0) this.deviceLists.set(accountId, devices, generation);
    return devices;
  }

  /** The credentials of a device, from the cache while fresh. Absent devices are not cached (a new one works at once). */
  private async deviceCredentials(accountId: string, deviceId: number): Promise<Credential | undefined> {
    const key = `${accountId}.${deviceId}`;
    const cached = this.credentials.get(key);
    if (cached) return cached;
    const generation = this.credentials.generation;
    const device = await this.repo.getDevice(accountId, deviceId);
    if (device) this.credentials.set(key, { registrationId: device.registrationId, authHash: device.authHash }, generation);
    return device;
  }

  /** Checks credentials; UNAUTHORIZED for anything wrong, without saying what. RATE_LIMITED per account. */
  async authenticateCredentials(credentials: Credentials | undefined): Promise<AuthenticatedDevice> {
    if (!credentials) throw new ApiError('UNAUTHORIZED');
    const { accountId, deviceId, secret } = credentials;
    const device = await this.deviceCredentials(accountId, deviceId);
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
