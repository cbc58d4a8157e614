/**
 * The behaviour every Repository implementation must have, run against each real engine by
 * sqlite-repository.test.ts and postgres-repository.test.ts. Each test gets a new, migrated, empty repository.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SEALED_SENDER_KEY_LENGTH } from '@samizdat/protocol';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { QuotaExceededError, RepositoryError } from '../../src/store/repository.js';
import type {
  AccountRecord,
  AttachmentRecord,
  NewDevice,
  NewEnvelope,
  Repository,
  SignedPreKeyRecord,
} from '../../src/store/repository.js';

export interface RepositoryUnderTest extends Repository {
  appliedMigrations(): Promise<number[]>;
  deleteExpiredLinkCodes(now: number): Promise<number>;
}

export interface RepositoryHarness {
  /** A new, migrated, empty repository (its own database file or schema). */
  create(): Promise<RepositoryUnderTest>;
}

const T0 = 1_790_000_000_000;
const DAY = 24 * 3600 * 1000;

export function newAccountId(): string {
  return randomBytes(16).toString('hex');
}

export function fill(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

export function account(overrides: Partial<AccountRecord> = {}): AccountRecord {
  return { id: newAccountId(), usernameHash: undefined, identityKey: fill(65, 5), createdAt: T0, ...overrides };
}

export function device(registrationId = 1234): NewDevice {
  return { registrationId, authHash: `scrypt$test$${registrationId}`, encryptedName: fill(3, 9), createdAt: T0 };
}

export function envelope(accountId: string, deviceId: number, overrides: Partial<NewEnvelope> = {}): NewEnvelope {
  return {
    accountId,
    deviceId,
    sourceAccountId: undefined,
    sourceDeviceId: undefined,
    envelope: new Uint8Array(randomBytes(40)),
    receivedAt: T0,
    expiresAt: T0 + 30 * DAY,
    ...overrides,
  };
}

/** Quotas no test of the contract reaches, but those of quotas. */
const ROOMY = { maxCount: 1_000, maxBytes: 2 ** 40, now: T0 };
const MAX_GROUPS = 1_000;

function attachment(id: string, ownerAccountId: string, expiresAt: number): AttachmentRecord {
  return { id, ownerAccountId, size: 10, createdAt: T0, expiresAt };
}

function signedKey(keyId: number, byte = keyId % 256): SignedPreKeyRecord {
  return { keyId, publicKey: fill(33, byte), signature: fill(64, byte) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function expectCode(promise: Promise<unknown>, code: RepositoryError['code']): Promise<void> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(RepositoryError);
  expect((err as RepositoryError).code).toBe(code);
}

function isPlainBytes(value: Uint8Array): boolean {
  return value instanceof Uint8Array && !Buffer.isBuffer(value);
}

export function describeRepositorySuite(engine: string, harness: RepositoryHarness): void {
  describe(`${engine} repository: shared contract`, () => {
    let repo: RepositoryUnderTest;

    beforeEach(async () => {
      repo = await harness.create();
    });
    afterEach(async () => {
      await repo.close();
    });

    /** An account with `devices` devices (ids 1..n). */
    async function accountWithDevices(devices = 1, usernameHash?: Uint8Array): Promise<string> {
      const record = account({ usernameHash });
      await repo.createAccount(record, device(100));
      for (let i = 2; i <= devices; i++) await repo.addDevice(record.id, device(100 + i), 16);
      return record.id;
    }

    async function withKeys(accountId: string, deviceId: number, oneTime: number, kyberOneTime: number): Promise<void> {
      await repo.keys.setSignedPreKey(accountId, deviceId, signedKey(1, 0xa1));
      await repo.keys.setKyberLastResortPreKey(accountId, deviceId, signedKey(999_999, 0xb2));
      await repo.keys.addOneTimePreKeys(
        accountId,
        deviceId,
        Array.from({ length: oneTime }, (_, i) => ({ keyId: 1000 + i, publicKey: fill(33, i) })),
      );
      await repo.keys.addKyberOneTimePreKeys(
        accountId,
        deviceId,
        Array.from({ length: kyberOneTime }, (_, i) => signedKey(5000 + i, i)),
      );
    }

    describe('migrations', () => {
      it('records every migration and applies nothing the second time', async () => {
        const expected = MIGRATIONS.map((m) => m.version);
        expect(await repo.appliedMigrations()).toEqual(expected);
        await repo.migrate();
        await repo.migrate();
        expect(await repo.appliedMigrations()).toEqual(expected);
      });

      it('names its engine', () => {
        expect(repo.engine).toBe(engine);
      });
    });

    describe('accounts', () => {
      it('keeps one encrypted profile per account, replaced whole, gone with the account', async () => {
        const a = await accountWithDevices(1);
        expect(await repo.getProfile(a)).toBeUndefined();
        const first = { version: fill(32, 1), name: fill(188, 2), about: fill(188, 3), avatar: fill(5000, 4) };
        await repo.setProfile(a, first, T0);
        const stored = await repo.getProfile(a);
        expect(stored).toEqual(first);
        expect(isPlainBytes(stored?.avatar ?? fill(1, 0))).toBe(true);
        await repo.setProfile(a, { version: fill(32, 5), name: fill(188, 6), about: undefined, avatar: undefined }, T0 + 1);
        expect(await repo.getProfile(a)).toEqual({ version: fill(32, 5), name: fill(188, 6), about: undefined, avatar: undefined });
        await expectCode(repo.setProfile('f'.repeat(32), first, T0), 'ACCOUNT_NOT_FOUND');
        await repo.deleteAccount(a);
        expect(await repo.getProfile(a)).toBeUndefined();
      });

      it('creates an account with device 1 and reads both back', async () => {
        const record = account({ usernameHash: fill(32, 7) });
        const first = { registrationId: 4242, authHash: 'scrypt$abc', encryptedName: fill(5, 1), createdAt: T0 + 1 };
        await repo.createAccount(record, first);
        const stored = await repo.getAccount(record.id);
        expect(stored).toEqual(record);
        expect(isPlainBytes(stored?.identityKey ?? fill(1, 0))).toBe(true);
        expect(await repo.listDevices(record.id)).toEqual([
          {
            accountId: record.id,
            deviceId: 1,
            registrationId: 4242,
            authHash: 'scrypt$abc',
            encryptedName: fill(5, 1),
            createdAt: T0 + 1,
            lastSeenAt: T0 + 1,
          },
        ]);
        expect(await repo.getDevice(record.id, 1)).toMatchObject({ deviceId: 1, registrationId: 4242 });
      });

      it('answers undefined for unknown accounts, devices and username hashes', async () => {
        const id = await accountWithDevices();
        expect(await repo.getAccount(newAccountId())).toBeUndefined();
        expect(await repo.getDevice(id, 2)).toBeUndefined();
        expect(await repo.listDevices(newAccountId())).toEqual([]);
        expect(await repo.findAccountByUsernameHash(fill(32, 0xee))).toBeUndefined();
      });

      it('finds an account by its username hash', async () => {
        const hash = fill(32, 0x31);
        const id = await accountWithDevices(1, hash);
        await accountWithDevices(1);
        expect((await repo.findAccountByUsernameHash(hash))?.id).toBe(id);
      });

      it('refuses a second account with a taken username hash and stores nothing of it', async () => {
        const hash = fill(32, 0x42);
        await accountWithDevices(1, hash);
        const second = account({ usernameHash: hash });
        await expectCode(repo.createAccount(second, device()), 'USERNAME_TAKEN');
        expect(await repo.getAccount(second.id)).toBeUndefined();
        expect(await repo.listDevices(second.id)).toEqual([]);
      });

      it("stores and replaces an account's sealed-sender key, read back by id and by username hash", async () => {
        const first = await accountWithDevices();
        expect((await repo.getAccount(first))?.sealedSenderKey).toBeUndefined();
        await repo.setSealedSenderKey(first, fill(SEALED_SENDER_KEY_LENGTH, 0x11));
        await repo.setSealedSenderKey(first, fill(SEALED_SENDER_KEY_LENGTH, 0x22));
        expect((await repo.getAccount(first))?.sealedSenderKey).toEqual(fill(SEALED_SENDER_KEY_LENGTH, 0x22));
        const hash = fill(32, 0xcd);
        await repo.setUsernameHash(first, hash);
        expect((await repo.findAccountByUsernameHash(hash))?.sealedSenderKey).toEqual(fill(SEALED_SENDER_KEY_LENGTH, 0x22));
        await expectCode(repo.setSealedSenderKey(newAccountId(), fill(SEALED_SENDER_KEY_LENGTH, 0x11)), 'ACCOUNT_NOT_FOUND');
      });

      it("stores and replaces an account's access key and whether it takes sealed envelopes from anyone", async () => {
        const first = await accountWithDevices();
        const before = await repo.getAccount(first);
        expect(before?.accessKey).toBeUndefined();
        expect(before?.unrestrictedAccess).toBeUndefined();
        await repo.setUnidentifiedAccess(first, fill(16, 0x11), true);
        expect(await repo.getAccount(first)).toMatchObject({ accessKey: fill(16, 0x11), unrestrictedAccess: true });
        await repo.setUnidentifiedAccess(first, fill(16, 0x22), false);
        const after = await repo.getAccount(first);
        expect(after?.accessKey).toEqual(fill(16, 0x22));
        expect(after?.unrestrictedAccess).toBeUndefined();
        await expectCode(repo.setUnidentifiedAccess(newAccountId(), fill(16, 0x11), false), 'ACCOUNT_NOT_FOUND');
      });

      it('sets, changes and clears a username hash; a freed hash can be taken by another account', async () => {
        const first = await accountWithDevices();
        const second = await accountWithDevices();
        const a = fill(32, 0xaa);
        const b = fill(32, 0xbb);
        await repo.setUsernameHash(first, a);
        await repo.setUsernameHash(first, a); // setting one's own hash again is not a clash
        await expectCode(repo.setUsernameHash(second, a), 'USERNAME_TAKEN');
        await repo.setUsernameHash(first, b);
        expect(await repo.findAccountByUsernameHash(a)).toBeUndefined();
        await repo.setUsernameHash(second, a);
        expect((await repo.findAccountByUsernameHash(a))?.id).toBe(second);
        await repo.setUsernameHash(first, undefined);
        expect((await repo.getAccount(first))?.usernameHash).toBeUndefined();
        expect(await repo.findAccountByUsernameHash(b)).toBeUndefined();
        await expectCode(repo.setUsernameHash(newAccountId(), b), 'ACCOUNT_NOT_FOUND');
      });

      it('lets exactly one of many concurrent claims of a username hash win', async () => {
        const ids = await Promise.all(Array.from({ length: 8 }, () => accountWithDevices()));
        const hash = fill(32, 0x77);
        const results = await Promise.allSettled(ids.map((id) => repo.setUsernameHash(id, hash)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as RepositoryError).code).toBe('USERNAME_TAKEN');
        }
      });

      it('deletes an account with its devices, keys, queues and link codes and returns its attachment ids', async () => {
        const id = await accountWithDevices(2);
        const other = await accountWithDevices(1);
        await withKeys(id, 1, 3, 3);
        await withKeys(id, 2, 3, 3);
        await withKeys(other, 1, 3, 3);
        const fromDeleted = envelope(other, 1, { sourceAccountId: id, sourceDeviceId: 1 });
        await repo.enqueue([envelope(id, 1), envelope(id, 2), fromDeleted], 100);
        await repo.createLinkCode(id, fill(32, 1), T0 + DAY);
        const attachmentIds = ['b'.repeat(64), 'a'.repeat(64)];
        for (const attachmentId of attachmentIds) {
          await repo.createAttachment(attachment(attachmentId, id, T0 + DAY), ROOMY);
        }
        await repo.createAttachment(attachment('c'.repeat(64), other, T0 + DAY), ROOMY);

        expect((await repo.deleteAccount(id)).sort()).toEqual([...attachmentIds].sort());

        expect(await repo.getAccount(id)).toBeUndefined();
        expect(await repo.listDevices(id)).toEqual([]);
        for (const deviceId of [1, 2]) {
          expect(await repo.keys.countPreKeys(id, deviceId)).toEqual({ oneTime: 0, kyberOneTime: 0 });
          expect(await repo.keys.takeBundle(id, deviceId)).toBeUndefined();
          expect(await repo.queueDepth(id, deviceId)).toBe(0);
        }
        expect(await repo.consumeLinkCode(fill(32, 1), T0)).toBeUndefined();
        expect(await repo.getAttachment('a'.repeat(64))).toBeUndefined();
        // The other account, and what it received from the deleted one, stay.
        expect(await repo.keys.countPreKeys(other, 1)).toEqual({ oneTime: 3, kyberOneTime: 3 });
        expect(await repo.queueDepth(other, 1)).toBe(1);
        expect(await repo.getAttachment('c'.repeat(64))).toBeDefined();
        expect(await repo.totalQueued()).toBe(1);
        expect(await repo.deleteAccount(id)).toEqual([]);
      });
    });

    describe('devices', () => {
      it('gives new devices increasing ids and refuses one past the maximum', async () => {
        const id = await accountWithDevices();
        expect(await repo.addDevice(id, device(2), 4)).toBe(2);
        expect(await repo.addDevice(id, device(3), 4)).toBe(3);
        expect(await repo.addDevice(id, device(4), 4)).toBe(4);
        await expectCode(repo.addDevice(id, device(5), 4), 'TOO_MANY_DEVICES');
        expect((await repo.listDevices(id)).map((d) => d.deviceId)).toEqual([1, 2, 3, 4]);
        expect(await repo.removeDevice(id, 2)).toBe(true);
        // max + 1: the gap left by device 2 is not refilled.
        expect(await repo.addDevice(id, device(6), 4)).toBe(5);
        expect((await repo.getDevice(id, 5))?.registrationId).toBe(6);
      });

      it('never hands out an id the account had before, not even the highest one after it was removed', async () => {
        const id = await accountWithDevices();
        expect(await repo.addDevice(id, device(2), 4)).toBe(2);
        expect(await repo.removeDevice(id, 2)).toBe(true);
        // With max + 1 this would be 2 again: the new device would inherit device 2's sessions and group leaves.
        expect(await repo.addDevice(id, device(3), 4)).toBe(3);
        expect(await repo.removeDevice(id, 3)).toBe(true);
        expect(await repo.addDevice(id, device(4), 4)).toBe(4);
        expect((await repo.listDevices(id)).map((d) => d.deviceId)).toEqual([1, 4]);
        // Another account's counter is its own.
        const other = await accountWithDevices();
        expect(await repo.addDevice(other, device(5), 4)).toBe(2);
      });

      it('refuses a device for an unknown account', async () => {
        await expectCode(repo.addDevice(newAccountId(), device(), 4), 'ACCOUNT_NOT_FOUND');
      });

      it('hands distinct ids to concurrent additions', async () => {
        const id = await accountWithDevices();
        const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => repo.addDevice(id, device(i), 16)));
        expect([...ids].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);
      });

      it('records when a device was last seen', async () => {
        const id = await accountWithDevices();
        await repo.touchDevice(id, 1, T0 + 5000);
        expect((await repo.getDevice(id, 1))?.lastSeenAt).toBe(T0 + 5000);
        await repo.touchDevice(id, 9, T0); // unknown device: nothing to do
      });

      it('removes a device with its keys and queue only', async () => {
        const id = await accountWithDevices(2);
        await withKeys(id, 1, 2, 2);
        await withKeys(id, 2, 2, 2);
        await repo.enqueue([envelope(id, 1), envelope(id, 2), envelope(id, 2)], 100);
        expect(await repo.removeDevice(id, 2)).toBe(true);
        expect(await repo.getDevice(id, 2)).toBeUndefined();
        expect(await repo.keys.countPreKeys(id, 2)).toEqual({ oneTime: 0, kyberOneTime: 0 });
        expect(await repo.keys.takeBundle(id, 2)).toBeUndefined();
        expect(await repo.queueDepth(id, 2)).toBe(0);
        expect(await repo.keys.countPreKeys(id, 1)).toEqual({ oneTime: 2, kyberOneTime: 2 });
        expect(await repo.queueDepth(id, 1)).toBe(1);
        expect(await repo.getAccount(id)).toBeDefined();
        expect(await repo.removeDevice(id, 2)).toBe(false);
      });
    });

    describe('key directory', () => {
      it('hands out a bundle consuming one one-time key of each kind', async () => {
        const id = await accountWithDevices();
        await withKeys(id, 1, 2, 1);
        expect(await repo.keys.countPreKeys(id, 1)).toEqual({ oneTime: 2, kyberOneTime: 1 });
        const bundle = await repo.keys.takeBundle(id, 1);
        expect(bundle).toEqual({
          deviceId: 1,
          registrationId: 100,
          signedPreKey: signedKey(1, 0xa1),
          oneTimePreKey: { keyId: 1000, publicKey: fill(33, 0) },
          kyberPreKey: signedKey(5000, 0),
        });
        expect(isPlainBytes(bundle?.signedPreKey.publicKey ?? fill(1, 0))).toBe(true);
        expect(await repo.keys.countPreKeys(id, 1)).toEqual({ oneTime: 1, kyberOneTime: 0 });
        // Kyber one-time keys are gone: the last-resort key is handed out, and never consumed.
        const second = await repo.keys.takeBundle(id, 1);
        expect(second?.oneTimePreKey?.keyId).toBe(1001);
        expect(second?.kyberPreKey).toEqual(signedKey(999_999, 0xb2));
        const third = await repo.keys.takeBundle(id, 1);
        expect(third?.oneTimePreKey).toBeUndefined();
        expect(third?.kyberPreKey.keyId).toBe(999_999);
      });

      it('hands out no bundle without a signed prekey or any ML-KEM prekey, and consumes nothing then', async () => {
        const id = await accountWithDevices(3);
        await repo.keys.addOneTimePreKeys(id, 1, [{ keyId: 1, publicKey: fill(33, 1) }]);
        await repo.keys.addKyberOneTimePreKeys(id, 1, [signedKey(2)]);
        expect(await repo.keys.takeBundle(id, 1)).toBeUndefined(); // no signed prekey
        expect(await repo.keys.countPreKeys(id, 1)).toEqual({ oneTime: 1, kyberOneTime: 1 });

        await repo.keys.setSignedPreKey(id, 2, signedKey(3));
        await repo.keys.addOneTimePreKeys(id, 2, [{ keyId: 1, publicKey: fill(33, 1) }]);
        expect(await repo.keys.takeBundle(id, 2)).toBeUndefined(); // no ML-KEM prekey at all
        expect(await repo.keys.countPreKeys(id, 2)).toEqual({ oneTime: 1, kyberOneTime: 0 });

        await repo.keys.setSignedPreKey(id, 3, signedKey(3));
        await repo.keys.setKyberLastResortPreKey(id, 3, signedKey(4));
        expect(await repo.keys.takeBundle(id, 3)).toMatchObject({ oneTimePreKey: undefined, kyberPreKey: { keyId: 4 } });
        expect(await repo.keys.takeBundle(id, 7)).toBeUndefined();
        expect(await repo.keys.takeBundle(newAccountId(), 1)).toBeUndefined();
      });

      it('replaces the signed and last-resort keys and one-time keys with the same id', async () => {
        const id = await accountWithDevices();
        await repo.keys.setSignedPreKey(id, 1, signedKey(1, 1));
        await repo.keys.setSignedPreKey(id, 1, signedKey(2, 2));
        await repo.keys.setKyberLastResortPreKey(id, 1, signedKey(3, 3));
        await repo.keys.setKyberLastResortPreKey(id, 1, signedKey(4, 4));
        await repo.keys.addOneTimePreKeys(id, 1, [{ keyId: 7, publicKey: fill(33, 1) }]);
        await repo.keys.addOneTimePreKeys(id, 1, [
          { keyId: 7, publicKey: fill(33, 2) },
          { keyId: 7, publicKey: fill(33, 3) },
        ]);
        await repo.keys.addKyberOneTimePreKeys(id, 1, [signedKey(8, 1)]);
        await repo.keys.addKyberOneTimePreKeys(id, 1, [signedKey(8, 2)]);
        await repo.keys.addOneTimePreKeys(id, 1, []);
        expect(await repo.keys.countPreKeys(id, 1)).toEqual({ oneTime: 1, kyberOneTime: 1 });
        expect(await repo.keys.takeBundle(id, 1)).toMatchObject({
          signedPreKey: signedKey(2, 2),
          oneTimePreKey: { keyId: 7, publicKey: fill(33, 3) },
          kyberPreKey: signedKey(8, 2),
        });
        expect((await repo.keys.takeBundle(id, 1))?.kyberPreKey).toEqual(signedKey(4, 4));
      });

      it('keeps key ids up to 2^32 - 1', async () => {
        const id = await accountWithDevices();
        await repo.keys.setSignedPreKey(id, 1, signedKey(0xffffffff));
        await repo.keys.setKyberLastResortPreKey(id, 1, signedKey(0xfffffffe));
        await repo.keys.addOneTimePreKeys(id, 1, [{ keyId: 0xfffffffd, publicKey: fill(33, 1) }]);
        expect(await repo.keys.takeBundle(id, 1)).toMatchObject({
          signedPreKey: { keyId: 0xffffffff },
          kyberPreKey: { keyId: 0xfffffffe },
          oneTimePreKey: { keyId: 0xfffffffd },
        });
      });

      it('refuses keys for a device that does not exist', async () => {
        const id = await accountWithDevices();
        await expectCode(repo.keys.setSignedPreKey(id, 2, signedKey(1)), 'DEVICE_NOT_FOUND');
        await expectCode(repo.keys.setKyberLastResortPreKey(newAccountId(), 1, signedKey(1)), 'DEVICE_NOT_FOUND');
        await expectCode(repo.keys.addOneTimePreKeys(id, 2, [{ keyId: 1, publicKey: fill(33, 1) }]), 'DEVICE_NOT_FOUND');
        await expectCode(repo.keys.addKyberOneTimePreKeys(id, 2, [signedKey(1)]), 'DEVICE_NOT_FOUND');
      });

      it('hands each one-time key to exactly one of 50 concurrent requests', async () => {
        // Three rounds on three devices: a race that loses keys only sometimes still shows up.
        const id = await accountWithDevices(3);
        for (const deviceId of [1, 2, 3]) {
          await withKeys(id, deviceId, 20, 20);
          const bundles = await Promise.all(Array.from({ length: 50 }, () => repo.keys.takeBundle(id, deviceId)));
          expect(bundles.every((b) => b !== undefined)).toBe(true);
          const oneTimeIds = bundles.flatMap((b) => (b?.oneTimePreKey === undefined ? [] : [b.oneTimePreKey.keyId]));
          expect(oneTimeIds).toHaveLength(20);
          expect(new Set(oneTimeIds).size).toBe(20);
          const kyberIds = bundles.map((b) => b?.kyberPreKey.keyId);
          const kyberOneTime = kyberIds.filter((k) => k !== 999_999);
          expect(kyberOneTime).toHaveLength(20);
          expect(new Set(kyberOneTime).size).toBe(20);
          expect(kyberIds.filter((k) => k === 999_999)).toHaveLength(30);
          expect(await repo.keys.countPreKeys(id, deviceId)).toEqual({ oneTime: 0, kyberOneTime: 0 });
        }
      });
    });

    describe('queues', () => {
      it('stores envelopes with ids increasing in queue order and returns them in that order', async () => {
        const alice = await accountWithDevices(2);
        const bob = await accountWithDevices(1);
        const sent = [
          envelope(bob, 1, { sourceAccountId: alice, sourceDeviceId: 2, receivedAt: T0 + 1 }),
          envelope(alice, 1, { receivedAt: T0 + 2 }),
          envelope(bob, 1, { receivedAt: T0 + 3 }),
        ];
        const ids = await repo.enqueue(sent, 100);
        expect(ids).toHaveLength(3);
        expect(ids.every((id) => typeof id === 'bigint')).toBe(true);
        expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
        const more = await repo.enqueue([envelope(bob, 1)], 100);
        expect(more[0]! > ids[2]!).toBe(true);

        const queue = await repo.fetchQueue(bob, 1, 0n, 10, T0);
        expect(queue.map((q) => q.id)).toEqual([ids[0], ids[2], more[0]]);
        expect(queue[0]).toEqual({
          id: ids[0],
          sourceAccountId: alice,
          sourceDeviceId: 2,
          envelope: sent[0]!.envelope,
          receivedAt: T0 + 1,
        });
        expect(queue[1]).toMatchObject({ sourceAccountId: undefined, sourceDeviceId: undefined, receivedAt: T0 + 3 });
        expect(isPlainBytes(queue[0]!.envelope)).toBe(true);
        expect(await repo.queueDepth(bob, 1)).toBe(3);
        expect(await repo.queueDepth(alice, 1)).toBe(1);
        expect(await repo.totalQueued()).toBe(4);
        expect(await repo.enqueue([], 100)).toEqual([]);
      });

      it('pages through a queue with afterId and limit', async () => {
        const id = await accountWithDevices();
        const ids = await repo.enqueue(Array.from({ length: 7 }, () => envelope(id, 1)), 100);
        const first = await repo.fetchQueue(id, 1, 0n, 3, T0);
        expect(first.map((q) => q.id)).toEqual(ids.slice(0, 3));
        const second = await repo.fetchQueue(id, 1, first[2]!.id, 3, T0);
        expect(second.map((q) => q.id)).toEqual(ids.slice(3, 6));
        const last = await repo.fetchQueue(id, 1, second[2]!.id, 3, T0);
        expect(last.map((q) => q.id)).toEqual(ids.slice(6));
        expect(await repo.fetchQueue(id, 1, ids[6]!, 3, T0)).toEqual([]);
        // Cursors a client may send that match nothing.
        expect(await repo.fetchQueue(id, 1, 9_999_999_999_999_999_999n, 3, T0)).toEqual([]);
        expect((await repo.fetchQueue(id, 1, -5n, 1, T0)).map((q) => q.id)).toEqual(ids.slice(0, 1));
      });

      it("acks only the caller device's envelopes and reports only what it deleted", async () => {
        const id = await accountWithDevices(2);
        const [a1, a2, b1] = await repo.enqueue([envelope(id, 1), envelope(id, 1), envelope(id, 2)], 100);
        expect(await repo.ack(id, 1, [b1!])).toEqual([]); // device 2's envelope
        expect(await repo.ack(newAccountId(), 2, [b1!])).toEqual([]);
        expect(await repo.queueDepth(id, 2)).toBe(1);
        expect(await repo.ack(id, 1, [a2!, 123_456_789n, a2!, a1!])).toEqual([a2, a1]);
        expect(await repo.ack(id, 1, [a1!, a2!])).toEqual([]); // duplicate ack
        expect(await repo.ack(id, 1, [])).toEqual([]);
        expect(await repo.ack(id, 1, [9_999_999_999_999_999_999n, 0n, -1n])).toEqual([]);
        expect(await repo.fetchQueue(id, 1, 0n, 10, T0)).toEqual([]);
        expect((await repo.fetchQueue(id, 2, 0n, 10, T0)).map((q) => q.id)).toEqual([b1]);
      });

      it('never reuses the id of an acked envelope', async () => {
        const id = await accountWithDevices();
        const [first] = await repo.enqueue([envelope(id, 1)], 100);
        expect(await repo.ack(id, 1, [first!])).toEqual([first]);
        const [second] = await repo.enqueue([envelope(id, 1)], 100);
        expect(second! > first!).toBe(true);
      });

      it('refuses a whole call with QUEUE_FULL when one target queue would overflow', async () => {
        const id = await accountWithDevices(2);
        await repo.enqueue([envelope(id, 1), envelope(id, 1)], 3);
        await expectCode(repo.enqueue([envelope(id, 2), envelope(id, 1), envelope(id, 1)], 3), 'QUEUE_FULL');
        expect(await repo.queueDepth(id, 1)).toBe(2);
        expect(await repo.queueDepth(id, 2)).toBe(0);
        await repo.enqueue([envelope(id, 2), envelope(id, 1)], 3);
        expect(await repo.queueDepth(id, 1)).toBe(3);
        await expectCode(repo.enqueue([envelope(id, 1)], 3), 'QUEUE_FULL');
        await expectCode(repo.enqueue([envelope(id, 2), envelope(id, 2), envelope(id, 2)], 3), 'QUEUE_FULL');
      });

      it('fails only the overflowing call among concurrent ones', async () => {
        const id = await accountWithDevices(2);
        const calls = [
          repo.enqueue([envelope(id, 1)], 2),
          repo.enqueue([envelope(id, 2), envelope(id, 1), envelope(id, 1)], 2),
          repo.enqueue([envelope(id, 2)], 2),
        ];
        const results = await Promise.allSettled(calls);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(((results[1] as PromiseRejectedResult).reason as RepositoryError).code).toBe('QUEUE_FULL');
        expect(await repo.queueDepth(id, 1)).toBe(1);
        expect(await repo.queueDepth(id, 2)).toBe(1);
      });

      it('keeps the depth limit exact under concurrent sends to one device', async () => {
        const id = await accountWithDevices();
        const results = await Promise.allSettled(Array.from({ length: 20 }, () => repo.enqueue([envelope(id, 1)], 10)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
        expect(await repo.queueDepth(id, 1)).toBe(10);
      });

      it('refuses a whole call when a target device does not exist', async () => {
        const id = await accountWithDevices();
        await expectCode(repo.enqueue([envelope(id, 1), envelope(id, 2)], 10), 'DEVICE_NOT_FOUND');
        await expectCode(repo.enqueue([envelope(newAccountId(), 1)], 10), 'DEVICE_NOT_FOUND');
        expect(await repo.totalQueued()).toBe(0);
      });

      it('stores 200 concurrent calls, each with its own id, in call order per queue', async () => {
        const id = await accountWithDevices();
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => repo.enqueue([envelope(id, 1, { receivedAt: T0 + i })], 1000)),
        );
        const ids = results.map((r) => r[0]!);
        expect(new Set(ids).size).toBe(200);
        expect(await repo.queueDepth(id, 1)).toBe(200);
        const queue = await repo.fetchQueue(id, 1, 0n, 500, T0);
        expect(queue.map((q) => q.id)).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
      });

      it('never lets a reader paging with afterId miss an envelope of concurrent sends', async () => {
        // A queue's ids must increase in commit order: a later commit with a smaller id would be skipped here.
        const id = await accountWithDevices();
        const seen: bigint[] = [];
        let cursor = 0n;
        const readPage = async (): Promise<void> => {
          const page = await repo.fetchQueue(id, 1, cursor, 1000, T0);
          for (const q of page) seen.push(q.id);
          cursor = page.at(-1)?.id ?? cursor;
        };
        let sending = true;
        const reader = (async () => {
          while (sending) {
            await readPage();
            // Like a real client, wait between polls (also lets SQLite's group commit run: its reads never yield).
            await new Promise((resolve) => setImmediate(resolve));
          }
          await readPage();
        })();
        const sent = await Promise.all(Array.from({ length: 200 }, () => repo.enqueue([envelope(id, 1)], 1000)));
        sending = false;
        await reader;
        const byValue = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
        expect(seen.sort(byValue)).toEqual(sent.flat().sort(byValue));
      });

      it('hides expired envelopes and deletes only those', async () => {
        const id = await accountWithDevices();
        const [old, , fresh] = await repo.enqueue(
          [
            envelope(id, 1, { expiresAt: T0 + 10 }),
            envelope(id, 1, { expiresAt: T0 + 20 }),
            envelope(id, 1, { expiresAt: T0 + 30 }),
          ],
          100,
        );
        expect((await repo.fetchQueue(id, 1, 0n, 10, T0 + 20)).map((q) => q.id)).toEqual([fresh]);
        expect((await repo.fetchQueue(id, 1, 0n, 10, T0 + 9)).map((q) => q.id)[0]).toBe(old);
        expect(await repo.deleteExpiredEnvelopes(T0 + 20)).toBe(2);
        expect(await repo.totalQueued()).toBe(1);
        expect(await repo.deleteExpiredEnvelopes(T0 + 20)).toBe(0);
        expect((await repo.fetchQueue(id, 1, 0n, 10, T0)).map((q) => q.id)).toEqual([fresh]);
      });

      it('sweeps more expired envelopes than fit in one chunk', async () => {
        const id = await accountWithDevices();
        const batch = Array.from({ length: 500 }, () => envelope(id, 1, { expiresAt: T0 }));
        for (let i = 0; i < 12; i++) await repo.enqueue(batch, 100_000);
        await repo.enqueue([envelope(id, 1)], 100_000);
        expect(await repo.deleteExpiredEnvelopes(T0)).toBe(6000);
        expect(await repo.totalQueued()).toBe(1);
      });
    });

    describe('attachments', () => {
      it('stores, reads and deletes attachment records', async () => {
        const owner = await accountWithDevices();
        const record = { id: 'd'.repeat(64), ownerAccountId: owner, size: 104_857_600, createdAt: T0, expiresAt: T0 + DAY };
        await repo.createAttachment(record, ROOMY);
        expect(await repo.getAttachment(record.id)).toEqual(record);
        await repo.deleteAttachment(record.id);
        expect(await repo.getAttachment(record.id)).toBeUndefined();
        await repo.deleteAttachment(record.id);
      });

      it('deletes expired attachments and returns their ids', async () => {
        const owner = await accountWithDevices();
        for (const [i, expiresAt] of [T0 + 1, T0 + 2, T0 + 3].entries()) {
          await repo.createAttachment(attachment(String(i).repeat(64), owner, expiresAt), ROOMY);
        }
        expect((await repo.deleteExpiredAttachments(T0 + 2)).sort()).toEqual(['0'.repeat(64), '1'.repeat(64)]);
        expect(await repo.getAttachment('2'.repeat(64))).toBeDefined();
        expect(await repo.deleteExpiredAttachments(T0 + 2)).toEqual([]);
      });

      it('refuses an attachment of an unknown account', async () => {
        await expectCode(
          repo.createAttachment(attachment('e'.repeat(64), newAccountId(), T0 + 1), ROOMY),
          'ACCOUNT_NOT_FOUND',
        );
      });

      it("keeps an account within its quota of live attachments and bytes; expired and deleted ones free it", async () => {
        const owner = await accountWithDevices();
        const other = await accountWithDevices();
        const quota = { maxCount: 3, maxBytes: 25, now: T0 };
        const id = (i: number) => i.toString(16).padStart(64, '0');
        await repo.createAttachment(attachment(id(1), owner, T0 + 10), quota);
        await repo.createAttachment(attachment(id(2), owner, T0 + DAY), quota);
        expect(await repo.attachmentUsage(owner, T0)).toEqual({ count: 2, bytes: 20 });
        // 10 bytes more would make 30 > 25: refused, nothing stored; the other account's quota is its own.
        const err = await rejection(repo.createAttachment(attachment(id(3), owner, T0 + DAY), quota));
        expect(err).toBeInstanceOf(QuotaExceededError);
        expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'attachmentBytes', limit: 25 });
        expect(await repo.getAttachment(id(3))).toBeUndefined();
        await repo.createAttachment(attachment(id(4), other, T0 + DAY), quota);
        await repo.createAttachment({ ...attachment(id(5), owner, T0 + DAY), size: 5 }, quota);
        await expect(repo.createAttachment({ ...attachment(id(6), owner, T0 + DAY), size: 0 }, quota)).rejects.toMatchObject({ quota: 'attachments', limit: 3 });
        // Once the first has expired it counts no more, swept or not.
        expect(await repo.attachmentUsage(owner, T0 + 10)).toEqual({ count: 2, bytes: 15 });
        await repo.createAttachment(attachment(id(7), owner, T0 + DAY), { ...quota, now: T0 + 10 });
        expect(await repo.deleteExpiredAttachments(T0 + 10)).toEqual([id(1)]);
        await repo.deleteAttachment(id(7));
        expect(await repo.attachmentUsage(owner, T0 + 10)).toEqual({ count: 2, bytes: 15 });
        await repo.createAttachment(attachment(id(8), owner, T0 + DAY), { ...quota, now: T0 + 10 });
      });

      it('lets no concurrent burst of uploads past the quota', async () => {
        const owner = await accountWithDevices();
        const quota = { maxCount: 5, maxBytes: 2 ** 40, now: T0 };
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => repo.createAttachment(attachment(i.toString(16).padStart(64, 'f'), owner, T0 + DAY), quota)),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as RepositoryError).code).toBe('QUOTA_EXCEEDED');
        expect(await repo.attachmentUsage(owner, T0)).toEqual({ count: 5, bytes: 50 });
      });
    });

    describe('link codes', () => {
      it('accepts a link code once', async () => {
        const id = await accountWithDevices();
        const code = fill(32, 0x11);
        await repo.createLinkCode(id, code, T0 + 1000);
        expect(await repo.consumeLinkCode(code, T0)).toBe(id);
        expect(await repo.consumeLinkCode(code, T0)).toBeUndefined();
        expect(await repo.consumeLinkCode(fill(32, 0x12), T0)).toBeUndefined();
      });

      it('refuses an expired link code and uses it up', async () => {
        const id = await accountWithDevices();
        const code = fill(32, 0x21);
        await repo.createLinkCode(id, code, T0 + 1000);
        expect(await repo.consumeLinkCode(code, T0 + 1000)).toBeUndefined();
        expect(await repo.consumeLinkCode(code, T0)).toBeUndefined();
      });

      it('gives a link code to exactly one of concurrent consumers', async () => {
        const id = await accountWithDevices();
        const code = fill(32, 0x31);
        await repo.createLinkCode(id, code, T0 + 1000);
        const results = await Promise.all(Array.from({ length: 10 }, () => repo.consumeLinkCode(code, T0)));
        expect(results.filter((r) => r === id)).toHaveLength(1);
      });

      it('sweeps expired link codes', async () => {
        const id = await accountWithDevices();
        await repo.createLinkCode(id, fill(32, 1), T0 + 10);
        await repo.createLinkCode(id, fill(32, 2), T0 + 20);
        expect(await repo.deleteExpiredLinkCodes(T0 + 10)).toBe(1);
        expect(await repo.consumeLinkCode(fill(32, 2), T0)).toBe(id);
      });

      it('refuses a link code for an unknown account', async () => {
        await expectCode(repo.createLinkCode(newAccountId(), fill(32, 3), T0 + 10), 'ACCOUNT_NOT_FOUND');
      });
    });

    describe('groups', () => {
      const groupId = () => randomBytes(32).toString('hex');
      const commitOf = (id: string, epoch: number, sender: { accountId: string; deviceId: number }, members: { accountId: string; deviceId: number }[], welcome = true) => ({
        groupId: id,
        epoch,
        sender,
        groupInfo: fill(50, epoch + 1),
        sendKeyHash: fill(32, 0xe0 + epoch + 1),
        members,
        commit: fill(20, 0xc0 + epoch),
        welcome: welcome ? fill(30, 0xd0 + epoch) : undefined,
        maxQueueDepth: 100,
        receivedAt: T0,
        expiresAt: T0 + DAY,
      });

      it('creates a group and refuses a second one with the same id', async () => {
        const a = await accountWithDevices();
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS);
        const group = await repo.getGroup(id);
        expect(group).toEqual({ groupId: id, epoch: 0, groupInfo: fill(10, 1), members: [{ accountId: a, deviceId: 1 }] });
        await expectCode(repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS), 'GROUP_EXISTS');
        expect(await repo.getGroup(groupId())).toBeUndefined();
        expect(await repo.listGroups(a)).toEqual([{ groupId: id, epoch: 0 }]);
      });

      it('applies a commit of the current epoch: commit to old members, Welcome to new ones, atomically', async () => {
        const a = await accountWithDevices(2);
        const b = await accountWithDevices(2);
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS);
        const members = [
          { accountId: a, deviceId: 1 },
          { accountId: a, deviceId: 2 },
          { accountId: b, deviceId: 1 },
          { accountId: b, deviceId: 2 },
        ];
        const stored = await repo.commitGroup(commitOf(id, 0, { accountId: a, deviceId: 1 }, members));
        // Device a.1 was the only member before and is the sender: no commit copies; three Welcomes.
        expect(stored.map((s) => `${s.accountId === a ? 'a' : 'b'}.${s.deviceId}:${s.envelope[0]}`).sort()).toEqual(['a.2:208', 'b.1:208', 'b.2:208']);
        const group = await repo.getGroup(id);
        expect(group?.epoch).toBe(1);
        expect(group?.groupInfo).toEqual(fill(50, 1));
        expect(group?.members).toHaveLength(4);
        // A second commit made in epoch 0 loses: STALE_EPOCH, and nothing of it is stored.
        const err = await rejection(repo.commitGroup(commitOf(id, 0, { accountId: b, deviceId: 1 }, members)));
        expect((err as RepositoryError).code).toBe('STALE_EPOCH');
        expect((err as { epoch: number }).epoch).toBe(1);
        expect((await repo.fetchQueue(a, 2, 0n, 100, T0)).map((e) => e.envelope[0])).toEqual([0xd0]);
        // Removing b.2: the commit reaches every previous member but the sender, b.2 included (it learns it is out).
        const removal = await repo.commitGroup(commitOf(id, 1, { accountId: b, deviceId: 1 }, members.slice(0, 3), false));
        expect(removal.map((s) => `${s.accountId === a ? 'a' : 'b'}.${s.deviceId}`).sort()).toEqual(['a.1', 'a.2', 'b.2']);
        expect((await repo.getGroup(id))?.members).toHaveLength(3);
        expect(await repo.listGroups(b)).toEqual([{ groupId: id, epoch: 2 }]);
        // b.2 got the Welcome from a.1, then b.1's commit that removed it.
        expect((await repo.fetchQueue(b, 2, 0n, 100, T0)).map((e) => `${e.sourceAccountId === a ? 'a' : 'b'}.${e.sourceDeviceId}`)).toEqual(['a.1', 'b.1']);
      });

      it('exactly one of concurrent commits for the same epoch wins', async () => {
        const a = await accountWithDevices(2);
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS);
        await repo.commitGroup(commitOf(id, 0, { accountId: a, deviceId: 1 }, [{ accountId: a, deviceId: 1 }, { accountId: a, deviceId: 2 }]));
        const both = [{ accountId: a, deviceId: 1 }, { accountId: a, deviceId: 2 }];
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) => repo.commitGroup(commitOf(id, 1, { accountId: a, deviceId: 1 + (i % 2) }, both, false))),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'STALE_EPOCH')).toBe(true);
        expect((await repo.getGroup(id))?.epoch).toBe(2);
      });

      it('keeps the send key hash of the current epoch only, and a sealed fan-out reaches every member device with no source', async () => {
        const a = await accountWithDevices(2);
        const b = await accountWithDevices(1);
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), fill(32, 0xe0), T0, MAX_GROUPS);
        expect(await repo.getGroupSendKeyHash(id)).toEqual(fill(32, 0xe0));
        const members = [
          { accountId: a, deviceId: 1 },
          { accountId: a, deviceId: 2 },
          { accountId: b, deviceId: 1 },
        ];
        await repo.commitGroup(commitOf(id, 0, { accountId: a, deviceId: 1 }, members));
        expect(await repo.getGroupSendKeyHash(id)).toEqual(fill(32, 0xe1));
        // A commit that registers none leaves none: the old epoch's key must not keep working.
        await repo.commitGroup({ ...commitOf(id, 1, { accountId: b, deviceId: 1 }, members, false), sendKeyHash: undefined });
        expect(await repo.getGroupSendKeyHash(id)).toBeUndefined();
        expect(await repo.getGroupSendKeyHash(groupId())).toBeUndefined();
        const stored = await repo.fanOutGroup(id, undefined, fill(5, 7), T0, T0 + DAY, 100);
        expect(stored.map((s) => [s.accountId, s.deviceId]).sort()).toEqual([[a, 1], [a, 2], [b, 1]].sort());
        for (const [account, device] of [[a, 1], [a, 2], [b, 1]] as const) {
          const queued = (await repo.fetchQueue(account, device, 0n, 100, T0)).filter((e) => e.envelope.length === 5);
          expect(queued.map((e) => [e.sourceAccountId, e.sourceDeviceId])).toEqual([[undefined, undefined]]);
        }
      });

      it('fans an application message out to every member device but the sender, skipping removed devices', async () => {
        const a = await accountWithDevices(2);
        const b = await accountWithDevices(1);
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS);
        const members = [
          { accountId: a, deviceId: 1 },
          { accountId: a, deviceId: 2 },
          { accountId: b, deviceId: 1 },
        ];
        await repo.commitGroup(commitOf(id, 0, { accountId: a, deviceId: 1 }, members));
        await repo.removeDevice(a, 2);
        const stored = await repo.fanOutGroup(id, { accountId: b, deviceId: 1 }, fill(5, 7), T0, T0 + DAY, 100);
        expect(stored.map((s) => [s.accountId, s.deviceId])).toEqual([[a, 1]]);
        expect((await repo.fetchQueue(a, 1, 0n, 100, T0)).map((e) => [...e.envelope])).toEqual([[7, 7, 7, 7, 7]]);
        await expectCode(repo.fanOutGroup(groupId(), { accountId: b, deviceId: 1 }, fill(5, 7), T0, T0 + DAY, 100), 'GROUP_NOT_FOUND');
        // Deleting the account takes its devices out of the group.
        await repo.deleteAccount(b);
        expect((await repo.getGroup(id))?.members).toEqual([{ accountId: a, deviceId: 1 }]);
      });

      it('stores group envelopes only within the queue-depth limit: a full queue misses them, the others get them', async () => {
        const a = await accountWithDevices(1);
        const b = await accountWithDevices(2);
        const id = groupId();
        await repo.createGroup(id, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, MAX_GROUPS);
        const members = [
          { accountId: a, deviceId: 1 },
          { accountId: b, deviceId: 1 },
          { accountId: b, deviceId: 2 },
        ];
        // b.2's queue already holds 3; with a limit of 4 it takes one envelope more (the Welcome), then nothing.
        await repo.enqueue([envelope(b, 2), envelope(b, 2), envelope(b, 2)], 100);
        const welcomed = await repo.commitGroup({ ...commitOf(id, 0, { accountId: a, deviceId: 1 }, members), maxQueueDepth: 4 });
        expect(welcomed.map((s) => s.deviceId).sort()).toEqual([1, 2]);
        const sent = await repo.fanOutGroup(id, { accountId: a, deviceId: 1 }, fill(5, 7), T0, T0 + DAY, 4);
        expect(sent.map((s) => [s.accountId, s.deviceId])).toEqual([[b, 1]]);
        const committed = await repo.commitGroup({ ...commitOf(id, 1, { accountId: a, deviceId: 1 }, members, false), maxQueueDepth: 4 });
        expect(committed.map((s) => [s.accountId, s.deviceId])).toEqual([[b, 1]]);
        expect(await repo.fetchQueue(b, 2, 0n, 100, T0)).toHaveLength(4);
        expect(await repo.fetchQueue(b, 1, 0n, 100, T0)).toHaveLength(3);
        // The limit counts within one fan-out too: b.1 (3 queued) takes one of two.
        expect(await repo.fanOutGroup(id, { accountId: a, deviceId: 1 }, fill(5, 8), T0, T0 + DAY, 4)).toHaveLength(1);
        expect(await repo.fanOutGroup(id, { accountId: a, deviceId: 1 }, fill(5, 9), T0, T0 + DAY, 4)).toHaveLength(0);
      });

      it('hands out each one-use key package once, then the last-resort one', async () => {
        const a = await accountWithDevices(2);
        await repo.keys.addKeyPackages(a, 1, [fill(8, 1), fill(8, 2)], fill(8, 9));
        await repo.keys.addKeyPackages(a, 2, [], fill(8, 8));
        expect(await repo.keys.countKeyPackages(a, 1)).toBe(2);
        const first = await repo.keys.claimKeyPackages([a]);
        expect(first.map((k) => [k.deviceId, k.keyPackage[0]])).toEqual([[1, 1], [2, 8]]);
        const concurrent = await Promise.all([repo.keys.claimKeyPackages([a]), repo.keys.claimKeyPackages([a])]);
        const fromDevice1 = concurrent.flatMap((c) => c.filter((k) => k.deviceId === 1).map((k) => k.keyPackage[0])).sort();
        expect(fromDevice1).toEqual([2, 9]); // One got the last one-use package, the other the last-resort one.
        expect(await repo.keys.countKeyPackages(a, 1)).toBe(0);
        expect((await repo.keys.claimKeyPackages([a, a])).map((k) => k.keyPackage[0])).toEqual([9, 8]);
        await repo.keys.addKeyPackages(a, 1, [], fill(8, 10)); // A new last-resort package replaces the old.
        expect((await repo.keys.claimKeyPackages([a]))[0]?.keyPackage[0]).toBe(10);
        await expectCode(repo.keys.addKeyPackages(a, 7, [fill(8, 1)], undefined), 'DEVICE_NOT_FOUND');
        expect(await repo.keys.claimKeyPackages([newAccountId()])).toEqual([]);
      });

      it('never hands one key package to two concurrent claims, and gives every claim one for each device', async () => {
        const accounts = [await accountWithDevices(2), await accountWithDevices(2), await accountWithDevices(1)];
        const owner = new Map<string, string>(); // package (hex) -> `account.device` it was published for
        const oneUse = new Set<string>();
        for (const a of accounts) {
          for (const { deviceId } of await repo.listDevices(a)) {
            const packages = Array.from({ length: 3 }, () => new Uint8Array(randomBytes(16)));
            const lastResort = new Uint8Array(randomBytes(16));
            for (const p of packages) oneUse.add(Buffer.from(p).toString('hex'));
            for (const p of [...packages, lastResort]) owner.set(Buffer.from(p).toString('hex'), `${a}.${deviceId}`);
            await repo.keys.addKeyPackages(a, deviceId, packages, lastResort);
          }
        }
        const claims = await Promise.all(Array.from({ length: 12 }, () => repo.keys.claimKeyPackages(accounts)));
        const handedOneUse: string[] = [];
        for (const claim of claims) {
          // Never a half set: one package for every device, accounts in the order asked, devices in id order.
          expect(claim.map((k) => `${k.accountId}.${k.deviceId}`)).toEqual([`${accounts[0]}.1`, `${accounts[0]}.2`, `${accounts[1]}.1`, `${accounts[1]}.2`, `${accounts[2]}.1`]);
          for (const k of claim) {
            const hex = Buffer.from(k.keyPackage).toString('hex');
            expect(owner.get(hex)).toBe(`${k.accountId}.${k.deviceId}`);
            if (oneUse.has(hex)) handedOneUse.push(hex);
          }
        }
        expect(new Set(handedOneUse).size).toBe(handedOneUse.length);
        let left = 0;
        for (const a of accounts) for (const { deviceId } of await repo.listDevices(a)) left += await repo.keys.countKeyPackages(a, deviceId);
        expect(handedOneUse.length + left).toBe(oneUse.size);
      });

      it('counts the groups an account created while it is in them, and refuses one past the quota', async () => {
        const a = await accountWithDevices(2);
        const b = await accountWithDevices();
        const [first, second, third] = [groupId(), groupId(), groupId()];
        await repo.createGroup(first, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, 2);
        await repo.createGroup(second, 0, { accountId: a, deviceId: 2 }, fill(10, 1), undefined, T0, 2);
        await repo.createGroup(groupId(), 0, { accountId: b, deviceId: 1 }, fill(10, 1), undefined, T0, 2);
        expect(await repo.countCreatedGroups(a)).toBe(2);
        const err = await rejection(repo.createGroup(third, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, 2));
        expect(err).toBeInstanceOf(QuotaExceededError);
        expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'groups', limit: 2 });
        expect(await repo.getGroup(third)).toBeUndefined();
        // A group the account created and has left (b goes on without it) counts no more.
        await repo.commitGroup(commitOf(first, 0, { accountId: a, deviceId: 1 }, [{ accountId: b, deviceId: 1 }]));
        expect(await repo.countCreatedGroups(a)).toBe(1);
        await repo.createGroup(third, 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, 2);
        expect(await repo.countCreatedGroups(a)).toBe(2);
      });

      it('lets no concurrent burst of group creations past the quota', async () => {
        const a = await accountWithDevices();
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, () => repo.createGroup(groupId(), 0, { accountId: a, deviceId: 1 }, fill(10, 1), undefined, T0, 3)),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as RepositoryError).code).toBe('QUOTA_EXCEEDED');
        expect(await repo.countCreatedGroups(a)).toBe(3);
        expect(await repo.listGroups(a)).toHaveLength(3);
      });
    });
  });
}
