/**
 * The in-memory ClientStore of the service tests (test/support/memory-store.ts) against the conformance suite the
 * SQLite and IndexedDB stores pass: what makes a service test on it worth as much as one on a real profile.
 */
import { describe, expect, it } from 'vitest';
import { ClientErrorCode } from '../../src/errors.js';
import type { ContactRecord, MessageRecord } from '../../src/storage/store.js';
import { MemoryClientStore, MemoryStorage } from '../support/memory-store.js';
import { describeClientStore } from './store-conformance.js';

describeClientStore('MemoryClientStore', async () => {
  const storage = new MemoryStorage();
  let current = MemoryClientStore.open(storage);
  return {
    store: current,
    async reopen() {
      await current.close();
      current = MemoryClientStore.open(storage);
      return current;
    },
    async cleanup() {
      await current.close();
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
  reactions: [{ author: 'me', emoji: '👍', timestamp: 1002 }],
};

describe('MemoryClientStore', () => {
  it('rejects every call with STORAGE_ERROR once closed', async () => {
    const store = MemoryClientStore.open();
    await store.close();
    const storageError = expect.objectContaining({ code: ClientErrorCode.StorageError });
    await expect(store.getKv('k')).rejects.toEqual(storageError);
    await expect(store.listMessages('alice')).rejects.toEqual(storageError);
    await expect(store.write((tx) => tx.putKv('k', 'v'))).rejects.toEqual(storageError);
  });

  it('keeps a record apart from the objects it was written from and read into', async () => {
    const store = MemoryClientStore.open();
    const reaction = { author: 'me', emoji: '👍', timestamp: 1002 };
    const written = { ...message, reactions: [reaction] };
    const contact = { accountId: 'alice', username: 'alice', verified: false, expireTimer: 0 };
    await store.write((tx) => {
      tx.putMessage(written);
      tx.putContact(contact);
    });
    written.body = 'changed after the write';
    reaction.emoji = '👎';
    contact.username = 'mallory';

    const read = (await store.getMessage('alice', 'alice', message.id)) as { body?: string };
    read.body = 'changed after the read';
    expect(await store.getMessage('alice', 'alice', message.id)).toEqual(message);
    expect(await store.findContactByUsername('alice')).toEqual({ ...contact, username: 'alice' } satisfies ContactRecord);
    expect(await store.findContactByUsername('mallory')).toBeUndefined();
  });

  it('leaves out a property written as undefined, as the JSON of the SQLite store does', async () => {
    const store = MemoryClientStore.open();
    await store.write((tx) => tx.putMessage({ ...message, body: undefined, editedAt: undefined } as unknown as MessageRecord));
    const read = await store.getMessage('alice', 'alice', message.id);
    expect(read).toBeDefined();
    expect(Object.keys(read ?? {})).not.toContain('body');
    expect(Object.keys(read ?? {})).not.toContain('editedAt');
  });

  it('lists contacts in the order of the engines: by username whatever its case, those without one first, then by account', async () => {
    const store = MemoryClientStore.open();
    const contacts: ContactRecord[] = [
      { accountId: 'd', username: 'bob', verified: false, expireTimer: 0 },
      { accountId: 'c', verified: false, expireTimer: 0 },
      { accountId: 'b', username: 'Alice', verified: false, expireTimer: 0 },
      { accountId: 'a', verified: false, expireTimer: 0 },
    ];
    await store.write((tx) => {
      for (const c of contacts) tx.putContact(c);
    });
    expect((await store.listContacts()).map((c) => c.accountId)).toEqual(['a', 'c', 'b', 'd']);
  });

  it('shares its records with a store opened later on the same storage, and not with another storage', async () => {
    const storage = new MemoryStorage();
    const first = MemoryClientStore.open(storage);
    await first.write((tx) => tx.putMessage(message));
    expect(await MemoryClientStore.open(storage).listMessages('alice')).toEqual([message]);
    expect(await MemoryClientStore.open().listMessages('alice')).toEqual([]);
  });
});
