/**
 * ClientStore in memory, for the unit tests of the client's services: the same behaviour as the SQLite and
 * IndexedDB stores (storage/store.ts), held to it by the conformance suite (test/storage/memory-store.test.ts), so
 * that a service tested on it behaves the same on a real profile.
 *
 * What the engines guarantee and this copies:
 * - a batch is atomic: its writes are queued while the callback runs and applied, in order, only once it returned;
 *   a callback that throws applies nothing and rejects with STORAGE_ERROR (a ClientError passes through as it is);
 * - records are copied when written and when read, bytes as compact plain Uint8Arrays and properties whose value is
 *   undefined left out (as the SQLite store's JSON and the IndexedDB store's `plain` do), so that nothing a caller
 *   keeps or changes afterwards reaches what is stored;
 * - prekeys go through the protocol's encodings, as in both engines;
 * - orders are theirs, ties broken as IndexedDB breaks them (by the key [conversation, author, id]).
 *
 * The records live in a MemoryStorage, which outlives the stores opened on it: closing a store and opening another
 * on the same storage is a reopen. A closed store rejects every call with STORAGE_ERROR, so that a service that
 * keeps using one fails here (IndexedDB rejects so too; SQLite's reads fail with better-sqlite3's own TypeError).
 */
import {
  decodeKyberPreKey,
  decodeOneTimePreKey,
  decodeSignedPreKey,
  encodeKyberPreKey,
  encodeOneTimePreKey,
  encodeSignedPreKey,
  toHex,
} from '@samizdat/protocol';
import type { KyberPreKey, OneTimePreKey, PreKeyId, ProtocolAddress, SignedPreKey } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type {
  AccountRecord,
  ClientStore,
  ContactRecord,
  ConversationSummary,
  DeviceListRecord,
  GroupRecord,
  MessageRecord,
  StoreTx,
} from '../../src/storage/store.js';

/** What a profile holds: the tables of the SQLite schema, as maps. */
export class MemoryStorage {
  account: AccountRecord | undefined;
  readonly kv = new Map<string, string>();
  /** By sessionKey(address). */
  readonly sessions = new Map<string, { readonly address: ProtocolAddress; readonly record: Uint8Array }>();
  readonly identities = new Map<string, Uint8Array>();
  /** Prekeys in their protocol encodings, by id. */
  readonly signedPreKeys = new Map<PreKeyId, Uint8Array>();
  readonly oneTimePreKeys = new Map<PreKeyId, Uint8Array>();
  readonly kyberPreKeys = new Map<PreKeyId, Uint8Array>();
  /** Kyber prekey id → the hex of each base key seen with it. */
  readonly kyberBaseKeys = new Map<PreKeyId, Set<string>>();
  readonly contacts = new Map<string, ContactRecord>();
  readonly deviceLists = new Map<string, DeviceListRecord>();
  /** By messageKey(conversation, author, id). */
  readonly messages = new Map<string, MessageRecord>();
  readonly groups = new Map<string, GroupRecord>();
  readonly keyPackageBundles = new Map<string, Uint8Array>();
}

const sessionKey = (address: ProtocolAddress): string => JSON.stringify([address.account, address.device]);
const messageKey = (conversation: string, author: string, id: string): string => JSON.stringify([conversation, author, id]);

/** A compact copy with the plain Uint8Array class (a view must not keep its whole buffer, nor a Buffer stay one). */
const copyBytes = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/** A deep copy of a record: bytes copied, undefined properties left out (an optional field comes back absent). */
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

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The key [conversation, author, id]: the tie-break of every message order. */
const byKey = (a: MessageRecord, b: MessageRecord): number =>
  compareStrings(a.conversation, b.conversation) || compareStrings(a.author, b.author) || compareStrings(a.id, b.id);

/** A conversation's order: timestamp, then receivedAt. */
const byTime = (a: MessageRecord, b: MessageRecord): number => a.timestamp - b.timestamp || a.receivedAt - b.receivedAt || byKey(a, b);

/** What listConversations counts and listUnread lists (the engines' `unread` column). */
const isUnread = (m: MessageRecord): boolean => m.direction === 'incoming' && m.kind === 'message' && m.readAt === undefined && !m.deleted;

export class MemoryClientStore implements ClientStore {
  private closed = false;

  private constructor(private readonly storage: MemoryStorage) {}

  /** Opens a store on `storage` (a fresh, empty one by default). */
  static open(storage: MemoryStorage = new MemoryStorage()): MemoryClientStore {
    return new MemoryClientStore(storage);
  }

  /** The storage while this store is open; STORAGE_ERROR once it is closed. */
  private get s(): MemoryStorage {
    if (this.closed) throw new ClientError(ClientErrorCode.StorageError, 'the profile store is closed');
    return this.storage;
  }

  async getAccount(): Promise<AccountRecord | undefined> {
    const account = this.s.account;
    return account && plain(account);
  }

  async getKv(key: string): Promise<string | undefined> {
    return this.s.kv.get(key);
  }

  async loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined> {
    const row = this.s.sessions.get(sessionKey(address));
    return row && copyBytes(row.record);
  }

  async listSessionDevices(account: string): Promise<number[]> {
    return [...this.s.sessions.values()]
      .filter((row) => row.address.account === account)
      .map((row) => row.address.device)
      .sort((a, b) => a - b);
  }

  async getIdentity(account: string): Promise<Uint8Array | undefined> {
    const key = this.s.identities.get(account);
    return key && copyBytes(key);
  }

  async getSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined> {
    const data = this.s.signedPreKeys.get(id);
    return data && decodeSignedPreKey(copyBytes(data));
  }

  async listSignedPreKeys(): Promise<SignedPreKey[]> {
    return byId(this.s.signedPreKeys).map((data) => decodeSignedPreKey(copyBytes(data)));
  }

  async getOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined> {
    const data = this.s.oneTimePreKeys.get(id);
    return data && decodeOneTimePreKey(copyBytes(data));
  }

  async getKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined> {
    const data = this.s.kyberPreKeys.get(id);
    return data && decodeKyberPreKey(copyBytes(data));
  }

  async listKyberPreKeys(): Promise<KyberPreKey[]> {
    return byId(this.s.kyberPreKeys).map((data) => decodeKyberPreKey(copyBytes(data)));
  }

  async hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean> {
    return this.s.kyberBaseKeys.get(id)?.has(toHex(baseKey)) ?? false;
  }

  async getContact(accountId: string): Promise<ContactRecord | undefined> {
    const contact = this.s.contacts.get(accountId);
    return contact && plain(contact);
  }

  async findContactByUsername(username: string): Promise<ContactRecord | undefined> {
    const lower = username.toLowerCase();
    return (await this.listContacts()).find((c) => c.username?.toLowerCase() === lower);
  }

  async listContacts(): Promise<ContactRecord[]> {
    // The SQLite order: by lower-cased username, those without one first, then by account.
    const compare = (a: ContactRecord, b: ContactRecord): number => {
      const [ua, ub] = [a.username?.toLowerCase(), b.username?.toLowerCase()];
      if (ua !== ub) {
        if (ua === undefined) return -1;
        if (ub === undefined) return 1;
        return compareStrings(ua, ub);
      }
      return compareStrings(a.accountId, b.accountId);
    };
    return [...this.s.contacts.values()].sort(compare).map(plain);
  }

  async getDeviceList(accountId: string): Promise<DeviceListRecord | undefined> {
    const list = this.s.deviceLists.get(accountId);
    return list && plain(list);
  }

  async getMessage(conversation: string, author: string, id: string): Promise<MessageRecord | undefined> {
    const m = this.s.messages.get(messageKey(conversation, author, id));
    return m && plain(m);
  }

  async listMessages(conversation: string, options: { limit?: number; before?: number } = {}): Promise<MessageRecord[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 100_000));
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    const oldestFirst = this.messages((m) => m.conversation === conversation && m.timestamp < before).sort(byTime);
    return oldestFirst.slice(Math.max(0, oldestFirst.length - limit)).map(plain);
  }

  async listUnread(conversation: string): Promise<MessageRecord[]> {
    return this.messages((m) => m.conversation === conversation && isUnread(m))
      .sort(byTime)
      .map(plain);
  }

  async findOutgoingByTimestamp(conversation: string, timestamps: readonly number[]): Promise<MessageRecord[]> {
    return timestamps.flatMap((t) =>
      this.messages((m) => m.conversation === conversation && m.timestamp === t && m.direction === 'outgoing')
        .sort(byTime)
        .map(plain),
    );
  }

  async listPending(): Promise<MessageRecord[]> {
    return this.messages((m) => m.status === 'pending')
      .sort((a, b) => a.timestamp - b.timestamp || byKey(a, b))
      .map(plain);
  }

  async listConversations(): Promise<ConversationSummary[]> {
    const summaries = new Map<string, { lastMessage: MessageRecord; unread: number }>();
    for (const m of this.s.messages.values()) {
      const summary = summaries.get(m.conversation);
      if (!summary) summaries.set(m.conversation, { lastMessage: m, unread: isUnread(m) ? 1 : 0 });
      else {
        if (byTime(m, summary.lastMessage) > 0) summary.lastMessage = m;
        if (isUnread(m)) summary.unread++;
      }
    }
    // Most recent first; on a tie, as IndexedDB walks them (conversation ids from the last).
    return [...summaries]
      .sort(([ca, a], [cb, b]) => b.lastMessage.timestamp - a.lastMessage.timestamp || compareStrings(cb, ca))
      .map(([conversation, s]) => ({ conversation, lastMessage: plain(s.lastMessage), unread: s.unread }));
  }

  async listExpired(now: number): Promise<MessageRecord[]> {
    return this.messages((m) => m.expiresAt !== undefined && m.expiresAt <= now)
      .sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0) || byKey(a, b))
      .map(plain);
  }

  async getGroup(groupId: string): Promise<GroupRecord | undefined> {
    const group = this.s.groups.get(groupId);
    return group && plain(group);
  }

  async listGroups(): Promise<GroupRecord[]> {
    return [...this.s.groups.values()].sort((a, b) => compareStrings(a.groupId, b.groupId)).map(plain);
  }

  async getKeyPackageBundle(ref: string): Promise<Uint8Array | undefined> {
    const bundle = this.s.keyPackageBundles.get(ref);
    return bundle && copyBytes(bundle);
  }

  async listKeyPackageRefs(): Promise<string[]> {
    return [...this.s.keyPackageBundles.keys()].sort(compareStrings);
  }

  async write(fn: (tx: StoreTx) => void): Promise<void> {
    const storage = this.s;
    const queued: ((s: MemoryStorage) => void)[] = [];
    try {
      fn(writer(queued));
    } catch (err) {
      if (err instanceof ClientError) throw err;
      throw new ClientError(ClientErrorCode.StorageError, `could not write to the profile store: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const apply of queued) apply(storage);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private messages(keep: (m: MessageRecord) => boolean): MessageRecord[] {
    return [...this.s.messages.values()].filter(keep);
  }
}

function byId(table: ReadonlyMap<PreKeyId, Uint8Array>): Uint8Array[] {
  return [...table].sort(([a], [b]) => a - b).map(([, data]) => data);
}

/**
 * The batch writer: each call copies what it was given at once (a caller may reuse its bytes as soon as the call
 * returns) and queues the change; `write` applies the queue once the callback has returned.
 */
function writer(queued: ((s: MemoryStorage) => void)[]): StoreTx {
  const queue = (apply: (s: MemoryStorage) => void): void => {
    queued.push(apply);
  };
  return {
    putAccount(account) {
      const copy = plain(account);
      queue((s) => (s.account = copy));
    },
    putKv(key, value) {
      queue((s) => (value === undefined ? s.kv.delete(key) : s.kv.set(key, value)));
    },
    putSession(address, record) {
      const key = sessionKey(address);
      const row = record && { address: { account: address.account, device: address.device }, record: copyBytes(record) };
      queue((s) => (row === undefined ? s.sessions.delete(key) : s.sessions.set(key, row)));
    },
    putIdentity(account, identityKey) {
      const copy = copyBytes(identityKey);
      queue((s) => s.identities.set(account, copy));
    },
    putSignedPreKey(key) {
      const data = encodeSignedPreKey(key);
      queue((s) => s.signedPreKeys.set(key.id, data));
    },
    removeSignedPreKey(id) {
      queue((s) => s.signedPreKeys.delete(id));
    },
    putOneTimePreKey(key) {
      const data = encodeOneTimePreKey(key);
      queue((s) => s.oneTimePreKeys.set(key.id, data));
    },
    removeOneTimePreKey(id) {
      queue((s) => s.oneTimePreKeys.delete(id));
    },
    putKyberPreKey(key) {
      const data = encodeKyberPreKey(key);
      queue((s) => s.kyberPreKeys.set(key.id, data));
    },
    removeKyberPreKey(id) {
      queue((s) => {
        s.kyberPreKeys.delete(id);
        s.kyberBaseKeys.delete(id);
      });
    },
    addKyberBaseKey(id, baseKey) {
      const hex = toHex(baseKey);
      queue((s) => {
        const seen = s.kyberBaseKeys.get(id) ?? new Set<string>();
        seen.add(hex);
        s.kyberBaseKeys.set(id, seen);
      });
    },
    putContact(contact) {
      const copy = plain(contact);
      queue((s) => s.contacts.set(copy.accountId, copy));
    },
    putDeviceList(list) {
      // Only the fields of the record, as both engines keep them.
      const copy: DeviceListRecord = { accountId: list.accountId, devices: list.devices.map((d) => ({ deviceId: d.deviceId, registrationId: d.registrationId })) };
      queue((s) => s.deviceLists.set(copy.accountId, copy));
    },
    putMessage(message) {
      const copy = plain(message);
      queue((s) => s.messages.set(messageKey(copy.conversation, copy.author, copy.id), copy));
    },
    deleteMessage(conversation, author, id) {
      const key = messageKey(conversation, author, id);
      queue((s) => s.messages.delete(key));
    },
    deleteConversation(conversation) {
      queue((s) => {
        for (const [key, m] of s.messages) if (m.conversation === conversation) s.messages.delete(key);
      });
    },
    putGroup(group) {
      const copy = plain(group);
      queue((s) => s.groups.set(copy.groupId, copy));
    },
    putKeyPackageBundle(ref, bundle) {
      const copy = bundle && copyBytes(bundle);
      queue((s) => (copy === undefined ? s.keyPackageBundles.delete(ref) : s.keyPackageBundles.set(ref, copy)));
    },
  };
}
