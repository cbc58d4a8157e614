/**
 * The SQLite key directory: the prekeys a device publishes for 1:1 sessions (signed, one-time EC, one-time and
 * last-resort ML-KEM) and its MLS KeyPackages, and the reads that consume them on behalf of others (takeBundle,
 * claimKeyPackages). Each consuming read is one transaction on the process's only connection, which never
 * interleaves with another method's statements: that is what makes it atomic.
 */
import { deviceNotFound } from '../repository.js';
import type { ClaimedKeyPackage, DeviceBundle, KeyDirectory, OneTimePreKeyRecord, PreKeyCounts, SignedPreKeyRecord } from '../repository.js';
import { claimKeyPackagesSync } from '../common/key-packages.js';
import { toOneTimeKey, toSignedKey } from '../common/rows.js';
import type { KeyRow, OneTimeKeyRow } from '../common/rows.js';
import { isForeignKeyViolation } from './sqlite-database.js';
import type { SqliteDatabase } from './sqlite-database.js';

export class SqliteKeys implements KeyDirectory {
  constructor(private readonly db: SqliteDatabase) {}

  async setSignedPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    this.deviceWrite(() =>
      this.db.stmt(
        `INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id, device_id) DO UPDATE
           SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      ).run(accountId, deviceId, key.keyId, key.publicKey, key.signature),
    );
  }

  async setKyberLastResortPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    this.deviceWrite(() =>
      this.db.stmt(
        `INSERT INTO kyber_last_resort_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id, device_id) DO UPDATE
           SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      ).run(accountId, deviceId, key.keyId, key.publicKey, key.signature),
    );
  }

  async addOneTimePreKeys(accountId: string, deviceId: number, keys: readonly OneTimePreKeyRecord[]): Promise<void> {
    if (keys.length === 0) return;
    const insert = this.db.stmt(
      `INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id, device_id, key_id) DO UPDATE SET public_key = excluded.public_key`,
    );
    this.deviceWrite(() => this.db.transaction(() => {
      for (const key of keys) insert.run(accountId, deviceId, key.keyId, key.publicKey);
    }));
  }

  async addKyberOneTimePreKeys(accountId: string, deviceId: number, keys: readonly SignedPreKeyRecord[]): Promise<void> {
    if (keys.length === 0) return;
    const insert = this.db.stmt(
      `INSERT INTO kyber_one_time_prekeys (account_id, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (account_id, device_id, key_id) DO UPDATE
         SET public_key = excluded.public_key, signature = excluded.signature`,
    );
    this.deviceWrite(() => this.db.transaction(() => {
      for (const key of keys) insert.run(accountId, deviceId, key.keyId, key.publicKey, key.signature);
    }));
  }

  async takeBundle(accountId: string, deviceId: number): Promise<DeviceBundle | undefined> {
    const where = { a: accountId, d: deviceId };
    return this.db.transaction(() => {
      const device = this.db.stmt('SELECT registration_id FROM devices WHERE account_id = @a AND device_id = @d').get(where) as
        | { registration_id: number }
        | undefined;
      const signed = this.db.stmt(
        'SELECT key_id, public_key, signature FROM signed_prekeys WHERE account_id = @a AND device_id = @d',
      ).get(where) as KeyRow | undefined;
      if (device === undefined || signed === undefined) return undefined;
      let kyber = this.db.stmt(
        `DELETE FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d AND key_id =
           (SELECT key_id FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d ORDER BY key_id LIMIT 1)
         RETURNING key_id, public_key, signature`,
      ).get(where) as KeyRow | undefined;
      kyber ??= this.db.stmt(
        'SELECT key_id, public_key, signature FROM kyber_last_resort_prekeys WHERE account_id = @a AND device_id = @d',
      ).get(where) as KeyRow | undefined;
      // Nothing has been consumed when this returns: the kyber DELETE found no row.
      if (kyber === undefined) return undefined;
      const oneTime = this.db.stmt(
        `DELETE FROM one_time_prekeys WHERE account_id = @a AND device_id = @d AND key_id =
           (SELECT key_id FROM one_time_prekeys WHERE account_id = @a AND device_id = @d ORDER BY key_id LIMIT 1)
         RETURNING key_id, public_key`,
      ).get(where) as OneTimeKeyRow | undefined;
      return {
        deviceId,
        registrationId: device.registration_id,
        signedPreKey: toSignedKey(signed),
        oneTimePreKey: oneTime === undefined ? undefined : toOneTimeKey(oneTime),
        kyberPreKey: toSignedKey(kyber),
      };
    });
  }

  async countPreKeys(accountId: string, deviceId: number): Promise<PreKeyCounts> {
    const row = this.db.stmt(
      `SELECT (SELECT count(*) FROM one_time_prekeys WHERE account_id = @a AND device_id = @d) AS oneTime,
              (SELECT count(*) FROM kyber_one_time_prekeys WHERE account_id = @a AND device_id = @d) AS kyberOneTime`,
    ).get({ a: accountId, d: deviceId }) as PreKeyCounts;
    return { oneTime: row.oneTime, kyberOneTime: row.kyberOneTime };
  }

  async addKeyPackages(accountId: string, deviceId: number, keyPackages: readonly Uint8Array[], lastResort: Uint8Array | undefined): Promise<void> {
    this.db.transaction(() => {
      if (this.db.stmt('SELECT 1 FROM devices WHERE account_id = ? AND device_id = ?', { pluck: true }).get(accountId, deviceId) === undefined) {
        throw deviceNotFound();
      }
      const insert = this.db.stmt('INSERT INTO key_packages (account_id, device_id, key_package, last_resort) VALUES (?, ?, ?, ?)');
      for (const kp of keyPackages) insert.run(accountId, deviceId, kp, 0);
      if (lastResort) {
        this.db.stmt('DELETE FROM key_packages WHERE account_id = ? AND device_id = ? AND last_resort = 1').run(accountId, deviceId);
        insert.run(accountId, deviceId, lastResort, 1);
      }
    });
  }

  async claimKeyPackages(accountIds: readonly string[]): Promise<ClaimedKeyPackage[]> {
    return this.db.transaction(() => {
      const devices = this.db.stmt('SELECT device_id FROM devices WHERE account_id = ? ORDER BY device_id', { pluck: true });
      // One-use packages first (oldest first), else the last-resort one, which stays.
      const pick = this.db.stmt(
        'SELECT id, key_package, last_resort FROM key_packages WHERE account_id = ? AND device_id = ? ORDER BY last_resort, id LIMIT 1',
      );
      const remove = this.db.stmt('DELETE FROM key_packages WHERE id = ?');
      return claimKeyPackagesSync(accountIds, {
        devices: (accountId) => devices.all(accountId) as number[],
        take: (accountId, deviceId) => {
          const row = pick.get(accountId, deviceId) as { id: number; key_package: Uint8Array; last_resort: number } | undefined;
          if (row?.last_resort === 0) remove.run(row.id);
          return row?.key_package;
        },
      });
    });
  }

  async countKeyPackages(accountId: string, deviceId: number): Promise<number> {
    return this.db.stmt('SELECT count(*) FROM key_packages WHERE account_id = ? AND device_id = ? AND last_resort = 0', { pluck: true }).get(
      accountId,
      deviceId,
    ) as number;
  }

  /** A write that references a device row; a missing device becomes DEVICE_NOT_FOUND. */
  private deviceWrite(fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      if (isForeignKeyViolation(err)) throw deviceNotFound();
      throw err;
    }
  }
}
