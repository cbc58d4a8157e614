/** What every route and the WebSocket handler share: configuration, storage, bus, metrics and auth. */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import type { Config } from './config.js';
import type { DeviceRecord, Repository } from './store/repository.js';
import type { LocalBlobStore } from './blobs/blob-store.js';
import type { MessageBus } from './bus/bus.js';
import type { Metrics } from './metrics.js';
import type { Credentials } from './auth.js';
import { randomBytes } from 'node:crypto';
import { Semaphore, VerifiedSecretCache, hashSecret, parseBasicAuth, verifySecret } from './auth.js';
import { RateLimiter, TargetBudget } from './rate-limit.js';
import { ExpiringCache } from './expiring-cache.js';
import { ApiError } from './errors.js';
import { GroupSendAccess } from './sealed-sender/group-send-access.js';
import { UnidentifiedAccess } from './sealed-sender/unidentified-access.js';

/**
 * How long device rows (for authentication) and device lists (for sends) are reused. Removals and links on this node,
 * and removals on any node (through the bus), invalidate them at once; the TTL bounds how long a link on another node
 * (not announced on the bus) or a missed bus message goes unseen.
 */
const DEVICE_CACHE_TTL_MS = 1_000;
/** scrypt runs at once per node: two of libuv's four pool threads, the others stay for file I/O and fdatasync. */
const SLOW_HASHES_AT_ONCE = 2;
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
  /** Failed logins per IP (of existing devices; of devices that do not exist) and per device (authenticateCredentials). */
  readonly slowLoginLimiter: RateLimiter;
  readonly unknownLoginLimiter: RateLimiter;
  readonly failedLoginLimiter: RateLimiter;
  /** What one account may have handed out of others: prekey bundles and KeyPackages (rate-limit.ts TargetBudget). */
  readonly bundleBudget: TargetBudget;
  readonly keyPackageBudget: TargetBudget;
  /** Username lookups per account. */
  readonly usernameLookupLimiter: RateLimiter;
  /** Sealed sends: the access-key check and its limit per recipient. */
  readonly unidentified: UnidentifiedAccess;
  /** Sealed group sends: the group's send key (sealed-sender/group-send-access.ts). */
  readonly groupSendAccess: GroupSendAccess;
  /**
   * At most SLOW_HASHES_AT_ONCE scrypt runs at a time: they use libuv's thread pool (4 threads), which the SQLite
   * writer's fdatasync and file I/O need too, so a login flood cannot hold every thread.
   */
  private readonly slowHashes = new Semaphore(SLOW_HASHES_AT_ONCE);
  /** Verified against when the device does not exist, so that an unknown device takes as long as a wrong secret. */
  private dummyHash: Promise<string> | undefined;
  /** Verifications in progress, by device and keyed hash of the secret: concurrent requests share one. */
  private readonly verifying = new Map<string, Promise<boolean>>();
  private readonly authenticated = new WeakMap<FastifyRequest, Promise<AuthenticatedDevice>>();
  /** scrypt verifications run by this node (tests and metrics). */
  slowVerifications = 0;
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
    this.slowLoginLimiter = new RateLimiter(config.limits.slowLoginsPerIpPerMinute);
    this.unknownLoginLimiter = new RateLimiter(config.limits.unknownLoginsPerIpPerMinute);
    this.failedLoginLimiter = new RateLimiter(config.limits.failedLoginsPerDevicePerMinute);
    const limits = config.limits;
    this.bundleBudget = new TargetBudget({
      perTargetBurst: limits.bundlesPerTargetBurst,
      perTargetPerMinute: limits.bundlesPerTargetPerMinute,
      targetsBurst: limits.bundleTargetsBurst,
      targetsPerMinute: limits.bundleTargetsPerMinute,
    });
    this.keyPackageBudget = new TargetBudget({
      perTargetBurst: limits.keyPackageClaimsPerTargetBurst,
      perTargetPerMinute: limits.keyPackageClaimsPerTargetPerMinute,
      targetsBurst: limits.keyPackageTargetsBurst,
      targetsPerMinute: limits.keyPackageTargetsPerMinute,
    });
    this.usernameLookupLimiter = new RateLimiter(limits.usernameLookupsPerMinute, { burst: limits.usernameLookupsBurst });
    this.unidentified = new UnidentifiedAccess(repo, limits, now);
    this.groupSendAccess = new GroupSendAccess(repo, limits, now);
    // Removals on other nodes (and, a microtask later, on this one) arrive here.
    bus.onRemoved((device) => this.forgetDeviceRecord(device.accountId, device.deviceId));
  }

  /** Forgets the rate-limit buckets that are full again (the server's sweep): memory, and who asked about whom. */
  forgetIdleLimits(now: number): void {
    for (const limiter of [this.accountLimiter, this.ipLimiter, this.slowLoginLimiter, this.unknownLoginLimiter, this.failedLoginLimiter, this.usernameLookupLimiter]) {
      limiter.forgetFull(now);
    }
    this.bundleBudget.forgetFull(now);
    this.keyPackageBudget.forgetFull(now);
    this.unidentified.forgetIdle(now);
    this.groupSendAccess.forgetIdle(now);
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

  /**
   * Checks credentials; UNAUTHORIZED for anything wrong, without saying what. RATE_LIMITED per account.
   * A secret this node has verified before is checked in constant time against its keyed hash. Anything else needs
   * scrypt, and is limited before it runs, counting failures only: per IP (`slowLoginsPerIpPerMinute` wrong secrets
   * of existing devices, `unknownLoginsPerIpPerMinute` logins of devices that do not exist: refused once that many
   * failed within the minute) and per device (`failedLoginsPerDevicePerMinute`: each attempt takes a
   * token, given back when the secret was right, so a concurrent burst of guesses at one device is bounded too). At
   * most SLOW_HASHES_AT_ONCE hashes run at a time. A device that does not exist is verified against a
   * dummy hash, so that the answer's timing does not tell which devices exist.
   */
  async authenticateCredentials(credentials: Credentials | undefined, ip = 'unknown'): Promise<AuthenticatedDevice> {
    if (!credentials) throw new ApiError('UNAUTHORIZED');
    const { accountId, deviceId, secret } = credentials;
    const device = await this.deviceCredentials(accountId, deviceId);
    if (!device || !this.secrets.matches(accountId, deviceId, device.registrationId, secret)) {
      const deviceKey = `${accountId}.${deviceId}`;
      // A device's first requests often come at once (a client starting): they wait for the same verification.
      const attempt = `${deviceKey}.${device?.registrationId ?? 0}:${this.secrets.tag(secret).toString('base64')}`;
      const pending = this.verifying.get(attempt);
      if (pending) {
        if (!(await pending) || !device) throw new ApiError('UNAUTHORIZED');
        return this.admitted(accountId, deviceId, device.registrationId);
      }
      const now = this.now();
      // Two budgets per IP: logins of devices that do not exist (a removed device's client retrying, a scan) never
      // hold up the first login of a device that does, behind the same address.
      // A device that does not exist always fails: its token is taken before the hash, so that a concurrent burst of
      // them is bounded too. Wrong secrets of existing devices count once they failed (many devices' correct first
      // logins at once must not be refused); each device's own budget bounds a burst at it.
      const ipLimiter = device ? this.slowLoginLimiter : this.unknownLoginLimiter;
      if (!(device ? ipLimiter.has(ip, now) : ipLimiter.take(ip, now))) {
        throw new ApiError('RATE_LIMITED', 'too many failed logins from this address', { retryAfter: ipLimiter.retryAfter(ip) });
      }
      if (!this.failedLoginLimiter.take(deviceKey, now)) {
        throw new ApiError('RATE_LIMITED', 'too many failed logins for this device', { retryAfter: this.failedLoginLimiter.retryAfter(deviceKey) });
      }
      const dummy = (this.dummyHash ??= hashSecret(randomBytes(24).toString('base64url')));
      const verification = (async () => {
        const stored = device?.authHash ?? (await dummy);
        return this.slowHashes.run(() => {
          this.slowVerifications++;
          return verifySecret(secret, stored);
        });
      })();
      this.verifying.set(attempt, verification);
      let ok: boolean;
      try {
        ok = await verification;
      } finally {
        this.verifying.delete(attempt);
      }
      if (!device || !ok) {
        if (device) ipLimiter.take(ip, this.now());
        throw new ApiError('UNAUTHORIZED');
      }
      this.failedLoginLimiter.refund(deviceKey);
      this.secrets.remember(accountId, deviceId, device.registrationId, secret);
    }
    return this.admitted(accountId, deviceId, device.registrationId);
  }

  /** A device whose credentials checked out: RATE_LIMITED when its account is over its request budget. */
  private admitted(accountId: string, deviceId: number, registrationId: number): AuthenticatedDevice {
    if (!this.accountLimiter.take(accountId, this.now())) {
      throw new ApiError('RATE_LIMITED', undefined, { retryAfter: this.accountLimiter.retryAfter(accountId) });
    }
    return { accountId, deviceId, registrationId };
  }

  /**
   * The request's device, authenticated once per request: the app's onRequest hook does it before the body is read
   * (app.ts), and the route's own call gets the same answer (and costs the account's budget once).
   */
  authenticate(request: FastifyRequest): Promise<AuthenticatedDevice> {
    let device = this.authenticated.get(request);
    if (device === undefined) {
      device = this.authenticateCredentials(parseBasicAuth(request.headers.authorization), request.ip);
      this.authenticated.set(request, device);
    }
    return device;
  }
}
