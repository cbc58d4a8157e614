/**
 * Server configuration from command-line flags and SAMIZDAT_* environment variables (flags win). Other tools script
 * against these names: --port/SAMIZDAT_PORT, --host/SAMIZDAT_HOST, --data-dir/SAMIZDAT_DATA_DIR,
 * --database-url/SAMIZDAT_DATABASE_URL, --log-level/SAMIZDAT_LOG_LEVEL, --nats-url/SAMIZDAT_NATS_URL.
 * Rate limits (environment only, for load tests and operators): SAMIZDAT_RATE_LIMIT_ACCOUNT_PER_MIN and
 * SAMIZDAT_RATE_LIMIT_IP_PER_MIN, requests per minute per account / per IP, integers from 1 to 1,000,000,000
 * (defaults: DEFAULT_LIMITS below); likewise the per-target budgets (SAMIZDAT_RATE_LIMIT_BUNDLES_PER_TARGET_BURST and
 * the others of ENV_LIMITS) and the storage quotas per account (SAMIZDAT_QUOTA_ATTACHMENTS_PER_ACCOUNT,
 * SAMIZDAT_QUOTA_ATTACHMENT_BYTES_PER_ACCOUNT, SAMIZDAT_QUOTA_GROUPS_PER_ACCOUNT).
 * Hardening: --max-connections-per-ip/SAMIZDAT_MAX_CONNECTIONS_PER_IP (default 256), --metrics-token/
 * SAMIZDAT_METRICS_TOKEN (without one /metrics answers 404), --username-key-file/SAMIZDAT_USERNAME_KEY_FILE
 * (default <data-dir>/username.key), --trust-root-key-file/SAMIZDAT_TRUST_ROOT_KEY_FILE (the sealed-sender trust
 * root, default <data-dir>/trust-root.key).
 * A bad value is a ConfigError: main prints its one-line message and exits with code 2.
 */
import { resolve } from 'node:path';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Limits {
  /** Largest encoded envelope a send may carry, in bytes. */
  readonly maxEnvelopeBytes: number;
  /** Largest JSON body of a send request (all copies of one message). */
  readonly maxSendBodyBytes: number;
  /** Undelivered envelopes kept per device; a send beyond it is QUEUE_FULL. */
  readonly maxQueueDepth: number;
  /** Envelopes older than this are deleted undelivered. */
  readonly maxQueueAgeMs: number;
  readonly maxAttachmentBytes: number;
  readonly attachmentTtlMs: number;
  readonly maxDevicesPerAccount: number;
  /** Requests per minute per account (authenticated) and per IP (all requests). */
  readonly accountRequestsPerMinute: number;
  readonly ipRequestsPerMinute: number;
  /**
   * Failed logins that ran the slow hash, per minute: of existing devices per IP, of devices that do not exist per
   * IP, and per device. Checked before the hash runs (docs/api.md "Authentication").
   */
  readonly slowLoginsPerIpPerMinute: number;
  readonly unknownLoginsPerIpPerMinute: number;
  readonly failedLoginsPerDevicePerMinute: number;
  /** Envelopes pushed to a WebSocket before an ack is required. */
  readonly deliveryWindow: number;
  /** Largest encoded group envelope (an MLS commit, Welcome or application message). */
  readonly maxGroupEnvelopeBytes: number;
  /** Largest GroupInfo (with the ratchet tree) kept per group for external joins. */
  readonly maxGroupInfoBytes: number;
  /**
   * The largest group the server orders: member accounts (the 10,000 of issue 5) and devices between them. A commit
   * past either is refused (GROUP_TOO_LARGE) before anything is stored.
   */
  readonly maxGroupAccounts: number;
  readonly maxGroupDevices: number;
  /** A request's headers and body must have arrived within this; a client trickling its body is cut off. */
  readonly requestTimeoutMs: number;
  /** A connection silent this long is closed (longer than the longest long-poll, 60 s; WebSockets are exempt). */
  readonly idleTimeoutMs: number;
  /** Open TCP connections (HTTP and WebSocket) per remote address; one more is closed as it arrives. */
  readonly maxConnectionsPerIp: number;
  /**
   * Prekey bundle fetches (GET /v1/keys/:accountId/:deviceId, each consuming one-time keys) by one account of one
   * target account: a burst, then so many a minute; and target accounts one account may fetch from that it has not
   * fetched from lately (its bucket for that target is full): a burst, then so many a minute (rate-limit.ts
   * TargetBudget). Past either, RATE_LIMITED with Retry-After. Fetches of one's own account are not counted.
   */
  readonly bundlesPerTargetBurst: number;
  readonly bundlesPerTargetPerMinute: number;
  readonly bundleTargetsBurst: number;
  readonly bundleTargetsPerMinute: number;
  /** The same for KeyPackage claims (POST /v1/groups/key-packages/claim), each account named in a claim counting once. */
  readonly keyPackageClaimsPerTargetBurst: number;
  readonly keyPackageClaimsPerTargetPerMinute: number;
  /** At least the accounts one claim may name (100), or a claim naming that many new ones could never pass. */
  readonly keyPackageTargetsBurst: number;
  readonly keyPackageTargetsPerMinute: number;
  /** Username lookups (POST /v1/accounts/lookup) per account, found or not: a burst, then so many a minute. */
  readonly usernameLookupsBurst: number;
  readonly usernameLookupsPerMinute: number;
  /**
   * Sealed sends (PUT /v1/sealed/messages/:accountId) per recipient account, from whoever holds its access key (the
   * server does not know who sends): a burst, then so many a minute. Each IP is limited by ipRequestsPerMinute too.
   */
  readonly sealedSendsPerRecipientBurst: number;
  readonly sealedSendsPerRecipientPerMinute: number;
  /**
   * Storage quotas per account, QUOTA_EXCEEDED past them with nothing stored: live (unexpired) attachments it
   * uploaded, their total bytes, and groups it created while a device of it is still a member.
   */
  readonly maxAttachmentsPerAccount: number;
  readonly maxAttachmentBytesPerAccount: number;
  readonly maxGroupsPerAccount: number;
  /**
   * Largest GroupInfo of a new group (the creating device alone: a few KiB); later ones, which carry every member's
   * leaf, are bounded by maxGroupInfoBytes.
   */
  readonly maxNewGroupInfoBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxEnvelopeBytes: 300 * 1024,
  maxSendBodyBytes: 8 * 1024 * 1024,
  maxQueueDepth: 10_000,
  maxQueueAgeMs: 30 * 24 * 3600 * 1000,
  maxAttachmentBytes: 100 * 1024 * 1024,
  attachmentTtlMs: 30 * 24 * 3600 * 1000,
  maxDevicesPerAccount: 8,
  accountRequestsPerMinute: 6000,
  ipRequestsPerMinute: 60_000,
  // Generous per IP: many users share an address behind a NAT, and only failures count.
  slowLoginsPerIpPerMinute: 60,
  unknownLoginsPerIpPerMinute: 30,
  failedLoginsPerDevicePerMinute: 10,
  deliveryWindow: 64,
  maxGroupEnvelopeBytes: 1024 * 1024 + 64,
  maxGroupInfoBytes: 16 * 1024 * 1024,
  maxGroupAccounts: 10_000,
  maxGroupDevices: 20_000,
  // 10 minutes carries the largest attachment (100 MiB) at 1.4 Mbit/s.
  requestTimeoutMs: 10 * 60_000,
  idleTimeoutMs: 120_000,
  // Generous: users behind one NAT share an address, and each holds a WebSocket plus a few HTTP connections.
  maxConnectionsPerIp: 256,
  // A client fetches an account's bundles once per new session (and per device it learns of); 20 at once covers a
  // contact's devices being relinked and sessions being repaired in one go. Signal: 6, then one per 10 minutes.
  bundlesPerTargetBurst: 20,
  bundlesPerTargetPerMinute: 6,
  bundleTargetsBurst: 100,
  bundleTargetsPerMinute: 20,
  keyPackageClaimsPerTargetBurst: 20,
  keyPackageClaimsPerTargetPerMinute: 6,
  // A claim for a group being filled names up to 100 accounts at once.
  keyPackageTargetsBurst: 1_000,
  keyPackageTargetsPerMinute: 100,
  // Lookups are of usernames a person types or a contact claims, and clients keep what they found. Signal: 100, then
  // one per 15 minutes.
  usernameLookupsBurst: 100,
  usernameLookupsPerMinute: 1,
  sealedSendsPerRecipientBurst: 600,
  sealedSendsPerRecipientPerMinute: 600,
  // Attachments live 30 days: a heavy sender's 60 a day is 1,800, and 10 GiB holds a hundred of the largest.
  maxAttachmentsPerAccount: 2_000,
  maxAttachmentBytesPerAccount: 10 * 1024 * 1024 * 1024,
  maxGroupsPerAccount: 1_000,
  maxNewGroupInfoBytes: 64 * 1024,
};

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly natsUrl: string | undefined;
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** Bearer token that /metrics requires; without one /metrics answers 404. */
  readonly metricsToken: string | undefined;
  /** Where the username-hash key is kept (created 0600 when missing) unless SAMIZDAT_USERNAME_KEY gives it. */
  readonly usernameKeyFile: string;
  /** The sealed-sender trust root (Ed25519 seed || public key, 64 bytes), default <data-dir>/trust-root.key. */
  readonly trustRootKeyFile: string;
  /** Worker threads that verify MLS commits (ds/threaded-verifier.ts); 0: on the event loop. */
  readonly dsThreads: number;
}

export interface RawOptions {
  readonly port?: string | undefined;
  readonly host?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly databaseUrl?: string | undefined;
  readonly natsUrl?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly maxConnectionsPerIp?: string | undefined;
  readonly metricsToken?: string | undefined;
  readonly usernameKeyFile?: string | undefined;
  readonly trustRootKeyFile?: string | undefined;
  readonly dsThreads?: string | undefined;
}

const MAX_RATE_PER_MINUTE = 1_000_000_000;
const MAX_CONNECTIONS_PER_IP = 1_000_000;
const MAX_DS_THREADS = 64;
/** A metrics token is a header value: visible ASCII, long enough not to be guessed. */
const METRICS_TOKEN = /^[\x21-\x7e]{16,512}$/;

/** The limits an operator may set in the environment: integers from `min` to `max`. */
const ENV_LIMITS: readonly { readonly key: keyof Limits; readonly env: string; readonly min?: number; readonly max: number }[] = [
  { key: 'accountRequestsPerMinute', env: 'SAMIZDAT_RATE_LIMIT_ACCOUNT_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'ipRequestsPerMinute', env: 'SAMIZDAT_RATE_LIMIT_IP_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'bundlesPerTargetBurst', env: 'SAMIZDAT_RATE_LIMIT_BUNDLES_PER_TARGET_BURST', max: MAX_RATE_PER_MINUTE },
  { key: 'bundlesPerTargetPerMinute', env: 'SAMIZDAT_RATE_LIMIT_BUNDLES_PER_TARGET_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'bundleTargetsBurst', env: 'SAMIZDAT_RATE_LIMIT_BUNDLE_TARGETS_BURST', max: MAX_RATE_PER_MINUTE },
  { key: 'bundleTargetsPerMinute', env: 'SAMIZDAT_RATE_LIMIT_BUNDLE_TARGETS_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'keyPackageClaimsPerTargetBurst', env: 'SAMIZDAT_RATE_LIMIT_KEY_PACKAGES_PER_TARGET_BURST', max: MAX_RATE_PER_MINUTE },
  { key: 'keyPackageClaimsPerTargetPerMinute', env: 'SAMIZDAT_RATE_LIMIT_KEY_PACKAGES_PER_TARGET_PER_MIN', max: MAX_RATE_PER_MINUTE },
  // One claim names up to 100 accounts (routes/groups.ts): a smaller burst would refuse such a claim for ever.
  { key: 'keyPackageTargetsBurst', env: 'SAMIZDAT_RATE_LIMIT_KEY_PACKAGE_TARGETS_BURST', min: 100, max: MAX_RATE_PER_MINUTE },
  { key: 'keyPackageTargetsPerMinute', env: 'SAMIZDAT_RATE_LIMIT_KEY_PACKAGE_TARGETS_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'usernameLookupsBurst', env: 'SAMIZDAT_RATE_LIMIT_USERNAME_LOOKUPS_BURST', max: MAX_RATE_PER_MINUTE },
  { key: 'usernameLookupsPerMinute', env: 'SAMIZDAT_RATE_LIMIT_USERNAME_LOOKUPS_PER_MIN', max: MAX_RATE_PER_MINUTE },
  { key: 'sealedSendsPerRecipientBurst', env: 'SAMIZDAT_RATE_LIMIT_SEALED_PER_RECIPIENT_BURST', min: 1, max: MAX_RATE_PER_MINUTE },
  { key: 'sealedSendsPerRecipientPerMinute', env: 'SAMIZDAT_RATE_LIMIT_SEALED_PER_RECIPIENT_PER_MIN', min: 1, max: MAX_RATE_PER_MINUTE },
  { key: 'maxAttachmentsPerAccount', env: 'SAMIZDAT_QUOTA_ATTACHMENTS_PER_ACCOUNT', max: MAX_RATE_PER_MINUTE },
  { key: 'maxAttachmentBytesPerAccount', env: 'SAMIZDAT_QUOTA_ATTACHMENT_BYTES_PER_ACCOUNT', max: Number.MAX_SAFE_INTEGER },
  { key: 'maxGroupsPerAccount', env: 'SAMIZDAT_QUOTA_GROUPS_PER_ACCOUNT', max: MAX_RATE_PER_MINUTE },
];

function parseConnections(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMITS.maxConnectionsPerIp;
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_CONNECTIONS_PER_IP) {
    throw new ConfigError(`invalid max connections per IP "${value}": expected an integer from 1 to ${MAX_CONNECTIONS_PER_IP}`);
  }
  return Number(value);
}

function parseLimit(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`invalid ${name} "${value}": expected an integer from ${min} to ${max}`);
  }
  return Number(value);
}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(`invalid port "${value}": expected an integer from 0 to 65535`);
  }
  return Number(value);
}

/** Merges flags over environment over defaults and validates the result. */
export function resolveConfig(flags: RawOptions, env: NodeJS.ProcessEnv, cwd = process.cwd()): Config {
  const pick = (flag: string | undefined, name: string): string | undefined => {
    const value = flag ?? env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const port = parsePort(pick(flags.port, 'SAMIZDAT_PORT') ?? '8080');
  const host = pick(flags.host, 'SAMIZDAT_HOST') ?? '127.0.0.1';
  if (/\s/.test(host)) throw new ConfigError(`invalid host "${host}"`);
  const dataDir = resolve(cwd, pick(flags.dataDir, 'SAMIZDAT_DATA_DIR') ?? 'data');
  const databaseUrl = pick(flags.databaseUrl, 'SAMIZDAT_DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('invalid database URL: expected postgres://… (omit it to use the embedded SQLite store)');
  }
  const natsUrl = pick(flags.natsUrl, 'SAMIZDAT_NATS_URL');
  if (natsUrl !== undefined && !/^(nats|tls):\/\//.test(natsUrl)) {
    throw new ConfigError('invalid NATS URL: expected nats://host:port');
  }
  const logLevel = pick(flags.logLevel, 'SAMIZDAT_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`invalid log level "${logLevel}": expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const metricsToken = pick(flags.metricsToken, 'SAMIZDAT_METRICS_TOKEN');
  // The token itself is never echoed: the message may end up in a log.
  if (metricsToken !== undefined && !METRICS_TOKEN.test(metricsToken)) {
    throw new ConfigError('invalid metrics token: expected 16 to 512 visible ASCII characters (e.g. `openssl rand -hex 32`)');
  }
  const usernameKeyFile = resolve(cwd, pick(flags.usernameKeyFile, 'SAMIZDAT_USERNAME_KEY_FILE') ?? resolve(dataDir, 'username.key'));
  const trustRootKeyFile = resolve(cwd, pick(flags.trustRootKeyFile, 'SAMIZDAT_TRUST_ROOT_KEY_FILE') ?? resolve(dataDir, 'trust-root.key'));
  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxConnectionsPerIp: parseConnections(pick(flags.maxConnectionsPerIp, 'SAMIZDAT_MAX_CONNECTIONS_PER_IP')),
    ...Object.fromEntries(
      ENV_LIMITS.map(({ key, env: name, min, max }) => [key, parseLimit(pick(undefined, name), name, DEFAULT_LIMITS[key], min ?? 1, max)]),
    ),
  };
  const dsThreads = parseLimit(pick(flags.dsThreads, 'SAMIZDAT_DS_THREADS'), 'delivery service threads', 1, 0, MAX_DS_THREADS);
  return { port, host, dataDir, databaseUrl, natsUrl, logLevel: logLevel as LogLevel, limits, metricsToken, usernameKeyFile, trustRootKeyFile, dsThreads };
}
