/**
 * Device authentication. Each device holds a random secret (at least 128 bits, chosen by the client at
 * registration); the server keeps only an scrypt hash of it (`scrypt$N$r$p$salt$hash`, base64url). Requests carry
 * `Authorization: Basic base64("<accountId>.<deviceId>:<secret>")`.
 *
 * scrypt costs ~25 ms here, too slow for every request, so a successful verification is remembered in memory as
 * HMAC(process key, secret) — never the secret itself — and later requests compare against that in constant time.
 * The memory cache is bounded and forgotten on restart, on device removal and on re-registration.
 */
import { createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { isAccountId } from '@samizdat/protocol';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_LENGTH, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const expected = Buffer.from(parts[5] as string, 'base64url');
  const actual = await scrypt(secret, salt, expected.length, { N, r, p, maxmem: 256 * 1024 * 1024 });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Runs at most `limit` tasks at once; the others wait in arrival order. */
export class Semaphore {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on
      else this.running--;
    }
  }
}

export interface Credentials {
  readonly accountId: string;
  readonly deviceId: number;
  readonly secret: string;
}

/** Secrets are base64url, 22–128 characters (128–768 bits). */
export const SECRET_PATTERN = '^[A-Za-z0-9_-]{22,128}$';
const SECRET = new RegExp(SECRET_PATTERN);

/** Parses `Basic base64(accountId.deviceId:secret)`; undefined when malformed (never throws). */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  if (!header || !header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return parseLogin(decoded);
}

/** Parses `accountId.deviceId:secret`. */
export function parseLogin(login: string): Credentials | undefined {
  const colon = login.indexOf(':');
  if (colon < 0) return undefined;
  const user = login.slice(0, colon);
  const secret = login.slice(colon + 1);
  const dot = user.indexOf('.');
  if (dot < 0) return undefined;
  const accountId = user.slice(0, dot);
  const deviceText = user.slice(dot + 1);
  if (!isAccountId(accountId) || !/^[1-9]\d{0,3}$/.test(deviceText) || !SECRET.test(secret)) return undefined;
  return { accountId, deviceId: Number(deviceText), secret };
}

/** Remembers verified secrets as keyed hashes so scrypt runs once per device and process. */
export class VerifiedSecretCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 100_000) {}

  /** HMAC(process key, secret): what is kept in place of a verified secret. */
  tag(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret).digest();
  }

  matches(accountId: string, deviceId: number, registrationId: number, secret: string): boolean {
    const known = this.entries.get(`${accountId}.${deviceId}.${registrationId}`);
    return known !== undefined && timingSafeEqual(known, this.tag(secret));
  }

  remember(accountId: string, deviceId: number, registrationId: number, secret: string): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(`${accountId}.${deviceId}.${registrationId}`, this.tag(secret));
  }

  forgetDevice(accountId: string, deviceId: number): void {
    const prefix = `${accountId}.${deviceId}.`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
