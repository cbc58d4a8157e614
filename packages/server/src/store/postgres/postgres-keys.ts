/**
 * The PostgreSQL key directory: the prekeys a device publishes for 1:1 sessions (signed, one-time EC, one-time and
 * last-resort ML-KEM) and its MLS KeyPackages, and the reads that consume them on behalf of others, safe against
 * other nodes running at once.
 *
 * takeBundle and claimKeyPackages consume a one-time key with `DELETE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED
 * LIMIT 1)`: concurrent callers lock different rows instead of queueing behind (or, under READ COMMITTED, skipping
 * past) the same one, so no key is handed out twice and none is skipped while it is still free. Keys are addressed
 * by their primary key, not by ctid, which CockroachDB does not have. Each consuming read is one transaction: a
 * claim that fails midway consumes nothing.
 */
import { deviceNotFound } from '../repository.js';
import type { ClaimedKeyPackage, DeviceBundle, KeyDirectory, OneTimePreKeyRecord, PreKeyCounts, SignedPreKeyRecord } from '../repository.js';
import { claimKeyPackagesAsync } from '../common/key-packages.js';
import { toOneTimeKey, toSignedKey } from '../common/rows.js';
import type { KeyRow, OneTimeKeyRow } from '../common/rows.js';
import { OID } from './postgres-database.js';
import type { PostgresDatabase } from './postgres-database.js';

export class PostgresKeys implements KeyDirectory {
  constructor(private readonly db: PostgresDatabase) {}

  async setSignedPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    await this.db.guard(
      () => this.db.sql`
        INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature)
        VALUES (${accountId}, ${deviceId}, ${key.keyId}, ${key.publicKey}, ${key.signature})
        ON CONFLICT (account_id, device_id) DO UPDATE
          SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async setKyberLastResortPreKey(accountId: string, deviceId: number, key: SignedPreKeyRecord): Promise<void> {
    await this.db.guard(
      () => this.db.sql`
        INSERT INTO kyber_last_resort_prekeys (account_id, device_id, key_id, public_key, signature)
        VALUES (${accountId}, ${deviceId}, ${key.keyId}, ${key.publicKey}, ${key.signature})
        ON CONFLICT (account_id, device_id) DO UPDATE
          SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async addOneTimePreKeys(accountId: string, deviceId: number, keys: readonly OneTimePreKeyRecord[]): Promise<void> {
    // ON CONFLICT cannot touch one row twice in a statement: of repeated key ids in one upload, the last one wins.
    const unique = [...new Map(keys.map((key) => [key.keyId, key])).values()];
    if (unique.length === 0) return;
    const sql = this.db.sql;
    await this.db.guard(
      () => sql`
        INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key)
        SELECT ${accountId}, ${deviceId}, k, p
        FROM unnest(${sql.array(unique.map((key) => key.keyId), OID.int8)}::bigint[],
                    ${sql.array(unique.map((key) => key.publicKey), OID.bytea)}::bytea[]) AS t (k, p)
        ON CONFLICT (account_id, device_id, key_id) DO UPDATE SET public_key = excluded.public_key`,
      'DEVICE_NOT_FOUND',
    );
  }

  async addKyberOneTimePreKeys(accountId: string, deviceId: number, keys: readonly SignedPreKeyRecord[]): Promise<void> {
    const unique = [...new Map(keys.map((key) => [key.keyId, key])).values()];
    if (unique.length === 0) return;
    const sql = this.db.sql;
    await this.db.guard(
      () => sql`
        INSERT INTO kyber_one_time_prekeys (account_id, device_id, key_id, public_key, signature)
        SELECT ${accountId}, ${deviceId}, k, p, s
        FROM unnest(${sql.array(unique.map((key) => key.keyId), OID.int8)}::bigint[],
                    ${sql.array(unique.map((key) => key.publicKey), OID.bytea)}::bytea[],
                    ${sql.array(unique.map((key) => key.signature), OID.bytea)}::bytea[]) AS t (k, p, s)
        ON CONFLICT (account_id, device_id, key_id) DO UPDATE
          SET public_key = excluded.public_key, signature = excluded.signature`,
      'DEVICE_NOT_FOUND',
    );
  }

  async takeBundle(accountId: string, deviceId: number): Promise<DeviceBundle | undefined> {
    return this.db.transaction(async (tx) => {
      const [device] = await tx<{ registration_id: string }[]>`
        SELECT registration_id FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      const [signed] = await tx<KeyRow[]>`
        SELECT key_id, public_key, signature FROM signed_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      if (device === undefined || signed === undefined) return undefined;
      let [kyber] = await tx<KeyRow[]>`
        DELETE FROM kyber_one_time_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key_id = (
          SELECT key_id FROM kyber_one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId}
          ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING key_id, public_key, signature`;
      if (kyber === undefined) {
        [kyber] = await tx<KeyRow[]>`
          SELECT key_id, public_key, signature FROM kyber_last_resort_prekeys
          WHERE account_id = ${accountId} AND device_id = ${deviceId}`;
      }
      // Nothing has been consumed when this returns: the kyber DELETE found no row.
      if (kyber === undefined) return undefined;
      const [oneTime] = await tx<OneTimeKeyRow[]>`
        DELETE FROM one_time_prekeys
        WHERE account_id = ${accountId} AND device_id = ${deviceId} AND key_id = (
          SELECT key_id FROM one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId}
          ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING key_id, public_key`;
      return {
        deviceId,
        registrationId: Number(device.registration_id),
        signedPreKey: toSignedKey(signed),
        oneTimePreKey: oneTime === undefined ? undefined : toOneTimeKey(oneTime),
        kyberPreKey: toSignedKey(kyber),
      };
    });
  }

  async countPreKeys(accountId: string, deviceId: number): Promise<PreKeyCounts> {
    const [row] = await this.db.guard(
      () => this.db.sql<{ one_time: number; kyber_one_time: number }[]>`
        SELECT
          (SELECT count(*) FROM one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId})::int
            AS one_time,
          (SELECT count(*) FROM kyber_one_time_prekeys WHERE account_id = ${accountId} AND device_id = ${deviceId})::int
            AS kyber_one_time`,
    );
    return { oneTime: row?.one_time ?? 0, kyberOneTime: row?.kyber_one_time ?? 0 };
  }

  async addKeyPackages(accountId: string, deviceId: number, keyPackages: readonly Uint8Array[], lastResort: Uint8Array | undefined): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [device] = await tx`SELECT 1 FROM devices WHERE account_id = ${accountId} AND device_id = ${deviceId} FOR KEY SHARE`;
      if (!device) throw deviceNotFound();
      if (keyPackages.length > 0) {
        await tx`
          INSERT INTO key_packages (account_id, device_id, key_package, last_resort)
          SELECT ${accountId}, ${deviceId}, k, false FROM unnest(${this.db.sql.array([...keyPackages], OID.bytea)}::bytea[]) WITH ORDINALITY AS t (k, ord)
          ORDER BY ord`;
      }
      if (lastResort) {
        await tx`DELETE FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND last_resort`;
        await tx`INSERT INTO key_packages (account_id, device_id, key_package, last_resort) VALUES (${accountId}, ${deviceId}, ${lastResort}, true)`;
      }
    });
  }

  async claimKeyPackages(accountIds: readonly string[]): Promise<ClaimedKeyPackage[]> {
    return this.db.transaction((tx) =>
      claimKeyPackagesAsync(accountIds, {
        devices: async (accountId) => {
          const rows = await tx<{ device_id: number }[]>`SELECT device_id FROM devices WHERE account_id = ${accountId} ORDER BY device_id`;
          return rows.map((row) => row.device_id);
        },
        take: async (accountId, deviceId) => {
          // Concurrent claimers lock different one-use rows (SKIP LOCKED), so none is handed out twice.
          const [taken] = await tx<{ key_package: Uint8Array }[]>`
            DELETE FROM key_packages WHERE id = (
              SELECT id FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND NOT last_resort
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING key_package`;
          if (taken) return taken.key_package;
          const [lastResort] = await tx<{ key_package: Uint8Array }[]>`
            SELECT key_package FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND last_resort LIMIT 1`;
          return lastResort?.key_package;
        },
      }),
    );
  }

  async countKeyPackages(accountId: string, deviceId: number): Promise<number> {
    const [row] = await this.db.guard(
      () => this.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM key_packages WHERE account_id = ${accountId} AND device_id = ${deviceId} AND NOT last_resort`,
    );
    return row?.n ?? 0;
  }
}
