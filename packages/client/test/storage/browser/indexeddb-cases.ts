/**
 * IndexedDB-specific cases, beside the shared conformance cases: schema versions, connections held by other tabs,
 * and requests IndexedDB itself refuses. Framework-free like store-conformance-cases.ts; they run in the page.
 */
import { ClientErrorCode } from '../../../src/errors.js';
import { IndexedDbClientStore } from '../../../src/storage/indexeddb/index.js';
import { assert, assertEqual, assertRejects } from '../tiny-assert.js';

export interface IndexedDbCase {
  readonly name: string;
  run(factory: IDBFactory, dbName: string): Promise<void>;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openRaw(factory: IDBFactory, name: string, version: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = factory.open(name, version);
    r.onupgradeneeded = () => upgrade?.(r.result);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function deleteDatabase(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = factory.deleteDatabase(name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
  });
}

export const INDEXEDDB_CASES: readonly IndexedDbCase[] = [
  {
    name: 'creates every object store and index of the schema',
    async run(factory, dbName) {
      const store = await IndexedDbClientStore.open(dbName, factory);
      await store.close();
      const db = await openRaw(factory, dbName, 3);
      try {
        assertEqual(db.version, 3, 'schema version');
        assertEqual(
          Array.from(db.objectStoreNames).sort(),
          ['account', 'contacts', 'device_lists', 'groups', 'identities', 'key_package_bundles', 'kv', 'kyber_base_keys', 'kyber_prekeys', 'messages', 'one_time_prekeys', 'sessions', 'signed_prekeys'],
          'object stores',
        );
        const tx = db.transaction(['messages', 'contacts'], 'readonly');
        assertEqual(Array.from(tx.objectStore('messages').indexNames).sort(), ['by_expiry', 'by_status', 'by_time', 'unread'], 'message indexes');
        assertEqual(Array.from(tx.objectStore('contacts').indexNames), ['by_username'], 'contact indexes');
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'moves the device lists of a schema-2 database out of the key-value store, typed',
    async run(factory, dbName) {
      // The part of schema 2 that the step to 3 reads: the key-value store.
      const old = await openRaw(factory, dbName, 2, (db) => db.createObjectStore('kv', { keyPath: 'key' }));
      const kv = old.transaction('kv', 'readwrite').objectStore('kv');
      await request(kv.put({ key: `devices.${'a'.repeat(32)}`, value: '[[1,111],[3,333]]' }));
      await request(kv.put({ key: 'other', value: 'kept' }));
      old.close();
      const store = await IndexedDbClientStore.open(dbName, factory);
      try {
        assertEqual(
          await store.getDeviceList('a'.repeat(32)),
          { accountId: 'a'.repeat(32), devices: [{ deviceId: 1, registrationId: 111 }, { deviceId: 3, registrationId: 333 }] },
          'the moved list',
        );
        assertEqual(await store.getKv(`devices.${'a'.repeat(32)}`), undefined, 'gone from the key-value store');
        assertEqual(await store.getKv('other'), 'kept', 'other values kept');
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'refuses a database with a newer schema with STORAGE_ERROR and leaves it unchanged',
    async run(factory, dbName) {
      const future = await openRaw(factory, dbName, 7, (db) => db.createObjectStore('from_the_future'));
      await request(future.transaction('from_the_future', 'readwrite').objectStore('from_the_future').put('keep me', 'k'));
      future.close();

      await assertRejects(IndexedDbClientStore.open(dbName, factory), ClientErrorCode.StorageError, 'opening a newer schema');

      const check = await openRaw(factory, dbName, 7);
      try {
        assertEqual(Array.from(check.objectStoreNames), ['from_the_future'], 'no store was added');
        const value = await request(check.transaction('from_the_future', 'readonly').objectStore('from_the_future').get('k'));
        assertEqual(value, 'keep me', 'data kept');
      } finally {
        check.close();
      }
    },
  },
  {
    name: 'a batch with a request IndexedDB refuses writes nothing and rejects with STORAGE_ERROR',
    async run(factory, dbName) {
      const store = await IndexedDbClientStore.open(dbName, factory);
      try {
        await assertRejects(
          store.write((tx) => {
            tx.putKv('k', 'v');
            tx.putSession({ account: 'alice', device: Number.NaN }, new Uint8Array(3));
          }),
          ClientErrorCode.StorageError,
          'a batch with an invalid key',
        );
        assertEqual(await store.getKv('k'), undefined, 'the earlier write of the batch');
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'closes itself when another tab upgrades the database, and then fails with STORAGE_ERROR',
    async run(factory, dbName) {
      const store = await IndexedDbClientStore.open(dbName, factory);
      await store.write((tx) => tx.putKv('k', 'v'));
      // Would wait forever ('blocked') if the store kept its connection open.
      const newer = await openRaw(factory, dbName, 4);
      newer.close();
      await assertRejects(store.getKv('k'), ClientErrorCode.StorageError, 'a read after the upgrade');
      await assertRejects(
        store.write((tx) => tx.putKv('k', 'w')),
        ClientErrorCode.StorageError,
        'a write after the upgrade',
      );
    },
  },
  {
    name: 'resolves a batch only once it is committed, and a read right after sees it',
    async run(factory, dbName) {
      const store = await IndexedDbClientStore.open(dbName, factory);
      try {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) writes.push(store.write((tx) => tx.putKv(`k${i}`, String(i))));
        await Promise.all(writes);
        for (let i = 0; i < 20; i++) assertEqual(await store.getKv(`k${i}`), String(i), `value ${i}`);
        const other = await IndexedDbClientStore.open(dbName, factory);
        assert((await other.getKv('k19')) === '19', 'a second connection sees it too');
        await other.close();
      } finally {
        await store.close();
      }
    },
  },
];
