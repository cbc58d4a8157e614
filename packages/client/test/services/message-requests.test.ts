/**
 * MessageRequests (src/contacts/message-requests.ts) on the in-memory store, with the real SerialQueue and a fan-out
 * that records what it would send: the state of a conversation, the user's decisions (stored here, then sent to our
 * other devices as a sync-request), and the acceptance that writing to someone implies.
 */
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { describe, expect, it } from 'vitest';
import { MessageRequests } from '../../src/contacts/message-requests.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { ClientEvents, ConversationChangedEvent } from '../../src/events.js';
import type { ContactRecord, GroupRecord, MessageRecord } from '../../src/storage/store.js';
import { Emitter } from '../../src/util/emitter.js';
import { SerialQueue } from '../../src/util/serial-queue.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { RecordingFanOut } from '../support/recording-fan-out.js';
import type { SentContent } from '../support/recording-fan-out.js';
import { rejection, testAccount } from '../support/test-account.js';

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const BOB = 'bb'.repeat(16);
const GROUP = 'cd'.repeat(32);
const NOW = 1_700_000_100_000;
const USERNAMES: Readonly<Record<string, string>> = { alice: ALICE, bob: BOB };

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: 1, createdAt: NOW - 1_000_000 });

const id = (n: number): string => n.toString(16).padStart(32, '0');
const MESSAGE_ID = /^[0-9a-f]{32}$/;

const alice: ContactRecord = { accountId: ALICE, username: 'alice', verified: false, expireTimer: 0 };
const group: GroupRecord = {
  groupId: GROUP,
  state: new Uint8Array([1, 2, 3]),
  epoch: 2,
  name: 'Book club',
  admins: [BOB],
  expireTimer: 0,
  createdAt: NOW - 5000,
  active: true,
  updatedAt: NOW - 5000,
  addedBy: BOB,
};

function message(conversation: string, author: string, n: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation,
    id: id(n),
    author,
    authorDevice: 1,
    timestamp: NOW - 1000 + n,
    receivedAt: NOW - 900 + n,
    direction: author === ME ? 'outgoing' : 'incoming',
    kind: 'message',
    body: `message ${n}`,
    status: author === ME ? 'sent' : 'received',
    ...fields,
  };
}

/** MessageRequests over a fresh store holding `contacts`, `groups` and `messages`. */
async function setup(held: { contacts?: ContactRecord[]; groups?: GroupRecord[]; messages?: MessageRecord[]; leaveFails?: boolean } = {}) {
  const store = MemoryClientStore.open();
  await store.write((tx) => {
    for (const c of held.contacts ?? []) tx.putContact(c);
    for (const g of held.groups ?? []) tx.putGroup(g);
    for (const m of held.messages ?? []) tx.putMessage(m);
  });
  const events = new Emitter<ClientEvents>();
  const changes: ConversationChangedEvent[] = [];
  events.on('conversation-changed', (e) => changes.push(e));
  const fanOut = new RecordingFanOut({ store, crypto, identity, events, account: () => account, now: () => NOW });
  const left: string[] = [];
  const rotations: number[] = [];
  const requests = new MessageRequests({
    store,
    queue: new SerialQueue(),
    fanOut,
    events,
    account: () => account,
    now: () => NOW,
    accountOf: async (peer) => {
      if (/^[0-9a-f]{32}$/.test(peer)) return peer;
      const found = USERNAMES[peer];
      if (found === undefined) throw new ClientError(ClientErrorCode.UnknownUser, 'no such user');
      return found;
    },
    leaveGroup: async (groupId) => {
      if (held.leaveFails) throw new ClientError(ClientErrorCode.ServerUnreachable, 'the server is out of reach');
      left.push(groupId);
    },
    rotateProfileKey: async () => {
      rotations.push(Date.now());
    },
  });
  return { store, requests, fanOut, changes, left, rotations };
}

/** The sync-request a decision sends to our own account's other devices. */
const syncRequest = (target: string, action: 'accept' | 'block' | 'unblock' | 'delete'): SentContent => ({
  accountId: ME,
  own: true,
  content: { type: 'sync-request', id: expect.stringMatching(MESSAGE_ID), timestamp: NOW, target, action },
});

/** The read receipt held back while a conversation was a request. */
const readReceipt = (to: string, ids: string[]): SentContent => ({
  accountId: to,
  own: false,
  content: { type: 'receipt', id: expect.stringMatching(MESSAGE_ID), timestamp: NOW, receipt: 'read', targetIds: ids },
});


describe('MessageRequests.state', () => {
  it('is accepted for our own account, even with no contact record', async () => {
    const { requests } = await setup();
    expect(await requests.state(ME)).toBe('accepted');
  });

  it('is a request from an account never seen or not yet accepted, accepted once accepted, blocked once blocked', async () => {
    const { requests } = await setup({
      contacts: [alice, { accountId: BOB, verified: false, expireTimer: 0, accepted: true, blocked: true }, { accountId: 'cc'.repeat(16), verified: false, expireTimer: 0, accepted: true }],
    });
    expect(await requests.state('dd'.repeat(16))).toBe('request');
    expect(await requests.state(ALICE)).toBe('request');
    expect(await requests.state('cc'.repeat(16))).toBe('accepted');
    expect(await requests.state(BOB), 'blocked wins over accepted').toBe('blocked');
  });

  it('resolves a username to its account', async () => {
    const { requests } = await setup({ contacts: [{ ...alice, accepted: true }] });
    expect(await requests.state('alice')).toBe('accepted');
  });

  it('is a request for a group held as one, accepted for a group the user is in', async () => {
    const { requests } = await setup({ groups: [{ ...group, request: true }, { ...group, groupId: 'ef'.repeat(32) }] });
    expect(await requests.state(GROUP)).toBe('request');
    expect(await requests.state('ef'.repeat(32))).toBe('accepted');
  });
});

describe('MessageRequests decisions', () => {
  it('accept: stores the contact as accepted, then tells our other devices, and announces it', async () => {
    const { store, requests, fanOut, changes } = await setup({ contacts: [alice] });
    const storedWhenSent: (ContactRecord | undefined)[] = [];
    fanOut.onSend = async () => {
      storedWhenSent.push(await store.getContact(ALICE));
    };
    await requests.accept('alice');
    expect(await store.getContact(ALICE)).toEqual({ ...alice, accepted: true });
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'accept')]);
    expect(storedWhenSent, 'the decision is stored before it is sent').toEqual([{ ...alice, accepted: true }]);
    expect(changes).toEqual([{ conversation: ALICE, state: 'accepted', deleted: false }]);
  });

  it('accept of a request: its sender now gets the read receipts held back, for read messages only', async () => {
    const read = message(ALICE, ALICE, 1, { readAt: NOW - 500 });
    const { requests, fanOut } = await setup({
      contacts: [alice],
      messages: [
        read,
        message(ALICE, ALICE, 2),
        message(ALICE, ALICE, 3, { readAt: NOW - 500, deleted: true, body: '' }),
        message(ALICE, ALICE, 4, { readAt: NOW - 500, kind: 'system', event: 'identity-changed' }),
        message(ALICE, ME, 5),
        message(BOB, BOB, 6, { readAt: NOW - 500 }),
      ],
    });
    await requests.accept(ALICE);
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'accept'), readReceipt(ALICE, [read.id])]);
  });

  it('accept of someone already accepted sends no receipts again', async () => {
    const { requests, fanOut } = await setup({ contacts: [{ ...alice, accepted: true }], messages: [message(ALICE, ALICE, 1, { readAt: NOW - 500 })] });
    await requests.accept(ALICE);
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'accept')]);
  });

  it('accept of a group request: the group is no longer one, and no receipts go', async () => {
    const { store, requests, fanOut, changes } = await setup({ groups: [{ ...group, request: true }], messages: [message(GROUP, BOB, 1, { readAt: NOW - 500 })] });
    await requests.accept(GROUP);
    expect(await store.getGroup(GROUP)).toEqual(group);
    expect(fanOut.sent).toEqual([syncRequest(GROUP, 'accept')]);
    expect(changes).toEqual([{ conversation: GROUP, state: 'accepted', deleted: false }]);
  });

  it('delete: the conversation goes, the contact is no longer accepted (not blocked), and our other devices are told', async () => {
    const kept = message(BOB, BOB, 3);
    const { store, requests, fanOut, changes, left } = await setup({
      contacts: [{ ...alice, accepted: true }],
      messages: [message(ALICE, ALICE, 1), message(ALICE, ME, 2), kept],
    });
    await requests.delete('alice');
    expect(await store.listMessages(ALICE)).toEqual([]);
    expect(await store.listMessages(BOB)).toEqual([kept]);
    expect(await store.getContact(ALICE)).toEqual(alice);
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'delete')]);
    expect(changes).toEqual([{ conversation: ALICE, state: 'request', deleted: true }]);
    expect(left).toEqual([]);
  });

  it('delete of a group: leaves it with the whole account, then its messages go', async () => {
    const { store, requests, fanOut, changes, left } = await setup({ groups: [{ ...group, request: true }], messages: [message(GROUP, BOB, 1)] });
    await requests.delete(GROUP);
    expect(left).toEqual([GROUP]);
    expect(await store.listMessages(GROUP)).toEqual([]);
    expect(fanOut.sent).toEqual([syncRequest(GROUP, 'delete')]);
    expect(changes).toEqual([{ conversation: GROUP, state: 'request', deleted: true }]);
  });

  it('delete of a group that could not be left keeps its messages and tells no one', async () => {
    const history = [message(GROUP, BOB, 1)];
    const { store, requests, fanOut, changes } = await setup({ groups: [group], messages: history, leaveFails: true });
    expect(ClientError.is(await rejection(requests.delete(GROUP)), ClientErrorCode.ServerUnreachable)).toBe(true);
    expect(await store.listMessages(GROUP)).toEqual(history);
    expect(fanOut.sent).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('block: the contact is blocked, its history stays, and our other devices are told', async () => {
    const history = [message(ALICE, ALICE, 1)];
    const { store, requests, fanOut, changes, rotations } = await setup({ contacts: [{ ...alice, accepted: true }], messages: history });
    await requests.block('alice');
    // The profile key was rotated first, so that the sync copy carries the new one to our other devices.
    expect(rotations).toHaveLength(1);
    expect(await store.getContact(ALICE)).toEqual({ ...alice, accepted: true, blocked: true });
    expect(await store.listMessages(ALICE)).toEqual(history);
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'block')]);
    expect(changes).toEqual([{ conversation: ALICE, state: 'blocked', deleted: false }]);
    expect(await requests.blocked()).toEqual([{ ...alice, accepted: true, blocked: true }]);
  });

  it('unblock: the block goes (the field, not just its value) and what was accepted stays accepted', async () => {
    const { store, requests, fanOut, changes, rotations } = await setup({ contacts: [{ ...alice, accepted: true, blocked: true }] });
    await requests.unblock(ALICE);
    expect(rotations).toEqual([]);
    const contact = await store.getContact(ALICE);
    expect(contact).toEqual({ ...alice, accepted: true });
    expect(contact).not.toHaveProperty('blocked');
    expect(fanOut.sent).toEqual([syncRequest(ALICE, 'unblock')]);
    expect(changes).toEqual([{ conversation: ALICE, state: 'accepted', deleted: false }]);
    expect(await requests.blocked()).toEqual([]);
  });

  it('refuses to block a group or ourselves, or to unblock a group, with INVALID_ARGUMENT, and writes and sends nothing', async () => {
    const { store, requests, fanOut, changes, rotations } = await setup({ groups: [group] });
    for (const attempt of [requests.block(GROUP), requests.block(ME), requests.unblock(GROUP)]) {
      expect(ClientError.is(await rejection(attempt), ClientErrorCode.InvalidArgument)).toBe(true);
    }
    expect(rotations).toEqual([]);
    expect(await store.getGroup(GROUP)).toEqual(group);
    expect(await store.listContacts()).toEqual([]);
    expect(fanOut.sent).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('refuses a decision about a group this device does not hold with INVALID_ARGUMENT', async () => {
    const { requests, fanOut } = await setup();
    expect(ClientError.is(await rejection(requests.accept(GROUP)), ClientErrorCode.InvalidArgument)).toBe(true);
    expect(fanOut.sent).toEqual([]);
  });
});

describe('MessageRequests.acceptOnSend (writing to someone accepts their request)', () => {
  it('refuses a blocked account with BLOCKED, and writes and sends nothing', async () => {
    const blocked = { ...alice, accepted: true, blocked: true };
    const { store, requests, fanOut, changes } = await setup({ contacts: [blocked] });
    expect(ClientError.is(await rejection(requests.acceptOnSend(ALICE)), ClientErrorCode.Blocked)).toBe(true);
    expect(await store.getContact(ALICE)).toEqual(blocked);
    expect(fanOut.sent).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('accepts a request, announces it, and sends the read receipts held back', async () => {
    const read = message(ALICE, ALICE, 1, { readAt: NOW - 500 });
    const { store, requests, fanOut, changes } = await setup({ messages: [read, message(ALICE, ALICE, 2)] });
    await requests.acceptOnSend(ALICE);
    expect(await store.getContact(ALICE)).toEqual({ accountId: ALICE, verified: false, expireTimer: 0, accepted: true });
    expect(changes).toEqual([{ conversation: ALICE, state: 'accepted', deleted: false }]);
    // No sync-request: our other devices accept on the sync-sent copy of what is being written (inbox.ts WRITES).
    expect(fanOut.sent).toEqual([readReceipt(ALICE, [read.id])]);
  });

  it('sends nothing for a request of which nothing was read', async () => {
    const { store, requests, fanOut } = await setup({ contacts: [alice], messages: [message(ALICE, ALICE, 1)] });
    await requests.acceptOnSend(ALICE);
    expect(await store.getContact(ALICE)).toEqual({ ...alice, accepted: true });
    expect(fanOut.sent).toEqual([]);
  });

  it('does nothing for someone accepted already, or for ourselves', async () => {
    const { store, requests, fanOut, changes } = await setup({ contacts: [{ ...alice, accepted: true }], messages: [message(ALICE, ALICE, 1, { readAt: NOW - 500 })] });
    await requests.acceptOnSend(ALICE);
    await requests.acceptOnSend(ME);
    expect(await store.listContacts()).toEqual([{ ...alice, accepted: true }]);
    expect(fanOut.sent).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('accepts a group held as a request, on every device of ours; a group the user is in is left as it is', async () => {
    const other: GroupRecord = { ...group, groupId: 'ef'.repeat(32) };
    const { store, requests, fanOut, changes } = await setup({ groups: [{ ...group, request: true }, other] });
    await requests.acceptOnSend(GROUP);
    await requests.acceptOnSend(other.groupId);
    expect(await store.getGroup(GROUP)).toEqual(group);
    expect(await store.getGroup(other.groupId)).toEqual(other);
    expect(fanOut.sent).toEqual([syncRequest(GROUP, 'accept')]);
    expect(changes).toEqual([{ conversation: GROUP, state: 'accepted', deleted: false }]);
  });
});

describe('MessageRequests.decisionWrites (a decision synced from another device)', () => {
  it('is undefined for a group this device does not hold', async () => {
    const { requests } = await setup();
    expect(await requests.decisionWrites(GROUP, 'accept')).toBeUndefined();
    expect(await requests.decisionWrites(GROUP, 'delete')).toBeUndefined();
  });

  it('is undefined for blocking or unblocking a group, and for any decision about ourselves', async () => {
    const { requests } = await setup({ groups: [group] });
    expect(await requests.decisionWrites(GROUP, 'block')).toBeUndefined();
    expect(await requests.decisionWrites(GROUP, 'unblock')).toBeUndefined();
    expect(await requests.decisionWrites(ME, 'block')).toBeUndefined();
    expect(await requests.decisionWrites(ME, 'delete')).toBeUndefined();
  });

  it('writes what the decision means, and only when the caller applies it', async () => {
    const { store, requests, fanOut, changes } = await setup({ contacts: [{ ...alice, accepted: true }], messages: [message(ALICE, ALICE, 1)] });
    const writes = await requests.decisionWrites(ALICE, 'delete');
    expect(writes).toBeTypeOf('function');
    expect(await store.listMessages(ALICE), 'nothing written yet').toHaveLength(1);
    await store.write((tx) => writes?.(tx));
    expect(await store.getContact(ALICE)).toEqual(alice);
    expect(await store.listMessages(ALICE)).toEqual([]);
    expect(fanOut.sent, 'a synced decision is not sent on again').toEqual([]);
    expect(changes).toEqual([]);
  });
});
