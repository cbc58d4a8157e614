import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { SqliteClientStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { MessageRecord } from '../../src/storage/store.js';
import { describeClientStore } from './store-conformance.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'samizdat-store-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeClientStore('SqliteClientStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samizdat-store-'));
  const path = join(dir, 'profile.db');
  let current = SqliteClientStore.open(path);
  return {
    store: current,
    async reopen() {
      await current.close();
      current = SqliteClientStore.open(path);
      return current;
    },
    async cleanup() {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const message: MessageRecord = {
  conversation: 'alice',
  id: '0'.repeat(31) + '1',
  author: 'alice',
  authorDevice: 1,
  timestamp: 1000,
  receivedAt: 1001,
  direction: 'incoming',
  kind: 'message',
  body: 'hello',
  status: 'received',
};

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('SqliteClientStore on disk', () => {
  it('creates the database, its WAL and shared-memory files readable by their owner only (0600)', async () => {
    const path = join(tempDir(), 'profile.db');
    const store = SqliteClientStore.open(path);
    await store.write((tx) => tx.putKv('k', 'v'));
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    }
    await store.close();
  });

  it('refuses a database with a newer schema with STORAGE_ERROR and leaves the file unchanged', async () => {
    const dir = tempDir();
    const path = join(dir, 'profile.db');
    const future = new Database(path);
    future.exec("CREATE TABLE from_the_future (x TEXT); INSERT INTO from_the_future VALUES ('keep me');");
    future.pragma('user_version = 4');
    future.close();
    const before = sha256(path);

    let caught: unknown;
    try {
      SqliteClientStore.open(path);
    } catch (err) {
      caught = err;
    }
    expect(ClientError.is(caught, ClientErrorCode.StorageError)).toBe(true);
    expect(sha256(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);

    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(4);
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it('moves the device lists of a schema-2 profile out of the key-value table, typed', async () => {
    const path = join(tempDir(), 'profile.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO kv VALUES ('devices.${'a'.repeat(32)}', '[[1,111],[3,333]]'), ('devices.${'b'.repeat(32)}', '[]'), ('other', 'kept');`);
    old.pragma('user_version = 2');
    old.close();
    const store = SqliteClientStore.open(path);
    expect(await store.getDeviceList('a'.repeat(32))).toEqual({ accountId: 'a'.repeat(32), devices: [{ deviceId: 1, registrationId: 111 }, { deviceId: 3, registrationId: 333 }] });
    expect(await store.getDeviceList('b'.repeat(32))).toEqual({ accountId: 'b'.repeat(32), devices: [] });
    expect(await store.getKv(`devices.${'a'.repeat(32)}`)).toBeUndefined();
    expect(await store.getKv('other')).toBe('kept');
    await store.close();
  });

  it('refuses a file that is not a database with STORAGE_ERROR', () => {
    const path = join(tempDir(), 'profile.db');
    writeFileSync(path, 'this is not an SQLite database, just some text that is long enough to have a header'.repeat(10));
    expect(() => SqliteClientStore.open(path)).toThrow(expect.objectContaining({ code: ClientErrorCode.StorageError }));
  });

  it('reports a damaged JSON record as STORAGE_ERROR instead of crashing', async () => {
    const path = join(tempDir(), 'profile.db');
    const store = SqliteClientStore.open(path);
    await store.write((tx) => {
      tx.putMessage(message);
      tx.putContact({ accountId: 'alice', username: 'alice', verified: false, expireTimer: 0 });
      tx.putContact({ accountId: 'bob', username: 'bob', verified: false, expireTimer: 0 });
      tx.putAccount({ serverUrl: 'https://x', accountId: 'me', deviceId: 1, password: 'p', registrationId: 1, identityKeyPair: new Uint8Array(3), createdAt: 1 });
    });
    await store.close();

    const raw = new Database(path);
    raw.prepare("UPDATE messages SET data = substr(data, 1, 20) WHERE conversation = 'alice'").run();
    raw.prepare("UPDATE contacts SET data = '{\"accountId\": \"alice\",' WHERE account = 'alice'").run();
    raw.prepare("UPDATE contacts SET data = 'null' WHERE account = 'bob'").run();
    raw.prepare("UPDATE kv SET value = '[1, 2' WHERE key = 'account'").run();
    raw.close();

    const damaged = SqliteClientStore.open(path);
    const storageError = expect.objectContaining({ code: ClientErrorCode.StorageError });
    await expect(damaged.getMessage('alice', 'alice', message.id)).rejects.toEqual(storageError);
    await expect(damaged.listMessages('alice')).rejects.toEqual(storageError);
    await expect(damaged.listConversations()).rejects.toEqual(storageError);
    await expect(damaged.getContact('alice')).rejects.toEqual(storageError);
    await expect(damaged.getContact('bob')).rejects.toEqual(storageError);
    await expect(damaged.findContactByUsername('ALICE')).rejects.toEqual(storageError);
    await expect(damaged.listContacts()).rejects.toEqual(storageError);
    await expect(damaged.getAccount()).rejects.toEqual(storageError);
    // The rest of the store still works.
    await damaged.write((tx) => tx.putKv('k', 'v'));
    expect(await damaged.getKv('k')).toBe('v');
    await damaged.close();
  });

  it('stores a Buffer inside a record as plain bytes', async () => {
    const store = SqliteClientStore.open(join(tempDir(), 'profile.db'));
    const key = Buffer.from('00112233445566778899aabbccddeeff'.repeat(4), 'hex');
    const digest = Buffer.alloc(32, 7);
    const withBuffers: MessageRecord = {
      ...message,
      attachments: [{ id: 'ab'.repeat(32), key, digest, size: 1, contentType: 'text/plain' }],
    };
    await store.write((tx) => tx.putMessage(withBuffers));
    const read = await store.getMessage(message.conversation, message.author, message.id);
    const pointer = read?.attachments?.[0];
    expect(pointer?.key).toEqual(new Uint8Array(key));
    expect(pointer?.digest).toEqual(new Uint8Array(digest));
    expect(Object.getPrototypeOf(pointer?.key)).toBe(Uint8Array.prototype);
    await store.close();
  });
});
