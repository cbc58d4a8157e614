/**
 * Directory (src/contacts/directory.ts) on the in-memory store. The server's side is a fake HttpApi holding only
 * the two methods Directory uses (lookupUsername, getAccount), over a table of usernames and identity keys that a
 * test changes (a re-registration) or makes lie (another identity key for a known account): the real HttpApi and
 * its wire format are covered by test/transport/http-api.test.ts and, with a real server, by the integration tests
 * under test/client/, so here only what Directory does with the answers matters.
 * - resolve: by account id or username (with or without @, any case), from the store first, else from the server;
 *   ourselves without asking; an unknown one refused with UNKNOWN_USER and nothing stored;
 * - safety numbers: the identity key pinned on first use, then the pinned one whatever the server says later;
 *   markVerified, and the verified mark cleared on an identity change;
 * - usernames: a claimed one stored only once the server confirms it, one that moved to a new account (relocate:
 *   the notice line, the identity-changed event, the old account losing the name);
 * - displayName and the history-unavailable line of a linked device.
 */
import { encodeIdentityKey, formatSafetyNumber, fromHex, generateIdentityKeyPair, safetyNumber } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { describe, expect, it } from 'vitest';
import { Directory } from '../../src/contacts/directory.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { ClientEvents, IdentityChangedEvent } from '../../src/events.js';
import { EARLIER_CONTACTS_KV } from '../../src/onboarding.js';
import type { AccountRecord, ContactRecord, GroupRecord, MessageRecord } from '../../src/storage/store.js';
import type { AccountKey, HttpApi } from '../../src/transport/http-api.js';
import { Emitter } from '../../src/util/emitter.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { rejection, testAccount } from '../support/test-account.js';

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const ALICE_NEW = 'a2'.repeat(16);
const BOB = 'bb'.repeat(16);
const GROUP = 'cd'.repeat(32);
const NOW = 1_700_000_100_000;
const LINKED_AT = NOW - 1_000_000;

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: 2, createdAt: LINKED_AT, username: 'Me_Myself' });
const aliceKey = encodeIdentityKey((await generateIdentityKeyPair(crypto)).publicKey);
const otherKey = encodeIdentityKey((await generateIdentityKeyPair(crypto)).publicKey);

/** The server's accounts and usernames, and the calls made to it. */
class FakeDirectoryApi {
  readonly keys = new Map<string, Uint8Array>([
    [ALICE, aliceKey],
    [BOB, otherKey],
  ]);
  /** Lowercased username → account id. */
  readonly usernames = new Map<string, string>([
    ['alice', ALICE],
    ['bob', BOB],
  ]);
  readonly calls: string[] = [];
  /** Makes every call fail as an unreachable server would. */
  offline = false;

  private reach(call: string): void {
    this.calls.push(call);
    if (this.offline) throw new ClientError(ClientErrorCode.ServerUnreachable, 'the server is out of reach');
  }

  readonly api = {
    lookupUsername: async (username: string): Promise<AccountKey | undefined> => {
      this.reach(`lookup ${username}`);
      const accountId = this.usernames.get(username.toLowerCase());
      const identityKey = accountId && this.keys.get(accountId);
      return accountId && identityKey ? { accountId, identityKey } : undefined;
    },
    getAccount: async (accountId: string): Promise<AccountKey> => {
      this.reach(`account ${accountId}`);
      const identityKey = this.keys.get(accountId);
      if (!identityKey) throw new ClientError(ClientErrorCode.ServerError, 'no such account', { code: 'ACCOUNT_NOT_FOUND', status: 404 });
      return { accountId, identityKey };
    },
  };
}

async function setup(held: { contacts?: ContactRecord[]; messages?: MessageRecord[]; groups?: GroupRecord[]; kv?: Record<string, string>; me?: AccountRecord } = {}) {
  const store = MemoryClientStore.open();
  await store.write((tx) => {
    for (const c of held.contacts ?? []) tx.putContact(c);
    for (const m of held.messages ?? []) tx.putMessage(m);
    for (const g of held.groups ?? []) tx.putGroup(g);
    for (const [k, v] of Object.entries(held.kv ?? {})) tx.putKv(k, v);
  });
  const server = new FakeDirectoryApi();
  const events = new Emitter<ClientEvents>();
  const identityChanges: IdentityChangedEvent[] = [];
  const announced: MessageRecord[] = [];
  events.on('identity-changed', (e) => identityChanges.push(e));
  events.on('message', (m) => announced.push(m));
  const me = held.me ?? account;
  const directory = new Directory({ store, crypto, identity, api: server.api as unknown as HttpApi, events, account: () => me, now: () => NOW });
  return { store, server, directory, identityChanges, announced };
}

const alice: ContactRecord = { accountId: ALICE, username: 'alice', verified: false, expireTimer: 0 };


/** The identity-changed line relocate puts in the new account's conversation. */
const identityLine = (conversation: string): MessageRecord => ({
  conversation,
  id: expect.stringMatching(/^[0-9a-f]{32}$/),
  author: conversation,
  authorDevice: 0,
  timestamp: NOW,
  receivedAt: NOW,
  direction: 'incoming',
  kind: 'system',
  event: 'identity-changed',
  status: 'received',
});

describe('Directory.resolve', () => {
  it('an account id never seen: the server confirms it exists, and a new unverified contact is stored', async () => {
    const { store, server, directory } = await setup();
    const contact = await directory.resolve(ALICE);
    expect(contact).toEqual({ accountId: ALICE, verified: false, expireTimer: 0 });
    expect(await store.getContact(ALICE)).toEqual(contact);
    expect(server.calls).toEqual([`account ${ALICE}`]);
  });

  it('an account id the server does not know is refused with its error, and nothing is stored', async () => {
    const { store, directory } = await setup();
    const unknown = 'ee'.repeat(16);
    expect(ClientError.isServer(await rejection(directory.resolve(unknown)), 'ACCOUNT_NOT_FOUND')).toBe(true);
    expect(await store.listContacts()).toEqual([]);
  });

  it('a known contact comes from the store, by account id or by username with @ in any case, without asking', async () => {
    const known: ContactRecord = { ...alice, verified: true, expireTimer: 60, accepted: true };
    const { server, directory } = await setup({ contacts: [known] });
    expect(await directory.resolve(ALICE)).toEqual(known);
    expect(await directory.resolve('@ALICE')).toEqual(known);
    expect(await directory.resolve('Alice')).toEqual(known);
    expect(server.calls).toEqual([]);
  });

  it('a username never seen: looked up, and stored with the account it names, keeping what was known of that account', async () => {
    const byId: ContactRecord = { accountId: ALICE, verified: true, expireTimer: 60, accepted: true, name: 'Al' };
    const { store, server, directory } = await setup({ contacts: [byId] });
    const contact = await directory.resolve('@alice');
    expect(contact).toEqual({ ...byId, username: 'alice' });
    expect(await store.getContact(ALICE)).toEqual(contact);
    expect(server.calls).toEqual(['lookup alice']);
  });

  it('a username no account has is UNKNOWN_USER, and nothing is stored', async () => {
    const { store, directory } = await setup();
    expect(ClientError.is(await rejection(directory.resolve('nobody')), ClientErrorCode.UnknownUser)).toBe(true);
    expect(await store.listContacts()).toEqual([]);
  });

  it('ourselves, by account id or by our username in any case: a verified contact, without asking or storing', async () => {
    const { store, server, directory } = await setup();
    const self: ContactRecord = { accountId: ME, username: 'Me_Myself', verified: true, expireTimer: 0 };
    expect(await directory.resolve(ME)).toEqual(self);
    expect(await directory.resolve('@me_myself')).toEqual(self);
    expect(server.calls).toEqual([]);
    expect(await store.listContacts()).toEqual([]);
  });
});

describe('Directory safety numbers and verification', () => {
  it('pins the identity key the server gives on first use, and computes the number both sides compute', async () => {
    const { store, server, directory } = await setup({ contacts: [alice] });
    const view = await directory.safetyNumber('alice');
    expect(await store.getIdentity(ALICE)).toEqual(aliceKey);
    expect(server.calls).toEqual([`account ${ALICE}`]);
    // What Alice's device computes, with the roles swapped.
    const theirs = await safetyNumber(
      crypto,
      { identifier: fromHex(ALICE), identityKey: aliceKey },
      { identifier: fromHex(ME), identityKey: encodeIdentityKey(identity.publicKey) },
    );
    expect(view.digits).toMatch(/^[0-9]{60}$/);
    expect(view.digits).toBe(theirs.digits);
    expect(view.formatted).toBe(formatSafetyNumber(view.digits));
    expect(view.verified).toBe(false);
  });

  it('uses the pinned key, not a different one the server gives later for the same account', async () => {
    const { store, server, directory } = await setup({ contacts: [alice] });
    const first = await directory.safetyNumber(ALICE);
    server.keys.set(ALICE, otherKey); // the server now lies about Alice's key
    const second = await directory.safetyNumber(ALICE);
    expect(second.digits).toBe(first.digits);
    expect(await store.getIdentity(ALICE)).toEqual(aliceKey);
    expect(server.calls, 'a pinned key is not asked for again').toEqual([`account ${ALICE}`]);
  });

  it('a different key is a different number (what comparing out of band catches)', async () => {
    const a = await setup({ contacts: [alice] });
    const b = await setup({ contacts: [alice] });
    b.server.keys.set(ALICE, otherKey);
    expect((await a.directory.safetyNumber(ALICE)).digits).not.toBe((await b.directory.safetyNumber(ALICE)).digits);
  });

  it('markVerified sets and clears the mark, and the safety number says so', async () => {
    const { store, directory } = await setup({ contacts: [{ ...alice, accepted: true, expireTimer: 30 }] });
    await directory.markVerified('alice');
    expect(await store.getContact(ALICE)).toEqual({ ...alice, accepted: true, expireTimer: 30, verified: true });
    expect((await directory.safetyNumber(ALICE)).verified).toBe(true);
    await directory.markVerified(ALICE, false);
    expect((await store.getContact(ALICE))?.verified).toBe(false);
    expect((await directory.safetyNumber(ALICE)).verified).toBe(false);
  });

  it('markVerified of an unknown username stores nothing', async () => {
    const { store, directory } = await setup();
    expect(ClientError.is(await rejection(directory.markVerified('nobody')), ClientErrorCode.UnknownUser)).toBe(true);
    expect(await store.listContacts()).toEqual([]);
  });
});

describe('Directory.relocate (a username moved to a new account)', () => {
  it('moves the username, unverifies, records and announces the identity change in the new conversation', async () => {
    const old: ContactRecord = { ...alice, verified: true, expireTimer: 60, accepted: true };
    const { store, server, directory, identityChanges, announced } = await setup({ contacts: [old] });
    server.usernames.set('alice', ALICE_NEW);
    server.keys.set(ALICE_NEW, otherKey);
    const moved = await directory.relocate(ALICE, 'alice');
    const expected: ContactRecord = { accountId: ALICE_NEW, username: 'alice', verified: false, expireTimer: 0, identityChangedAt: NOW };
    expect(moved).toEqual(expected);
    expect(await store.getContact(ALICE_NEW)).toEqual(expected);
    const { username: _gone, ...oldWithoutName } = old;
    expect(await store.getContact(ALICE), 'the old account keeps its record, not the name').toEqual(oldWithoutName);
    expect(await store.findContactByUsername('alice')).toEqual(expected);
    expect(await store.listMessages(ALICE_NEW)).toEqual([identityLine(ALICE_NEW)]);
    expect(identityChanges).toEqual([{ accountId: ALICE_NEW, username: 'alice' }]);
    expect(announced).toEqual([identityLine(ALICE_NEW)]);
  });

  it('a verified contact of the new account loses its verified mark', async () => {
    const { store, server, directory } = await setup({ contacts: [alice, { accountId: ALICE_NEW, verified: true, expireTimer: 30, accepted: true }] });
    server.usernames.set('alice', ALICE_NEW);
    server.keys.set(ALICE_NEW, otherKey);
    await directory.relocate(ALICE, 'alice');
    expect(await store.getContact(ALICE_NEW)).toEqual({ accountId: ALICE_NEW, username: 'alice', verified: false, expireTimer: 30, accepted: true, identityChangedAt: NOW });
  });

  it('does nothing when the server says the username did not move, or belongs to no one', async () => {
    const { store, server, directory, identityChanges, announced } = await setup({ contacts: [alice] });
    expect(await directory.relocate(ALICE, 'alice')).toBeUndefined();
    server.usernames.delete('alice');
    expect(await directory.relocate(ALICE, 'alice')).toBeUndefined();
    expect(await store.listContacts()).toEqual([alice]);
    expect(identityChanges).toEqual([]);
    expect(announced).toEqual([]);
  });
});

describe('Directory.learnUsername (a username claimed in a message)', () => {
  it('stores the username once the server confirms it is that account’s', async () => {
    const { store, directory } = await setup({ contacts: [{ accountId: ALICE, verified: false, expireTimer: 0, accepted: true }] });
    await directory.learnUsername(ALICE, 'alice');
    expect(await store.getContact(ALICE)).toEqual({ accountId: ALICE, username: 'alice', verified: false, expireTimer: 0, accepted: true });
  });

  it('ignores a claim the server does not confirm: another account’s name, a name no one has, an unreachable server', async () => {
    const mallory = 'ee'.repeat(16);
    const { store, server, directory } = await setup();
    await directory.learnUsername(mallory, 'bob');
    await directory.learnUsername(mallory, 'nobody');
    server.offline = true;
    await directory.learnUsername(mallory, 'mallory');
    expect(await store.listContacts()).toEqual([]);
  });

  it('cannot take a known contact’s username: the server still says it is theirs, and nothing changes', async () => {
    const mallory = 'ee'.repeat(16);
    const { store, directory, identityChanges } = await setup({ contacts: [alice] });
    await directory.learnUsername(mallory, 'ALICE');
    expect(await store.listContacts()).toEqual([alice]);
    expect(identityChanges).toEqual([]);
  });

  it('a known contact’s username the server confirms for the claimer: the owner re-registered (relocate)', async () => {
    const { store, server, directory, identityChanges } = await setup({ contacts: [alice] });
    server.usernames.set('alice', ALICE_NEW);
    server.keys.set(ALICE_NEW, otherKey);
    await directory.learnUsername(ALICE_NEW, 'alice');
    expect((await store.getContact(ALICE_NEW))?.username).toBe('alice');
    expect((await store.getContact(ALICE))?.username).toBeUndefined();
    expect(identityChanges).toEqual([{ accountId: ALICE_NEW, username: 'alice' }]);
  });

  it('asks nothing for a username already known as that contact’s, in any case', async () => {
    const { server, directory } = await setup({ contacts: [alice] });
    await directory.learnUsername(ALICE, 'Alice');
    expect(server.calls).toEqual([]);
  });
});

describe('Directory.displayName', () => {
  it('is our username for us (or "me"), a group’s name (or its id’s start), a contact’s username, else its name, else its id’s start', async () => {
    const group: GroupRecord = { groupId: GROUP, state: new Uint8Array([1]), epoch: 1, name: 'Book club', admins: [ME], expireTimer: 0, createdAt: NOW, active: true, updatedAt: NOW };
    const unnamed: GroupRecord = { ...group, groupId: 'ef'.repeat(32) };
    delete (unnamed as { name?: string }).name;
    const { directory } = await setup({ contacts: [{ ...alice, name: 'Alice L.' }, { accountId: BOB, name: 'Bobby', verified: false, expireTimer: 0 }], groups: [group, unnamed] });
    expect(await directory.displayName(ME)).toBe('Me_Myself');
    expect(await directory.displayName(GROUP)).toBe('Book club');
    expect(await directory.displayName('ef'.repeat(32))).toBe('efefefefefef');
    expect(await directory.displayName(ALICE)).toBe('alice');
    expect(await directory.displayName(BOB)).toBe('Bobby');
    expect(await directory.displayName('ee'.repeat(16))).toBe('eeeeeeee');
    const { username: _none, ...nameless } = account;
    expect(await (await setup({ me: nameless })).directory.displayName(ME)).toBe('me');
  });
});

describe('Directory.historyNotice (a linked device)', () => {
  const held = (conversation: string): MessageRecord => ({
    conversation,
    id: '01'.repeat(16),
    author: conversation,
    authorDevice: 1,
    timestamp: NOW - 10,
    receivedAt: NOW - 5,
    direction: 'incoming',
    kind: 'message',
    body: 'hi',
    status: 'received',
  });

  it('a line dated at the link for a contact the account knew before, while its conversation here is empty', async () => {
    const { directory } = await setup({ kv: { [EARLIER_CONTACTS_KV]: JSON.stringify([ALICE, BOB]) }, messages: [held(BOB)] });
    expect(await directory.historyNotice(ALICE)).toEqual({
      conversation: ALICE,
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      author: ME,
      authorDevice: 2,
      timestamp: LINKED_AT,
      receivedAt: NOW,
      direction: 'incoming',
      kind: 'system',
      event: 'history-unavailable',
      status: 'received',
      body: JSON.stringify({ since: LINKED_AT }),
    });
    expect(await directory.historyNotice(BOB), 'the conversation has messages here already').toBeUndefined();
    expect(await directory.historyNotice('ee'.repeat(16)), 'not known before the link').toBeUndefined();
  });

  it('nothing on a device that was not linked, or whose list is unreadable', async () => {
    expect(await (await setup()).directory.historyNotice(ALICE)).toBeUndefined();
    expect(await (await setup({ kv: { [EARLIER_CONTACTS_KV]: '{not json' } })).directory.historyNotice(ALICE)).toBeUndefined();
    expect(await (await setup({ kv: { [EARLIER_CONTACTS_KV]: JSON.stringify({ [ALICE]: true }) } })).directory.historyNotice(ALICE)).toBeUndefined();
  });
});
