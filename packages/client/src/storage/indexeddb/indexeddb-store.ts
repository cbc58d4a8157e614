/**
 * ClientStore on the browser's IndexedDB (raw API, no wrapper library): one database per profile, whose object
 * stores and indexes mirror the SQLite schema (sqlite/sqlite-store.ts). Records are kept by structured clone, so
 * bytes stay Uint8Array; keys use the protocol package's binary encodings, as in SQLite.
 *
 * `write` is one readwrite transaction over every store, with durability 'strict': its promise resolves on the
 * transaction's `complete`, once the browser has flushed it, so a message acknowledged after it is not lost when
 * the tab or the browser dies. The batch callback runs synchronously inside the transaction and only queues
 * requests; an exception from it aborts the transaction, so that nothing it queued is applied.
 *
 * Another tab that upgrades or deletes the database makes this connection close itself (`versionchange`) rather
 * than block it; later calls on this store then fail with STORAGE_ERROR.
 */
import {
  decodeKyberPreKey,
  decodeOneTimePreKey,
  decodeSignedPreKey,
  encodeKyberPreKey,
  encodeOneTimePreKey,
  encodeSignedPreKey,
} from '@samizdat/protocol';
import type { KyberPreKey, OneTimePreKey, PreKeyId, ProtocolAddress, SignedPreKey } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../errors.js';
import type { AccountRecord, ClientStore, ContactRecord, ConversationSummary, DeviceListRecord, GroupRecord, MessageRecord, StoreTx } from '../store.js';

/** The schema this code writes; a database with a newer one is refused (VersionError) rather than damaged. */
const SCHEMA_VERSION = 3;

const Stores = {
  kv: 'kv',
  /** The account record alone, under ACCOUNT_KEY (SQLite keeps it as JSON in kv; here it stays a typed value). */
  account: 'account',
  sessions: 'sessions',
  identities: 'identities',
  signedPreKeys: 'signed_prekeys',
  oneTimePreKeys: 'one_time_prekeys',
  kyberPreKeys: 'kyber_prekeys',
  kyberBaseKeys: 'kyber_base_keys',
  contacts: 'contacts',
  messages: 'messages',
  groups: 'groups',
  keyPackageBundles: 'key_package_bundles',
  deviceLists: 'device_lists',
} as const;

type StoreName = (typeof Stores)[keyof typeof Stores];

const ALL_STORES: StoreName[] = Object.values(Stores);

const Indexes = {
  /** contacts.usernameLower, absent when the contact has no username. */
  contactsByUsername: 'by_username',
  /** messages [conversation, timestamp, receivedAt]: a conversation in order. */
  messagesByTime: 'by_time',
  /** messages [status, timestamp]: the pending ones, oldest first. */
  messagesByStatus: 'by_status',
  /** messages.expiresAt, absent until the timer starts. */
  messagesByExpiry: 'by_expiry',
  /** messages [conversation, unread]: unread counts. */
  messagesUnread: 'unread',
} as const;

/** Step v → v + 1 of the schema, run inside the versionchange transaction of `open`. */
const MIGRATIONS: readonly ((db: IDBDatabase, tx: IDBTransaction) => void)[] = [
  (db) => {
    db.createObjectStore(Stores.kv, { keyPath: 'key' });
    db.createObjectStore(Stores.account);
    db.createObjectStore(Stores.sessions, { keyPath: ['account', 'device'] });
    db.createObjectStore(Stores.identities, { keyPath: 'account' });
    db.createObjectStore(Stores.signedPreKeys, { keyPath: 'id' });
    db.createObjectStore(Stores.oneTimePreKeys, { keyPath: 'id' });
    db.createObjectStore(Stores.kyberPreKeys, { keyPath: 'id' });
    db.createObjectStore(Stores.kyberBaseKeys, { keyPath: ['id', 'baseKey'] });
    const contacts = db.createObjectStore(Stores.contacts, { keyPath: 'account' });
    contacts.createIndex(Indexes.contactsByUsername, 'usernameLower');
    const messages = db.createObjectStore(Stores.messages, { keyPath: ['conversation', 'author', 'id'] });
    messages.createIndex(Indexes.messagesByTime, ['conversation', 'timestamp', 'receivedAt']);
    messages.createIndex(Indexes.messagesByStatus, ['status', 'timestamp']);
    messages.createIndex(Indexes.messagesByExpiry, 'expiresAt');
    messages.createIndex(Indexes.messagesUnread, ['conversation', 'unread']);
  },
  (db) => {
    db.createObjectStore(Stores.groups, { keyPath: 'groupId' });
    db.createObjectStore(Stores.keyPackageBundles, { keyPath: 'ref' });
  },
  // Device lists had been JSON [[deviceId, registrationId], …] under kv 'devices.<account>': moved, typed.
  (db, tx) => {
    db.createObjectStore(Stores.deviceLists, { keyPath: 'accountId' });
    const kv = tx.objectStore(Stores.kv);
    const request = kv.openCursor(IDBKeyRange.bound('devices.', 'devices.\uffff'));
    request.onsuccess = () => {
      const cursor = request.result;
      if (cursor === null) return;
      const row = cursor.value as KvRow;
      const pairs = JSON.parse(row.value) as [number, number][];
      tx.objectStore(Stores.deviceLists).put({
        accountId: row.key.slice('devices.'.length),
        devices: pairs.map(([deviceId, registrationId]) => ({ deviceId, registrationId })),
      } satisfies DeviceListRecord);
      cursor.delete();
      cursor.continue();
    };
  },
];

const ACCOUNT_KEY = 'account';

interface KeyPackageBundleRow {
  readonly ref: string;
  readonly bundle: Uint8Array;
}

interface KvRow {
  readonly key: string;
  readonly value: string;
}

interface SessionRow {
  readonly account: string;
  readonly device: number;
  readonly record: Uint8Array;
}

interface IdentityRow {
  readonly account: string;
  readonly identityKey: Uint8Array;
}

/** A prekey in its protocol encoding (encodeSignedPreKey and friends). */
interface PreKeyRow {
  readonly id: number;
  readonly data: Uint8Array;
}

/** Its key, [id, baseKey], is a binary key: looked up by the exact bytes. */
interface KyberBaseKeyRow {
  readonly id: number;
  readonly baseKey: Uint8Array;
}

interface ContactRow {
  readonly account: string;
  readonly usernameLower?: string;
  readonly contact: ContactRecord;
}

interface MessageRow {
  readonly conversation: string;
  readonly author: string;
  readonly id: string;
  readonly timestamp: number;
  readonly receivedAt: number;
  readonly direction: MessageRecord['direction'];
  readonly status: MessageRecord['status'];
  /** 1 for an incoming message not yet read (as the SQLite column): counted in listConversations. */
  readonly unread: 0 | 1;
  readonly expiresAt?: number;
  readonly message: MessageRecord;
}

function storageError(what: string, err: unknown): ClientError {
  const reason = err instanceof Error || err instanceof DOMException ? `${err.name}: ${err.message}` : String(err);
  return new ClientError(ClientErrorCode.StorageError, `${what}: ${reason}`);
}

/** A compact copy with the plain Uint8Array class: a view must not drag its whole buffer into storage. */
const copyBytes = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/**
 * A copy of a record for structured clone: bytes copied compact, and properties whose value is undefined left out,
 * so that an optional field comes back absent (as from the SQLite store's JSON).
 */
function plain<T>(value: T): T {
  return copyPlain(value) as T;
}

function copyPlain(value: unknown): unknown {
  if (value instanceof Uint8Array) return copyBytes(value);
  if (Array.isArray(value)) return value.map(copyPlain);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (field !== undefined) out[key] = copyPlain(field);
    }
    return out;
  }
  return value;
}

function contactRow(contact: ContactRecord): ContactRow {
  return {
    account: contact.accountId,
    ...(contact.username === undefined ? {} : { usernameLower: contact.username.toLowerCase() }),
    contact: plain(contact),
  };
}

function messageRow(m: MessageRecord): MessageRow {
  return {
    conversation: m.conversation,
    author: m.author,
    id: m.id,
    timestamp: m.timestamp,
    receivedAt: m.receivedAt,
    direction: m.direction,
    status: m.status,
    unread: m.direction === 'incoming' && m.kind === 'message' && m.readAt === undefined && !m.deleted ? 1 : 0,
    ...(m.expiresAt === undefined ? {} : { expiresAt: m.expiresAt }),
    message: plain(m),
  };
}

/** Every base key of kyber prekey `id`: [id, <any bytes>] sorts between [id] and [id, []] (arrays after binary). */
const baseKeysOf = (id: PreKeyId): IDBKeyRange => IDBKeyRange.bound([id], [id, []]);

export class IndexedDbClientStore implements ClientStore {
  private constructor(private readonly db: IDBDatabase) {}

  /**
   * Opens (creating or upgrading if needed) the profile database `name`. Rejects with STORAGE_ERROR when IndexedDB
   * is unavailable or the database has a newer schema.
   *
   * @example const store = await IndexedDbClientStore.open('samizdat-profile');
   */
  static open(name: string, factory: IDBFactory = globalThis.indexedDB): Promise<IndexedDbClientStore> {
    return new Promise((resolve, reject) => {
      if ((factory as IDBFactory | undefined) === undefined) {
        reject(new ClientError(ClientErrorCode.StorageError, 'IndexedDB is not available here'));
        return;
      }
      let request: IDBOpenDBRequest;
      try {
        request = factory.open(name, SCHEMA_VERSION);
      } catch (err) {
        reject(storageError('cannot open the profile database', err));
        return;
      }
      request.onupgradeneeded = (event) => {
        const tx = request.transaction;
        if (tx === null) return; // never: an upgrade always runs in its versionchange transaction
        // A migration that throws aborts the versionchange transaction, and the open fails with AbortError.
        for (let v = event.oldVersion; v < SCHEMA_VERSION; v++) MIGRATIONS[v]?.(request.result, tx);
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close();
        resolve(new IndexedDbClientStore(db));
      };
      request.onerror = () => {
        const err = request.error;
        reject(
          err?.name === 'VersionError'
            ? new ClientError(ClientErrorCode.StorageError, `the profile database has a newer schema; this version of Samizdat reads up to ${SCHEMA_VERSION}`)
            : storageError('cannot open the profile database', err),
        );
      };
      // 'blocked': a connection elsewhere still has an older version open; it closes on versionchange and the
      // open then goes on by itself.
    });
  }

  /**
   * Runs `body` in one readonly transaction over `stores`; `body` queues requests and returns how to build the
   * result, which is called once the transaction completed.
   */
  private read<T>(stores: StoreName | StoreName[], body: (tx: IDBTransaction) => () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let tx: IDBTransaction | undefined;
      let result: () => T;
      try {
        tx = this.db.transaction(stores, 'readonly');
        result = body(tx);
      } catch (err) {
        try {
          tx?.abort();
        } catch {
          // already finished
        }
        reject(storageError('cannot read the profile database', err));
        return;
      }
      const done = tx;
      done.oncomplete = () => {
        try {
          resolve(result());
        } catch (err) {
          reject(err);
        }
      };
      done.onabort = () => reject(storageError('cannot read the profile database', done.error));
    });
  }

  private readOne<T, R>(store: StoreName, request: (s: IDBObjectStore) => IDBRequest, map: (value: R) => T): Promise<T> {
    return this.read(store, (tx) => {
      const r = request(tx.objectStore(store));
      return () => map(r.result as R);
    });
  }

  getAccount(): Promise<AccountRecord | undefined> {
    return this.readOne(Stores.account, (s) => s.get(ACCOUNT_KEY), (a: AccountRecord | undefined) => a);
  }

  getKv(key: string): Promise<string | undefined> {
    return this.readOne(Stores.kv, (s) => s.get(key), (row: KvRow | undefined) => row?.value);
  }

  loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined> {
    return this.readOne(Stores.sessions, (s) => s.get([address.account, address.device]), (row: SessionRow | undefined) => row?.record);
  }

  listSessionDevices(account: string): Promise<number[]> {
    return this.readOne(
      Stores.sessions,
      (s) => s.getAllKeys(IDBKeyRange.bound([account, -Infinity], [account, Infinity])),
      (keys: [string, number][]) => keys.map((k) => k[1]),
    );
  }

  getIdentity(account: string): Promise<Uint8Array | undefined> {
    return this.readOne(Stores.identities, (s) => s.get(account), (row: IdentityRow | undefined) => row?.identityKey);
  }

  getSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined> {
    return this.readOne(Stores.signedPreKeys, (s) => s.get(id), (row: PreKeyRow | undefined) => row && decodeSignedPreKey(row.data));
  }

  listSignedPreKeys(): Promise<SignedPreKey[]> {
    return this.readOne(Stores.signedPreKeys, (s) => s.getAll(), (rows: PreKeyRow[]) => rows.map((r) => decodeSignedPreKey(r.data)));
  }

  getOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined> {
    return this.readOne(Stores.oneTimePreKeys, (s) => s.get(id), (row: PreKeyRow | undefined) => row && decodeOneTimePreKey(row.data));
  }

  getKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined> {
    return this.readOne(Stores.kyberPreKeys, (s) => s.get(id), (row: PreKeyRow | undefined) => row && decodeKyberPreKey(row.data));
  }

  listKyberPreKeys(): Promise<KyberPreKey[]> {
    return this.readOne(Stores.kyberPreKeys, (s) => s.getAll(), (rows: PreKeyRow[]) => rows.map((r) => decodeKyberPreKey(r.data)));
  }

  hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean> {
    return this.readOne(Stores.kyberBaseKeys, (s) => s.count([id, copyBytes(baseKey)]), (n: number) => n > 0);
  }

  getGroup(groupId: string): Promise<GroupRecord | undefined> {
    return this.readOne(Stores.groups, (s) => s.get(groupId), (row: GroupRecord | undefined) => row);
  }

  listGroups(): Promise<GroupRecord[]> {
    return this.readOne(Stores.groups, (s) => s.getAll(), (rows: GroupRecord[]) => rows);
  }

  getKeyPackageBundle(ref: string): Promise<Uint8Array | undefined> {
    return this.readOne(Stores.keyPackageBundles, (s) => s.get(ref), (row: KeyPackageBundleRow | undefined) => row?.bundle);
  }

  listKeyPackageRefs(): Promise<string[]> {
    return this.readOne(Stores.keyPackageBundles, (s) => s.getAllKeys(), (keys: string[]) => keys);
  }

  getContact(accountId: string): Promise<ContactRecord | undefined> {
    return this.readOne(Stores.contacts, (s) => s.get(accountId), (row: ContactRow | undefined) => row?.contact);
  }

  findContactByUsername(username: string): Promise<ContactRecord | undefined> {
    return this.readOne(
      Stores.contacts,
      (s) => s.index(Indexes.contactsByUsername).get(username.toLowerCase()),
      (row: ContactRow | undefined) => row?.contact,
    );
  }

  listContacts(): Promise<ContactRecord[]> {
    // The order of the SQLite store: by lower-cased username, those without one first, then by account.
    const compare = (a: ContactRow, b: ContactRow): number => {
      if (a.usernameLower !== b.usernameLower) {
        if (a.usernameLower === undefined) return -1;
        if (b.usernameLower === undefined) return 1;
        return a.usernameLower < b.usernameLower ? -1 : 1;
      }
      return a.account < b.account ? -1 : a.account > b.account ? 1 : 0;
    };
    return this.readOne(Stores.contacts, (s) => s.getAll(), (rows: ContactRow[]) => rows.sort(compare).map((r) => r.contact));
  }

  getMessage(conversation: string, author: string, id: string): Promise<MessageRecord | undefined> {
    return this.readOne(Stores.messages, (s) => s.get([conversation, author, id]), (row: MessageRow | undefined) => row?.message);
  }

  listMessages(conversation: string, options: { limit?: number; before?: number } = {}): Promise<MessageRecord[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 100_000));
    return this.read(Stores.messages, (tx) => {
      // Index keys are [conversation, timestamp, receivedAt]; [conversation, before] sorts after every one of them
      // with a smaller timestamp and before every one with that timestamp.
      const range = IDBKeyRange.bound([conversation, -Infinity], [conversation, options.before ?? Infinity], false, true);
      const newestFirst: MessageRecord[] = [];
      const request = tx.objectStore(Stores.messages).index(Indexes.messagesByTime).openCursor(range, 'prev');
      request.onsuccess = () => {
        const cursor = request.result;
        if (cursor === null) return;
        newestFirst.push((cursor.value as MessageRow).message);
        if (newestFirst.length < limit) cursor.continue();
      };
      return () => newestFirst.reverse();
    });
  }

  listUnread(conversation: string): Promise<MessageRecord[]> {
    const order = (a: MessageRecord, b: MessageRecord) => a.timestamp - b.timestamp || a.receivedAt - b.receivedAt;
    return this.readOne(
      Stores.messages,
      (s) => s.index(Indexes.messagesUnread).getAll(IDBKeyRange.only([conversation, 1])),
      (rows: MessageRow[]) => rows.map((r) => r.message).sort(order),
    );
  }

  getDeviceList(accountId: string): Promise<DeviceListRecord | undefined> {
    return this.readOne(Stores.deviceLists, (s) => s.get(accountId), (row: DeviceListRecord | undefined) => row);
  }

  findOutgoingByTimestamp(conversation: string, timestamps: readonly number[]): Promise<MessageRecord[]> {
    return this.read(Stores.messages, (tx) => {
      const index = tx.objectStore(Stores.messages).index(Indexes.messagesByTime);
      const requests = timestamps.map((t) => index.getAll(IDBKeyRange.bound([conversation, t, -Infinity], [conversation, t, Infinity])));
      return () =>
        requests.flatMap((r) => (r.result as MessageRow[]).filter((row) => row.direction === 'outgoing').map((row) => row.message));
    });
  }

  listPending(): Promise<MessageRecord[]> {
    return this.readOne(
      Stores.messages,
      (s) => s.index(Indexes.messagesByStatus).getAll(IDBKeyRange.bound(['pending', -Infinity], ['pending', Infinity])),
      (rows: MessageRow[]) => rows.map((r) => r.message),
    );
  }

  listConversations(): Promise<ConversationSummary[]> {
    return this.read(Stores.messages, (tx) => {
      const store = tx.objectStore(Stores.messages);
      const unreadIndex = store.index(Indexes.messagesUnread);
      const summaries: { conversation: string; lastMessage: MessageRecord; timestamp: number; unread: IDBRequest<number> }[] = [];
      // Walk the time index backwards, one hop per conversation: the first entry met is its last message, and
      // continue([conversation]) jumps to the last message of the conversation before it.
      const request = store.index(Indexes.messagesByTime).openCursor(null, 'prev');
      request.onsuccess = () => {
        const cursor = request.result;
        if (cursor === null) return;
        const row = cursor.value as MessageRow;
        summaries.push({
          conversation: row.conversation,
          lastMessage: row.message,
          timestamp: row.timestamp,
          unread: unreadIndex.count(IDBKeyRange.only([row.conversation, 1])),
        });
        cursor.continue([row.conversation]);
      };
      return () =>
        summaries
          .sort((a, b) => b.timestamp - a.timestamp)
          .map((s) => ({ conversation: s.conversation, lastMessage: s.lastMessage, unread: s.unread.result }));
    });
  }

  listExpired(now: number): Promise<MessageRecord[]> {
    return this.readOne(
      Stores.messages,
      (s) => s.index(Indexes.messagesByExpiry).getAll(IDBKeyRange.upperBound(now)),
      (rows: MessageRow[]) => rows.map((r) => r.message),
    );
  }

  write(fn: (tx: StoreTx) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = this.db.transaction(ALL_STORES, 'readwrite', { durability: 'strict' });
      } catch (err) {
        reject(storageError('could not write to the profile database', err));
        return;
      }
      let failure: ClientError | undefined;
      tx.oncomplete = () => resolve();
      // A failed request aborts the transaction (its error event is not cancelled), so every failure ends here.
      tx.onabort = () => reject(failure ?? storageError('could not write to the profile database', tx.error));
      try {
        fn(writer(tx));
      } catch (err) {
        failure = ClientError.is(err) ? err : storageError('could not write to the profile database', err);
        try {
          tx.abort();
        } catch {
          // Already finished: nothing was applied, and onabort reports it.
        }
      }
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** The batch writer over one readwrite transaction: each call queues its requests, in order. */
function writer(tx: IDBTransaction): StoreTx {
  const store = (name: StoreName): IDBObjectStore => tx.objectStore(name);
  return {
    putAccount(account) {
      store(Stores.account).put(plain(account), ACCOUNT_KEY);
    },
    putKv(key, value) {
      if (value === undefined) store(Stores.kv).delete(key);
      else store(Stores.kv).put({ key, value } satisfies KvRow);
    },
    putSession(address, record) {
      if (record === undefined) store(Stores.sessions).delete([address.account, address.device]);
      else store(Stores.sessions).put({ account: address.account, device: address.device, record: copyBytes(record) } satisfies SessionRow);
    },
    putIdentity(account, identityKey) {
      store(Stores.identities).put({ account, identityKey: copyBytes(identityKey) } satisfies IdentityRow);
    },
    putSignedPreKey(key) {
      store(Stores.signedPreKeys).put({ id: key.id, data: copyBytes(encodeSignedPreKey(key)) } satisfies PreKeyRow);
    },
    removeSignedPreKey(id) {
      store(Stores.signedPreKeys).delete(id);
    },
    putOneTimePreKey(key) {
      store(Stores.oneTimePreKeys).put({ id: key.id, data: copyBytes(encodeOneTimePreKey(key)) } satisfies PreKeyRow);
    },
    removeOneTimePreKey(id) {
      store(Stores.oneTimePreKeys).delete(id);
    },
    putKyberPreKey(key) {
      store(Stores.kyberPreKeys).put({ id: key.id, data: copyBytes(encodeKyberPreKey(key)) } satisfies PreKeyRow);
    },
    removeKyberPreKey(id) {
      store(Stores.kyberPreKeys).delete(id);
      store(Stores.kyberBaseKeys).delete(baseKeysOf(id));
    },
    addKyberBaseKey(id, baseKey) {
      store(Stores.kyberBaseKeys).put({ id, baseKey: copyBytes(baseKey) } satisfies KyberBaseKeyRow);
    },
    putContact(contact) {
      store(Stores.contacts).put(contactRow(contact));
    },
    putDeviceList(list) {
      store(Stores.deviceLists).put(plain({ accountId: list.accountId, devices: list.devices.map((d) => ({ deviceId: d.deviceId, registrationId: d.registrationId })) }));
    },
    putMessage(message) {
      store(Stores.messages).put(messageRow(message));
    },
    deleteMessage(conversation, author, id) {
      store(Stores.messages).delete([conversation, author, id]);
    },
    deleteConversation(conversation) {
      // Keys are [conversation, author, id]: every key that starts with `conversation` sorts between these two
      // (an array sorts after any string).
      store(Stores.messages).delete(IDBKeyRange.bound([conversation], [conversation, []]));
    },
    putGroup(group) {
      store(Stores.groups).put(plain({ ...group, state: copyBytes(group.state), admins: [...group.admins] }));
    },
    putKeyPackageBundle(ref, bundle) {
      if (bundle === undefined) store(Stores.keyPackageBundles).delete(ref);
      else store(Stores.keyPackageBundles).put({ ref, bundle: copyBytes(bundle) } satisfies KeyPackageBundleRow);
    },
  };
}
