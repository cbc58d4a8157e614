/**
 * What every ClientStore must do (storage/store.ts), as framework-free cases: each opens a fresh store through the
 * harness, checks one behaviour with tiny-assert, and cleans up. They run under vitest for SQLite
 * (store-conformance.ts) and inside Chromium for IndexedDB (browser/indexeddb-entry.ts), so this file imports
 * nothing from Node or from the test runner.
 */
import {
  encodeIdentityKeyPair,
  generateIdentityKeyPair,
  generateKyberPreKey,
  generateOneTimePreKeys,
  generateSignedPreKey,
} from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { AccountRecord, ClientStore, ContactRecord, ConversationSummary, GroupRecord, MessageRecord } from '../../src/storage/store.js';
import { assert, assertEqual, assertRejects } from './tiny-assert.js';

/** One store on fresh, private storage. */
export interface StoreHarness {
  readonly store: ClientStore;
  /** Closes the store last handed out and opens the same storage again. */
  reopen(): Promise<ClientStore>;
  /** Closes the store last handed out and deletes its storage. */
  cleanup(): Promise<void>;
}

export type OpenStore = () => Promise<StoreHarness>;

export interface ConformanceContext {
  readonly open: OpenStore;
  readonly crypto: CryptoProvider;
}

export interface ConformanceCase {
  readonly name: string;
  run(ctx: ConformanceContext): Promise<void>;
}

const ALICE = 'alice-account';
const BOB = 'bob-account';
/** Shares a prefix with BOB: a range query that is one character too wide would mix them up. */
const BOB2 = 'bob-account2';
const ME = 'my-account';

const messageId = (n: number): string => n.toString(16).padStart(32, '0');

/** An incoming text message from `conversation`; `fields` override or add. */
function incoming(conversation: string, n: number, timestamp: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation,
    id: messageId(n),
    author: conversation,
    authorDevice: 1,
    timestamp,
    receivedAt: timestamp + 7,
    direction: 'incoming',
    kind: 'message',
    body: `message ${n}`,
    status: 'received',
    ...fields,
  };
}

/** One of our own messages to `conversation`. */
function outgoing(conversation: string, n: number, timestamp: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation,
    id: messageId(n),
    author: ME,
    authorDevice: 2,
    timestamp,
    receivedAt: timestamp,
    direction: 'outgoing',
    kind: 'message',
    body: `message ${n}`,
    status: 'sent',
    ...fields,
  };
}

/** Distinct, recognisable bytes (never all zero, so a lost or shifted byte shows). */
function testBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return out;
}

function account(identity: IdentityKeyPair, fields: Partial<AccountRecord> = {}): AccountRecord {
  return {
    serverUrl: 'https://samizdat.example',
    accountId: ME,
    deviceId: 2,
    password: 'c2VjcmV0LXBhc3N3b3Jk',
    registrationId: 12345,
    identityKeyPair: encodeIdentityKeyPair(identity),
    createdAt: 1_700_000_000_000,
    ...fields,
  };
}

const ids = (records: readonly MessageRecord[]): string[] => records.map((m) => `${m.conversation}/${m.author}/${m.id}`);
const sortedIds = (records: readonly MessageRecord[]): string[] => ids(records).sort();
const byAccount = (a: ContactRecord, b: ContactRecord): number => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0);

/** Opens a fresh store, runs `body`, and always cleans up. */
async function withStore(ctx: ConformanceContext, body: (h: StoreHarness) => Promise<void>): Promise<void> {
  const h = await ctx.open();
  try {
    await body(h);
  } finally {
    await h.cleanup();
  }
}

const cases: ConformanceCase[] = [];
const test = (name: string, run: (ctx: ConformanceContext) => Promise<void>): void => {
  cases.push({ name, run });
};

test('a fresh store is empty', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    assertEqual(await store.getAccount(), undefined, 'account');
    assertEqual(await store.getKv('anything'), undefined, 'kv');
    assertEqual(await store.loadSession({ account: ALICE, device: 1 }), undefined, 'session');
    assertEqual(await store.listSessionDevices(ALICE), [], 'session devices');
    assertEqual(await store.getIdentity(ALICE), undefined, 'identity');
    assertEqual(await store.getSignedPreKey(1), undefined, 'signed prekey');
    assertEqual(await store.listSignedPreKeys(), [], 'signed prekeys');
    assertEqual(await store.getOneTimePreKey(1), undefined, 'one-time prekey');
    assertEqual(await store.getKyberPreKey(1), undefined, 'kyber prekey');
    assertEqual(await store.listKyberPreKeys(), [], 'kyber prekeys');
    assertEqual(await store.hasKyberBaseKey(1, testBytes(33, 1)), false, 'kyber base key');
    assertEqual(await store.getContact(ALICE), undefined, 'contact');
    assertEqual(await store.findContactByUsername('alice'), undefined, 'contact by username');
    assertEqual(await store.listContacts(), [], 'contacts');
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(1)), undefined, 'message');
    assertEqual(await store.listMessages(ALICE), [], 'messages');
    assertEqual(await store.findOutgoingByTimestamp(ALICE, [1, 2]), [], 'outgoing by timestamp');
    assertEqual(await store.listPending(), [], 'pending');
    assertEqual(await store.listConversations(), [], 'conversations');
    assertEqual(await store.listExpired(Number.MAX_SAFE_INTEGER), [], 'expired');
  }),
);

test('stores the account with its key bytes exactly, and an absent username stays absent', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const first = account(identity);
    await store.write((tx) => tx.putAccount(first));
    const read = await store.getAccount();
    assertEqual(read, first, 'account without username');
    assert(read !== undefined && !('username' in read), 'an absent username must not come back as a property');

    const second = account(identity, { username: 'Alice.42', deviceId: 3 });
    await store.write((tx) => tx.putAccount(second));
    assertEqual(await store.getAccount(), second, 'replaced account');
  }),
);

test('stores, replaces and deletes named values', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    await store.write((tx) => {
      tx.putKv('counter', '1');
      tx.putKv('empty', '');
      tx.putKv('unicode', 'ключ ✓ 🔑');
    });
    assertEqual(await store.getKv('counter'), '1', 'counter');
    assertEqual(await store.getKv('empty'), '', 'an empty string is a value, not a deletion');
    assertEqual(await store.getKv('unicode'), 'ключ ✓ 🔑', 'unicode value');
    await store.write((tx) => {
      tx.putKv('counter', '2');
      tx.putKv('empty', undefined);
    });
    assertEqual(await store.getKv('counter'), '2', 'replaced value');
    assertEqual(await store.getKv('empty'), undefined, 'deleted value');
    assertEqual(await store.getKv('unicode'), 'ключ ✓ 🔑', 'untouched value');
    await store.write((tx) => tx.putKv('never-stored', undefined));
    assertEqual(await store.getKv('never-stored'), undefined, 'deleting a missing value is a no-op');
  }),
);

test('stores sessions per device, lists the devices of one account in order, and deletes them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    await store.write((tx) => {
      tx.putSession({ account: BOB, device: 3 }, testBytes(300, 3));
      tx.putSession({ account: BOB, device: 1 }, testBytes(100, 1));
      tx.putSession({ account: BOB, device: 12 }, testBytes(120, 12));
      tx.putSession({ account: BOB2, device: 2 }, testBytes(20, 2));
      tx.putSession({ account: ALICE, device: 5 }, testBytes(50, 5));
    });
    assertEqual(await store.listSessionDevices(BOB), [1, 3, 12], 'devices of bob (numeric order)');
    assertEqual(await store.listSessionDevices(BOB2), [2], 'devices of an account whose id extends bob');
    assertEqual(await store.listSessionDevices(ALICE), [5], 'devices of alice');
    assertEqual(await store.listSessionDevices('nobody'), [], 'devices of an unknown account');
    assertEqual(await store.loadSession({ account: BOB, device: 3 }), testBytes(300, 3), 'session bob.3');
    assertEqual(await store.loadSession({ account: BOB, device: 2 }), undefined, 'missing device');

    await store.write((tx) => {
      tx.putSession({ account: BOB, device: 3 }, testBytes(310, 33));
      tx.putSession({ account: BOB, device: 1 }, undefined);
    });
    assertEqual(await store.loadSession({ account: BOB, device: 3 }), testBytes(310, 33), 'replaced session');
    assertEqual(await store.loadSession({ account: BOB, device: 1 }), undefined, 'deleted session');
    assertEqual(await store.listSessionDevices(BOB), [3, 12], 'devices after a deletion');
    assertEqual(await store.loadSession({ account: BOB2, device: 2 }), testBytes(20, 2), 'other account untouched');
  }),
);

test('stores exactly the bytes of a view, and copies them at write time', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const backing = testBytes(64, 9);
    const view = backing.subarray(10, 42);
    const expected = view.slice();
    await store.write((tx) => {
      tx.putSession({ account: ALICE, device: 1 }, view);
      tx.putIdentity(ALICE, view);
      tx.addKyberBaseKey(7, view);
    });
    backing.fill(0);
    assertEqual(await store.loadSession({ account: ALICE, device: 1 }), expected, 'session from a view');
    assertEqual(await store.getIdentity(ALICE), expected, 'identity from a view');
    assert(await store.hasKyberBaseKey(7, expected), 'base key from a view');

    const read = await store.loadSession({ account: ALICE, device: 1 });
    assert(read !== undefined, 'session present');
    read.fill(0);
    assertEqual(await store.loadSession({ account: ALICE, device: 1 }), expected, 'mutating a read copy changes nothing stored');
  }),
);

test('stores identity keys per account and replaces them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    await store.write((tx) => {
      tx.putIdentity(ALICE, testBytes(65, 1));
      tx.putIdentity(BOB, testBytes(65, 2));
    });
    assertEqual(await store.getIdentity(ALICE), testBytes(65, 1), 'alice');
    assertEqual(await store.getIdentity(BOB), testBytes(65, 2), 'bob');
    assertEqual(await store.getIdentity(BOB2), undefined, 'unknown');
    await store.write((tx) => tx.putIdentity(ALICE, testBytes(65, 3)));
    assertEqual(await store.getIdentity(ALICE), testBytes(65, 3), 'replaced');
  }),
);

test('stores signed prekeys, lists them by id, and removes them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const a = await generateSignedPreKey(ctx.crypto, identity, 9, 1_700_000_000_123);
    const b = await generateSignedPreKey(ctx.crypto, identity, 2, 1_700_000_000_456);
    const c = await generateSignedPreKey(ctx.crypto, identity, 0xffffffff, 1_700_000_000_789);
    await store.write((tx) => {
      tx.putSignedPreKey(a);
      tx.putSignedPreKey(b);
      tx.putSignedPreKey(c);
    });
    assertEqual(await store.getSignedPreKey(9), a, 'signed prekey 9');
    assertEqual(await store.getSignedPreKey(0xffffffff), c, 'signed prekey with the largest id');
    assertEqual(await store.listSignedPreKeys(), [b, a, c], 'listed by id');
    await store.write((tx) => tx.removeSignedPreKey(9));
    assertEqual(await store.getSignedPreKey(9), undefined, 'removed');
    assertEqual(await store.listSignedPreKeys(), [b, c], 'listed after removal');
  }),
);

test('stores one-time prekeys and removes them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const keys = await generateOneTimePreKeys(ctx.crypto, 100, 3);
    await store.write((tx) => {
      for (const key of keys) tx.putOneTimePreKey(key);
    });
    for (const key of keys) assertEqual(await store.getOneTimePreKey(key.id), key, `one-time prekey ${key.id}`);
    await store.write((tx) => tx.removeOneTimePreKey(101));
    assertEqual(await store.getOneTimePreKey(101), undefined, 'removed');
    assertEqual(await store.getOneTimePreKey(100), keys[0], 'kept');
    await store.write((tx) => tx.removeOneTimePreKey(555));
    assertEqual(await store.getOneTimePreKey(102), keys[2], 'removing a missing key is a no-op');
  }),
);

test('stores one-time and last-resort kyber prekeys, lists them by id, and removes them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const lastResort = await generateKyberPreKey(ctx.crypto, identity, 30, true, 1_700_000_000_001);
    const oneTime = await generateKyberPreKey(ctx.crypto, identity, 4, false, 1_700_000_000_002);
    await store.write((tx) => {
      tx.putKyberPreKey(lastResort);
      tx.putKyberPreKey(oneTime);
    });
    assertEqual(await store.getKyberPreKey(30), lastResort, 'last-resort key');
    assertEqual(await store.getKyberPreKey(4), oneTime, 'one-time key');
    assertEqual(await store.listKyberPreKeys(), [oneTime, lastResort], 'listed by id');
    await store.write((tx) => tx.removeKyberPreKey(4));
    assertEqual(await store.getKyberPreKey(4), undefined, 'removed');
    assertEqual(await store.listKyberPreKeys(), [lastResort], 'listed after removal');
  }),
);

test('remembers kyber base keys per prekey and forgets them with their prekey', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const k1 = await generateKyberPreKey(ctx.crypto, identity, 1, true, 1);
    const k2 = await generateKyberPreKey(ctx.crypto, identity, 2, true, 2);
    const base = testBytes(33, 5);
    const other = testBytes(33, 6);
    await store.write((tx) => {
      tx.putKyberPreKey(k1);
      tx.putKyberPreKey(k2);
      tx.addKyberBaseKey(1, base);
      tx.addKyberBaseKey(1, base); // a second add of the same key is not an error
      tx.addKyberBaseKey(1, other);
      tx.addKyberBaseKey(2, base);
    });
    assert(await store.hasKyberBaseKey(1, base), 'base key of prekey 1');
    assert(await store.hasKyberBaseKey(1, other), 'second base key of prekey 1');
    assert(await store.hasKyberBaseKey(2, base), 'base key of prekey 2');
    assert(!(await store.hasKyberBaseKey(2, other)), 'a base key is remembered per prekey');
    assert(!(await store.hasKyberBaseKey(1, base.subarray(0, 32))), 'a prefix of a base key is not that key');
    const longer = new Uint8Array(34);
    longer.set(base);
    assert(!(await store.hasKyberBaseKey(1, longer)), 'an extension of a base key is not that key');

    await store.write((tx) => tx.removeKyberPreKey(1));
    assert(!(await store.hasKyberBaseKey(1, base)), 'removing the prekey forgets its base keys');
    assert(!(await store.hasKyberBaseKey(1, other)), 'removing the prekey forgets all its base keys');
    assert(await store.hasKyberBaseKey(2, base), 'other prekeys keep theirs');
    assertEqual(await store.getKyberPreKey(2), k2, 'other prekey kept');
  }),
);

test('stores contacts, keeps absent fields absent, and finds them by username case-insensitively', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const alice: ContactRecord = { accountId: ALICE, username: 'Alice.42', name: 'Alice 🌸', verified: true, identityChangedAt: 1_700_000_000_000, expireTimer: 3600 };
    const bob: ContactRecord = { accountId: BOB, verified: false, expireTimer: 0 };
    const carol: ContactRecord = { accountId: 'carol-account', username: 'carol', verified: false, expireTimer: 0 };
    await store.write((tx) => {
      tx.putContact(alice);
      tx.putContact(bob);
      tx.putContact(carol);
    });
    assertEqual(await store.getContact(ALICE), alice, 'contact with every field');
    assertEqual(await store.getContact(BOB), bob, 'contact with no optional field');
    assertEqual(await store.findContactByUsername('alice.42'), alice, 'lower case');
    assertEqual(await store.findContactByUsername('ALICE.42'), alice, 'upper case');
    assertEqual(await store.findContactByUsername('Carol'), carol, 'another contact');
    assertEqual(await store.findContactByUsername('alice'), undefined, 'a prefix of a username');
    assertEqual((await store.listContacts()).sort(byAccount), [alice, bob, carol], 'all contacts');

    const renamed: ContactRecord = { accountId: ALICE, username: 'alice_new', verified: false, expireTimer: 3600 };
    await store.write((tx) => tx.putContact(renamed));
    assertEqual(await store.getContact(ALICE), renamed, 'replaced contact');
    assertEqual(await store.findContactByUsername('alice.42'), undefined, 'the old username no longer finds it');
    assertEqual(await store.findContactByUsername('ALICE_NEW'), renamed, 'the new username finds it');
    assertEqual((await store.listContacts()).length, 3, 'replacing does not add a contact');
  }),
);

test('stores messages with every field exactly, and absent optional fields stay absent', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const full: MessageRecord = {
      conversation: ALICE,
      id: messageId(1),
      author: ALICE,
      authorDevice: 3,
      timestamp: 1_700_000_000_000,
      receivedAt: 1_700_000_000_050,
      direction: 'incoming',
      kind: 'message',
      body: 'Hello, “world” ✓ 🔐\nline two',
      attachments: [
        { id: 'ab'.repeat(32), key: testBytes(64, 1), digest: testBytes(32, 2), size: 12345, contentType: 'image/jpeg', fileName: 'cat.jpg', width: 640, height: 480 },
        { id: 'cd'.repeat(32), key: testBytes(64, 3), digest: testBytes(32, 4), size: 0, contentType: 'application/octet-stream' },
      ],
      quote: { id: messageId(9), author: ME, text: 'quoted' },
      status: 'received',
      readAt: 1_700_000_001_000,
      editedAt: 1_700_000_000_500,
      reactions: [
        { author: ME, emoji: '👍', timestamp: 1_700_000_002_000 },
        { author: ALICE, emoji: '❤️', timestamp: 1_700_000_003_000 },
      ],
      expireTimer: 86_400,
      expiresAt: 1_700_086_401_000,
    };
    const quoteWithoutText: MessageRecord = outgoing(ALICE, 2, 1_700_000_000_100, { quote: { id: messageId(1), author: ALICE } });
    const minimal: MessageRecord = {
      conversation: ALICE,
      id: messageId(3),
      author: ALICE,
      authorDevice: 1,
      timestamp: 1_700_000_000_200,
      receivedAt: 1_700_000_000_201,
      direction: 'incoming',
      kind: 'system',
      status: 'received',
      event: 'identity-changed',
    };
    const deleted: MessageRecord = incoming(ALICE, 4, 1_700_000_000_300, { deleted: true, body: '' });
    await store.write((tx) => {
      tx.putMessage(full);
      tx.putMessage(quoteWithoutText);
      tx.putMessage(minimal);
      tx.putMessage(deleted);
    });
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(1)), full, 'message with every field');
    assertEqual(await store.getMessage(ALICE, ME, messageId(2)), quoteWithoutText, 'quote without text');
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(3)), minimal, 'system message with no optional field');
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(4)), deleted, 'deleted message');
    assertEqual(await store.getMessage(ALICE, ME, messageId(1)), undefined, 'same id, other author');
    assertEqual(await store.getMessage(BOB, ALICE, messageId(1)), undefined, 'same id, other conversation');
  }),
);

test('replaces a message with the same conversation, author and id, and keeps those of other authors apart', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const theirs = incoming(ALICE, 1, 1000);
    const ours = outgoing(ALICE, 1, 1000, { status: 'pending' });
    await store.write((tx) => {
      tx.putMessage(theirs);
      tx.putMessage(ours);
    });
    assertEqual(sortedIds(await store.listMessages(ALICE)), sortedIds([theirs, ours]), 'two messages with one id');
    const edited = { ...theirs, body: 'edited', editedAt: 2000 };
    const sent = { ...ours, status: 'sent' as const };
    await store.write((tx) => {
      tx.putMessage(edited);
      tx.putMessage(sent);
    });
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(1)), edited, 'replaced incoming');
    assertEqual(await store.getMessage(ALICE, ME, messageId(1)), sent, 'replaced outgoing');
    assertEqual((await store.listMessages(ALICE)).length, 2, 'replacing does not add');
    assertEqual(await store.listPending(), [], 'no longer pending once replaced as sent');
  }),
);

test('deletes one message', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const a = incoming(ALICE, 1, 1000, { expiresAt: 5000 });
    const b = outgoing(ALICE, 1, 1100, { status: 'pending' });
    const c = incoming(ALICE, 2, 1200);
    await store.write((tx) => {
      tx.putMessage(a);
      tx.putMessage(b);
      tx.putMessage(c);
    });
    await store.write((tx) => {
      tx.deleteMessage(ALICE, ALICE, messageId(1));
      tx.deleteMessage(ALICE, ME, messageId(1));
      tx.deleteMessage(ALICE, ALICE, messageId(99));
    });
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(1)), undefined, 'deleted');
    assertEqual(await store.listMessages(ALICE), [c], 'what is left');
    assertEqual(await store.listPending(), [], 'a deleted pending message is not pending');
    assertEqual(await store.listExpired(10_000), [], 'a deleted message does not expire');
    assertEqual(await store.listConversations(), [{ conversation: ALICE, lastMessage: c, unread: 1 }], 'conversation after deletion');
  }),
);

test('deletes a whole conversation and nothing else', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const kept = [incoming(BOB, 4, 1300), outgoing(BOB, 5, 1400)];
    await store.write((tx) => {
      tx.putMessage(incoming(ALICE, 1, 1000, { expiresAt: 5000 }));
      tx.putMessage(outgoing(ALICE, 2, 1100, { status: 'pending' }));
      tx.putMessage(incoming(ALICE, 3, 1200));
      for (const m of kept) tx.putMessage(m);
    });
    await store.write((tx) => tx.deleteConversation(ALICE));
    assertEqual(await store.listMessages(ALICE), [], 'nothing left of it');
    assertEqual(await store.listMessages(BOB), kept, 'the other conversation');
    assertEqual(await store.listPending(), [], 'its pending message is gone');
    assertEqual(await store.listExpired(10_000), [], 'nothing of it expires');
    assertEqual((await store.listConversations()).map((c) => c.conversation), [BOB], 'conversations');
  }),
);

test('lists a conversation oldest first and pages backwards by timestamp', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    // Written out of order, with a tie on timestamp broken by receivedAt, and other conversations in between.
    const m = [
      incoming(BOB, 1, 1000),
      outgoing(BOB, 2, 2000),
      incoming(BOB, 3, 3000, { receivedAt: 3500 }),
      incoming(BOB, 4, 3000, { receivedAt: 3100 }),
      outgoing(BOB, 5, 4000),
      incoming(BOB, 6, 5000),
    ];
    const others = [incoming(BOB2, 7, 2500), incoming(ALICE, 8, 3000), incoming('bob-accoun', 9, 4500)];
    await store.write((tx) => {
      for (const r of [m[4], others[0], m[2], m[0], others[1], m[5], m[3], others[2], m[1]]) if (r) tx.putMessage(r);
    });
    const [m1, m2, m3, m4, m5, m6] = m as [MessageRecord, MessageRecord, MessageRecord, MessageRecord, MessageRecord, MessageRecord];
    assertEqual(await store.listMessages(BOB), [m1, m2, m4, m3, m5, m6], 'whole conversation, oldest first');
    assertEqual(ids(await store.listMessages(BOB, { limit: 2 })), ids([m5, m6]), 'the newest two');
    assertEqual(ids(await store.listMessages(BOB, { limit: 3, before: 4000 })), ids([m2, m4, m3]), 'three before 4000 (exclusive)');
    assertEqual(ids(await store.listMessages(BOB, { limit: 3, before: 2000 })), ids([m1]), 'the first page');
    assertEqual(ids(await store.listMessages(BOB, { before: 1000 })), [], 'nothing before the first');
    assertEqual(ids(await store.listMessages(BOB, { before: 3001 })), ids([m1, m2, m4, m3]), 'before without a limit');
    assertEqual(ids(await store.listMessages(BOB, { limit: 100 })), ids([m1, m2, m4, m3, m5, m6]), 'a limit above the count');
    assertEqual(ids(await store.listMessages(BOB2)), ids([others[0] as MessageRecord]), 'an id extending the conversation is another one');

    // Paging with the oldest timestamp of each page walks the whole conversation (no tie on a page boundary here).
    const seen: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await store.listMessages(BOB, before === undefined ? { limit: 2 } : { limit: 2, before });
      if (page.length === 0) break;
      seen.unshift(...ids(page));
      before = page[0]?.timestamp;
    }
    assertEqual(seen, ids([m1, m2, m4, m3, m5, m6]), 'paging backwards two at a time');
  }),
);

test('summarises conversations with their last message and unread count, most recent first', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const a1 = incoming(ALICE, 1, 1000);
    const a2 = incoming(ALICE, 2, 2000);
    const a3 = outgoing(ALICE, 3, 3000);
    const b1 = incoming(BOB, 4, 1500);
    const b2 = incoming(BOB, 5, 4000, { readAt: 4100 });
    const b3 = incoming(BOB, 6, 1200, { kind: 'system', event: 'identity-changed' });
    const b4 = incoming(BOB, 7, 1300, { deleted: true });
    const n1 = outgoing(ME, 8, 500, { author: ME });
    await store.write((tx) => {
      for (const r of [a1, a2, a3, b1, b2, b3, b4, n1]) tx.putMessage(r);
    });
    const expected: ConversationSummary[] = [
      { conversation: BOB, lastMessage: b2, unread: 1 },
      { conversation: ALICE, lastMessage: a3, unread: 2 },
      { conversation: ME, lastMessage: n1, unread: 0 },
    ];
    assertEqual(await store.listConversations(), expected, 'unread: incoming, kind message, not read, not deleted');

    await store.write((tx) => {
      tx.putMessage({ ...a1, readAt: 5000 });
      tx.putMessage(incoming(ME, 9, 6000, { author: ME, direction: 'incoming' }));
      tx.putMessage(incoming(BOB2, 10, 100));
    });
    const after = await store.listConversations();
    assertEqual(
      after.map((c) => [c.conversation, c.lastMessage?.id, c.unread]),
      [
        [ME, messageId(9), 1],
        [BOB, messageId(5), 1],
        [ALICE, messageId(3), 1],
        [BOB2, messageId(10), 1],
      ],
      'after reading one and two new conversations',
    );
  }),
);

test('lists the unread messages of a conversation, oldest first', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const first = incoming(ALICE, 1, 1000, { receivedAt: 1500 });
    const tie = incoming(ALICE, 2, 1000, { receivedAt: 1100 });
    const later = incoming(ALICE, 3, 2000);
    await store.write((tx) => {
      for (const m of [later, first, tie]) tx.putMessage(m);
      tx.putMessage(incoming(ALICE, 4, 1200, { readAt: 1300 }));
      tx.putMessage(incoming(ALICE, 5, 1200, { deleted: true }));
      tx.putMessage(incoming(ALICE, 6, 1200, { kind: 'system', event: 'identity-changed' }));
      tx.putMessage(outgoing(ALICE, 7, 1200));
      tx.putMessage(incoming(BOB, 8, 1200));
    });
    assertEqual(await store.listUnread(ALICE), [tie, first, later], 'incoming messages not read and not deleted, by timestamp then receivedAt');
    await store.write((tx) => tx.putMessage({ ...first, readAt: 3000 }));
    assertEqual(await store.listUnread(ALICE), [tie, later], 'after one is read');
    assertEqual(await store.listUnread('nobody'), [], 'a conversation with none');
  }),
);

test('stores device lists per account and replaces them', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    assertEqual(await store.getDeviceList(ALICE), undefined, 'none yet');
    const list = { accountId: ALICE, devices: [{ deviceId: 1, registrationId: 7 }, { deviceId: 4, registrationId: 2_147_483_647 }] };
    await store.write((tx) => {
      tx.putDeviceList(list);
      tx.putDeviceList({ accountId: BOB, devices: [] });
    });
    assertEqual(await store.getDeviceList(ALICE), list, 'as written');
    assertEqual(await store.getDeviceList(BOB), { accountId: BOB, devices: [] }, 'an empty list is a list');
    await store.write((tx) => tx.putDeviceList({ accountId: ALICE, devices: [{ deviceId: 2, registrationId: 9 }] }));
    assertEqual(await store.getDeviceList(ALICE), { accountId: ALICE, devices: [{ deviceId: 2, registrationId: 9 }] }, 'replaced');
  }),
);

test('picks the last message of a conversation by timestamp, then by receivedAt', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const early = incoming(ALICE, 1, 1000, { receivedAt: 1100 });
    const late = incoming(ALICE, 2, 1000, { receivedAt: 1200 });
    const older = incoming(ALICE, 3, 900, { receivedAt: 9999 });
    await store.write((tx) => {
      tx.putMessage(late);
      tx.putMessage(early);
      tx.putMessage(older);
    });
    assertEqual(await store.listConversations(), [{ conversation: ALICE, lastMessage: late, unread: 3 }], 'summary');
  }),
);

test('lists the messages whose expiry has come', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const due = incoming(ALICE, 1, 1000, { expireTimer: 60, expiresAt: 61_000 });
    const exactlyNow = outgoing(BOB, 2, 1000, { expireTimer: 60, expiresAt: 70_000 });
    const later = incoming(BOB, 3, 1000, { expireTimer: 60, expiresAt: 70_001 });
    const timerNotStarted = incoming(BOB, 4, 1000, { expireTimer: 60 });
    const never = incoming(ALICE, 5, 1000);
    await store.write((tx) => {
      for (const r of [due, exactlyNow, later, timerNotStarted, never]) tx.putMessage(r);
    });
    assertEqual(sortedIds(await store.listExpired(70_000)), sortedIds([due, exactlyNow]), 'expired at 70000 (inclusive)');
    assertEqual(sortedIds(await store.listExpired(60_999)), [], 'nothing before the first expiry');
    assertEqual(sortedIds(await store.listExpired(Number.MAX_SAFE_INTEGER)), sortedIds([due, exactlyNow, later]), 'every started timer');
    assertEqual((await store.listExpired(61_000))[0], due, 'the whole record');
  }),
);

test('lists pending outgoing messages oldest first', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const p1 = outgoing(BOB, 1, 3000, { status: 'pending' });
    const p2 = outgoing(ALICE, 2, 1000, { status: 'pending' });
    const p3 = outgoing(BOB2, 3, 2000, { status: 'pending' });
    await store.write((tx) => {
      for (const r of [p1, p2, p3]) tx.putMessage(r);
      (['sent', 'delivered', 'read', 'failed'] as const).forEach((status, i) => tx.putMessage(outgoing(BOB, 10 + i, 500, { status })));
      tx.putMessage(incoming(BOB, 20, 100));
    });
    assertEqual(await store.listPending(), [p2, p3, p1], 'pending, oldest first');
    await store.write((tx) => tx.putMessage({ ...p2, status: 'sent' }));
    assertEqual(await store.listPending(), [p3, p1], 'after one was sent');
  }),
);

test('finds our outgoing messages of a conversation by timestamp', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const o1 = outgoing(BOB, 1, 1000);
    const o2 = outgoing(BOB, 2, 2000, { status: 'delivered' });
    const o3 = outgoing(BOB, 3, 2000, { status: 'failed', receivedAt: 2500 });
    const o4 = outgoing(BOB, 4, 3000);
    const theirs = incoming(BOB, 5, 2000);
    const elsewhere = outgoing(BOB2, 6, 2000);
    await store.write((tx) => {
      for (const r of [o1, o2, o3, o4, theirs, elsewhere]) tx.putMessage(r);
    });
    assertEqual(sortedIds(await store.findOutgoingByTimestamp(BOB, [2000])), sortedIds([o2, o3]), 'both at 2000, not theirs, not elsewhere');
    assertEqual(sortedIds(await store.findOutgoingByTimestamp(BOB, [3000, 1000, 1500])), sortedIds([o1, o4]), 'several timestamps');
    assertEqual(await store.findOutgoingByTimestamp(BOB, []), [], 'no timestamps');
    assertEqual(await store.findOutgoingByTimestamp(BOB, [1000]), [o1], 'the whole record');
  }),
);

test('applies the writes of a batch in order', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const m = incoming(ALICE, 1, 1000);
    await store.write((tx) => {
      tx.putKv('k', 'first');
      tx.putKv('k', 'second');
      tx.putKv('gone', 'x');
      tx.putKv('gone', undefined);
      tx.putMessage(m);
      tx.deleteMessage(ALICE, ALICE, messageId(1));
      tx.putSession({ account: ALICE, device: 1 }, testBytes(10, 1));
      tx.putSession({ account: ALICE, device: 1 }, undefined);
      tx.putSession({ account: ALICE, device: 1 }, testBytes(10, 2));
    });
    assertEqual(await store.getKv('k'), 'second', 'last put wins');
    assertEqual(await store.getKv('gone'), undefined, 'put then delete');
    assertEqual(await store.getMessage(ALICE, ALICE, messageId(1)), undefined, 'message put then deleted');
    assertEqual(await store.loadSession({ account: ALICE, device: 1 }), testBytes(10, 2), 'session put, deleted, put');
    await store.write(() => {});
    assertEqual(await store.getKv('k'), 'second', 'an empty batch changes nothing');
  }),
);

test('a batch whose callback throws writes nothing and rejects with STORAGE_ERROR', async (ctx) =>
  withStore(ctx, async (h) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const signed = await generateSignedPreKey(ctx.crypto, identity, 1, 1000);
    const kyber = await generateKyberPreKey(ctx.crypto, identity, 1, true, 1000);
    const [oneTime] = await generateOneTimePreKeys(ctx.crypto, 1, 1);
    assert(oneTime !== undefined, 'one-time prekey generated');
    const before = incoming(ALICE, 1, 1000);
    const contact: ContactRecord = { accountId: ALICE, username: 'alice', verified: false, expireTimer: 0 };
    await h.store.write((tx) => {
      tx.putKv('k', 'before');
      tx.putSession({ account: ALICE, device: 1 }, testBytes(10, 1));
      tx.putMessage(before);
      tx.putOneTimePreKey(oneTime);
      tx.putContact(contact);
    });

    const failure = new Error('the callback failed half way');
    const err = await assertRejects(
      h.store.write((tx) => {
        tx.putAccount(account(identity));
        tx.putKv('k', 'after');
        tx.putKv('new', 'value');
        tx.putSession({ account: ALICE, device: 1 }, undefined);
        tx.putSession({ account: BOB, device: 1 }, testBytes(10, 2));
        tx.putIdentity(BOB, testBytes(65, 1));
        tx.putSignedPreKey(signed);
        tx.removeOneTimePreKey(1);
        tx.putKyberPreKey(kyber);
        tx.addKyberBaseKey(1, testBytes(33, 1));
        tx.putContact({ ...contact, username: 'renamed' });
        tx.putMessage({ ...before, body: 'changed' });
        tx.putMessage(incoming(BOB, 2, 2000));
        tx.deleteMessage(ALICE, ALICE, messageId(1));
        throw failure;
      }),
      ClientErrorCode.StorageError,
      'write with a throwing callback',
    );
    assert(err !== failure, 'a plain error is reported as STORAGE_ERROR');

    const check = async (store: ClientStore, when: string): Promise<void> => {
      assertEqual(await store.getAccount(), undefined, `${when}: account`);
      assertEqual(await store.getKv('k'), 'before', `${when}: kv`);
      assertEqual(await store.getKv('new'), undefined, `${when}: new kv`);
      assertEqual(await store.loadSession({ account: ALICE, device: 1 }), testBytes(10, 1), `${when}: deleted session`);
      assertEqual(await store.listSessionDevices(BOB), [], `${when}: new session`);
      assertEqual(await store.getIdentity(BOB), undefined, `${when}: identity`);
      assertEqual(await store.listSignedPreKeys(), [], `${when}: signed prekey`);
      assertEqual(await store.getOneTimePreKey(1), oneTime, `${when}: removed one-time prekey`);
      assertEqual(await store.listKyberPreKeys(), [], `${when}: kyber prekey`);
      assert(!(await store.hasKyberBaseKey(1, testBytes(33, 1))), `${when}: kyber base key`);
      assertEqual(await store.findContactByUsername('alice'), contact, `${when}: contact`);
      assertEqual(await store.listMessages(ALICE), [before], `${when}: replaced and deleted message`);
      assertEqual(await store.listConversations(), [{ conversation: ALICE, lastMessage: before, unread: 1 }], `${when}: conversations`);
    };
    await check(h.store, 'right after');
    await h.store.write((tx) => tx.putKv('new', 'usable'));
    assertEqual(await h.store.getKv('new'), 'usable', 'the store still works after a failed batch');
    const reopened = await h.reopen();
    await reopened.write((tx) => tx.putKv('new', undefined));
    await check(reopened, 'after reopening');
  }),
);

test('a ClientError thrown by a batch callback reaches the caller as it is, and nothing is written', async (ctx) =>
  withStore(ctx, async ({ store }) => {
    const thrown = new ClientError(ClientErrorCode.InvalidArgument, 'rejected by the caller');
    const err = await assertRejects(
      store.write((tx) => {
        tx.putKv('k', 'v');
        throw thrown;
      }),
      ClientErrorCode.InvalidArgument,
      'write with a callback throwing a ClientError',
    );
    assert(err === thrown, 'the same error object');
    assertEqual(await store.getKv('k'), undefined, 'nothing written');
  }),
);

test('keeps everything written across a reopen', async (ctx) =>
  withStore(ctx, async (h) => {
    const identity = await generateIdentityKeyPair(ctx.crypto);
    const acct = account(identity, { username: 'me' });
    const signed = await generateSignedPreKey(ctx.crypto, identity, 5, 1234);
    const kyber = await generateKyberPreKey(ctx.crypto, identity, 6, false, 5678);
    const oneTime = await generateOneTimePreKeys(ctx.crypto, 7, 2);
    const contact: ContactRecord = { accountId: BOB, username: 'Bob', name: 'Bob', verified: true, expireTimer: 60 };
    const messages = [
      incoming(BOB, 1, 1000, { expireTimer: 60, expiresAt: 61_000 }),
      outgoing(BOB, 2, 2000, { status: 'pending', attachments: [{ id: 'ef'.repeat(32), key: testBytes(64, 7), digest: testBytes(32, 8), size: 10, contentType: 'text/plain' }] }),
    ];
    await h.store.write((tx) => {
      tx.putAccount(acct);
      tx.putKv('k', 'v');
      tx.putSession({ account: BOB, device: 2 }, testBytes(500, 1));
      tx.putIdentity(BOB, testBytes(65, 2));
      tx.putSignedPreKey(signed);
      tx.putKyberPreKey(kyber);
      tx.addKyberBaseKey(6, testBytes(33, 3));
      for (const k of oneTime) tx.putOneTimePreKey(k);
      tx.putContact(contact);
      for (const m of messages) tx.putMessage(m);
    });

    const store = await h.reopen();
    assertEqual(await store.getAccount(), acct, 'account');
    assertEqual(await store.getKv('k'), 'v', 'kv');
    assertEqual(await store.loadSession({ account: BOB, device: 2 }), testBytes(500, 1), 'session');
    assertEqual(await store.listSessionDevices(BOB), [2], 'session devices');
    assertEqual(await store.getIdentity(BOB), testBytes(65, 2), 'identity');
    assertEqual(await store.listSignedPreKeys(), [signed], 'signed prekeys');
    assertEqual(await store.listKyberPreKeys(), [kyber], 'kyber prekeys');
    assert(await store.hasKyberBaseKey(6, testBytes(33, 3)), 'kyber base key');
    assertEqual(await store.getOneTimePreKey(8), oneTime[1], 'one-time prekey');
    assertEqual(await store.findContactByUsername('bob'), contact, 'contact');
    assertEqual(await store.listMessages(BOB), messages, 'messages');
    assertEqual(await store.listPending(), [messages[1]], 'pending');
    assertEqual(await store.listExpired(61_000), [messages[0]], 'expired');
    assertEqual(await store.listConversations(), [{ conversation: BOB, lastMessage: messages[1], unread: 1 }], 'conversations');

    await store.write((tx) => {
      tx.putKv('k', undefined);
      tx.removeKyberPreKey(6);
    });
    const again = await h.reopen();
    assertEqual(await again.getKv('k'), undefined, 'a deletion is durable too');
    assert(!(await again.hasKyberBaseKey(6, testBytes(33, 3))), 'forgotten base keys stay forgotten');
  }),
);

test('keeps groups and MLS key package bundles, durably and exactly', async (ctx) =>
  withStore(ctx, async (h) => {
    const { store } = h;
    assertEqual(await store.listGroups(), [], 'no groups at first');
    const group: GroupRecord = {
      groupId: 'ab'.repeat(32),
      state: testBytes(3000, 9),
      epoch: 4,
      name: 'Book club 📚',
      admins: [ALICE, BOB],
      expireTimer: 0,
      createdAt: 1_700_000_000_000,
      active: true,
      updatedAt: 1_700_000_100_000,
    };
    const unnamed: GroupRecord = { groupId: 'cd'.repeat(32), state: testBytes(10, 1), epoch: 0, admins: [], expireTimer: 60, createdAt: 1, active: false, updatedAt: 1 };
    await store.write((tx) => {
      tx.putGroup(group);
      tx.putGroup(unnamed);
      tx.putKeyPackageBundle('01ff', testBytes(700, 2));
      tx.putKeyPackageBundle('02aa', testBytes(700, 3));
    });
    assertEqual(await store.getGroup(group.groupId), group, 'group round trip');
    assertEqual(await store.getGroup(unnamed.groupId), unnamed, 'absent name stays absent');
    assertEqual(await store.getGroup('ef'.repeat(32)), undefined, 'unknown group');
    assertEqual((await store.listGroups()).map((g) => g.groupId).sort(), [group.groupId, unnamed.groupId], 'list');
    assertEqual((await store.listKeyPackageRefs()).sort(), ['01ff', '02aa'], 'refs');
    const next: GroupRecord = { ...group, epoch: 5, state: testBytes(3100, 4), name: 'Renamed' };
    await store.write((tx) => {
      tx.putGroup(next);
      tx.putKeyPackageBundle('01ff', undefined);
    });
    const again = await h.reopen();
    assertEqual(await again.getGroup(group.groupId), next, 'replaced and durable');
    assertEqual(await again.getKeyPackageBundle('01ff'), undefined, 'a used bundle is gone');
    assertEqual(await again.getKeyPackageBundle('02aa'), testBytes(700, 3), 'the other bundle stays');
  }),
);

/** Every ClientStore conformance case, in a stable order. */
export const CLIENT_STORE_CASES: readonly ConformanceCase[] = cases;
