/**
 * Outbox (src/outbox/outbox.ts) on the in-memory store, with a fan-out that records what it would send
 * (RecordingFanOut; a test makes a send fail through its onSend), the real Directory, MessageRequests, SerialQueue
 * and interpret, a fake server holding only the HttpApi methods these use here (getAccount, lookupUsername for the
 * Directory; uploadAttachment, downloadAttachment for attachments: the real HttpApi is covered by
 * test/transport/http-api.test.ts and, end to end, by test/client/), and a fake GroupManager that records group sends.
 * - a message: stored `pending` before anything is sent, then sent to the peer's devices and as a sync copy to ours,
 *   then `sent`; on failure `failed`, or left `pending` when offline and asked to (flushPending sends it later);
 *   a receipt that came first is not undone; an account gone (ACCOUNT_NOT_FOUND) drops it, or follows the username;
 * - edits, deletes, reactions, typing, the timer and read receipts: what goes to whom, and what is refused;
 * - attachments: uploaded encrypted, read back only when intact.
 */
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { describe, expect, it } from 'vitest';
import { Directory } from '../../src/contacts/directory.js';
import { MessageRequests } from '../../src/contacts/message-requests.js';
import type { Content } from '../../src/content/content.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { ClientEvents, IdentityChangedEvent } from '../../src/events.js';
import type { GroupManager } from '../../src/groups/group-manager.js';
import { interpret } from '../../src/inbox/interpret.js';
import { Outbox } from '../../src/outbox/outbox.js';
import type { ContactRecord, GroupRecord, MessageRecord } from '../../src/storage/store.js';
import type { AccountKey, HttpApi } from '../../src/transport/http-api.js';
import { Emitter } from '../../src/util/emitter.js';
import { SerialQueue } from '../../src/util/serial-queue.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { RecordingFanOut } from '../support/recording-fan-out.js';
import type { SentContent } from '../support/recording-fan-out.js';
import { rejection, testAccount } from '../support/test-account.js';

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const ALICE_NEW = 'a2'.repeat(16);
const GROUP = 'cd'.repeat(32);
const T0 = 1_700_000_000_000;
const DEVICE = 1;
const MESSAGE_ID = /^[0-9a-f]{32}$/;

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: DEVICE, createdAt: T0 - 1_000_000 });
const someKey = new Uint8Array(65).fill(5);

const alice: ContactRecord = { accountId: ALICE, username: 'alice', verified: false, expireTimer: 0, accepted: true };
const group: GroupRecord = { groupId: GROUP, state: new Uint8Array([1]), epoch: 1, name: 'Club', admins: [ME], expireTimer: 0, createdAt: T0, active: true, updatedAt: T0 };

const serverError = (code: 'ACCOUNT_NOT_FOUND' | 'RATE_LIMITED', status: number): ClientError =>
  new ClientError(ClientErrorCode.ServerError, `the server refused (${code})`, { code, status });
const unreachable = (): ClientError => new ClientError(ClientErrorCode.ServerUnreachable, 'the server is out of reach');

async function setup(held: { contacts?: ContactRecord[]; groups?: GroupRecord[]; messages?: MessageRecord[] } = {}) {
  const store = MemoryClientStore.open();
  await store.write((tx) => {
    for (const c of held.contacts ?? []) tx.putContact(c);
    for (const g of held.groups ?? []) tx.putGroup(g);
    for (const m of held.messages ?? []) tx.putMessage(m);
  });
  let clock = T0;
  const now = () => clock;
  const events = new Emitter<ClientEvents>();
  const log: string[] = [];
  events.on('message', (m) => log.push(`message ${m.kind} ${m.status}`));
  events.on('message-updated', (m) => log.push(`updated ${m.status}`));
  const identityChanges: IdentityChangedEvent[] = [];
  events.on('identity-changed', (e) => identityChanges.push(e));
  const fanOut = new RecordingFanOut({ store, crypto, identity, events, account: () => account, now });
  const usernames = new Map<string, string>([['alice', ALICE]]);
  const blobs = new Map<string, Uint8Array>();
  const api = {
    getAccount: async (accountId: string): Promise<AccountKey> => ({ accountId, identityKey: someKey }),
    lookupUsername: async (username: string): Promise<AccountKey | undefined> => {
      const accountId = usernames.get(username.toLowerCase());
      return accountId ? { accountId, identityKey: someKey } : undefined;
    },
    uploadAttachment: async (blob: Uint8Array) => {
      const id = (blobs.size + 1).toString(16).padStart(64, '0');
      blobs.set(id, blob.slice());
      return { id, size: blob.length, expiresAt: T0 + 1e9 };
    },
    downloadAttachment: async (id: string) => {
      const blob = blobs.get(id);
      if (!blob) throw new ClientError(ClientErrorCode.ServerError, 'gone', { code: 'NOT_FOUND', status: 404 });
      return blob;
    },
  } as unknown as HttpApi;
  const directory = new Directory({ store, crypto, identity, api, events, account: () => account, now });
  const queue = new SerialQueue();
  const requests = new MessageRequests({
    store,
    queue,
    fanOut,
    events,
    account: () => account,
    now,
    accountOf: async (peer) => (await directory.resolve(peer)).accountId,
    leaveGroup: async () => undefined,
    rotateProfileKey: async () => undefined,
  });
  const groupSends: { groupId: string; content: Content; applyLocally: boolean }[] = [];
  const groups = {
    sendContent: async (groupId: string, content: Content, applyLocally: boolean) => {
      groupSends.push({ groupId, content, applyLocally });
    },
  } as unknown as GroupManager;
  const outbox = new Outbox({
    store,
    api,
    queue,
    events,
    fanOut,
    directory,
    requests,
    groups: () => groups,
    account: () => account,
    now,
    interpret: (target, c) => interpret({ store, me: ME, now: now(), historyNotice: async () => undefined }, target, c),
  });
  const tick = (ms: number) => {
    clock += ms;
  };
  return { store, fanOut, outbox, log, groupSends, usernames, blobs, identityChanges, tick };
}

/** The two sends of a content to a person: to their devices, and the sync copy to our other devices. */
const toPersonAndSync = (to: string, content: Content): SentContent[] => [
  { accountId: to, own: false, content },
  { accountId: ME, own: true, content: { type: 'sync-sent', id: content.id, timestamp: content.timestamp, destination: to, content } },
];

function ours(n: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation: ALICE,
    id: n.toString(16).padStart(32, '0'),
    author: ME,
    authorDevice: DEVICE,
    timestamp: T0 - 1000 + n,
    receivedAt: T0 - 1000 + n,
    direction: 'outgoing',
    kind: 'message',
    body: `mine ${n}`,
    status: 'sent',
    ...fields,
  };
}

function theirs(n: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return { ...ours(n), author: ALICE, authorDevice: 2, direction: 'incoming', body: `theirs ${n}`, status: 'received', ...fields };
}


describe('Outbox.sendText', () => {
  it('stores the message pending before anything is sent, sends it and its sync copy, then records it sent', async () => {
    const { store, fanOut, outbox, log } = await setup({ contacts: [alice] });
    const statusAtSend: (string | undefined)[] = [];
    fanOut.onSend = async (s) => {
      const m = await store.listMessages(ALICE);
      statusAtSend.push(m[0]?.status);
      expect(s.content.id).toBe(m[0]?.id);
    };
    const record = await outbox.sendText('alice', 'hello');
    expect(record).toEqual({
      conversation: ALICE,
      id: expect.stringMatching(MESSAGE_ID),
      author: ME,
      authorDevice: DEVICE,
      timestamp: T0,
      receivedAt: T0,
      direction: 'outgoing',
      kind: 'message',
      body: 'hello',
      status: 'sent',
    });
    expect(await store.listMessages(ALICE)).toEqual([record]);
    expect(statusAtSend).toEqual(['pending', 'pending']);
    expect(fanOut.sent).toEqual(toPersonAndSync(ALICE, { type: 'message', id: record.id, timestamp: T0, body: 'hello' }));
    expect(log).toEqual(['message message pending', 'updated sent']);
  });

  it('carries the conversation’s timer, whose countdown starts when it is sent', async () => {
    const { fanOut, outbox } = await setup({ contacts: [{ ...alice, expireTimer: 60 }] });
    const record = await outbox.sendText(ALICE, 'soon gone');
    expect(record).toMatchObject({ expireTimer: 60, expiresAt: T0 + 60_000 });
    expect(fanOut.sent[0]?.content).toMatchObject({ expireTimer: 60 });
  });

  it('accepts the request of the person written to', async () => {
    const { store, outbox } = await setup({ contacts: [{ ...alice, accepted: false }] });
    await outbox.sendText(ALICE, 'hi');
    expect((await store.getContact(ALICE))?.accepted).toBe(true);
  });

  it('a note to ourselves goes only to our other devices', async () => {
    const { fanOut, outbox } = await setup();
    const record = await outbox.sendText(ME, 'note');
    expect(fanOut.sent).toEqual([toPersonAndSync(ME, { type: 'message', id: record.id, timestamp: T0, body: 'note' })[1]]);
  });

  it('refuses a blocked account with BLOCKED, storing and sending nothing', async () => {
    const { store, fanOut, outbox } = await setup({ contacts: [{ ...alice, blocked: true }] });
    expect(ClientError.is(await rejection(outbox.sendText(ALICE, 'hi')), ClientErrorCode.Blocked)).toBe(true);
    expect(await store.listMessages(ALICE)).toEqual([]);
    expect(fanOut.sent).toEqual([]);
  });

  it('a send the server refuses: the message is failed, and the error passes on', async () => {
    const { store, fanOut, outbox, log } = await setup({ contacts: [alice] });
    const refusal = serverError('RATE_LIMITED', 429);
    fanOut.onSend = async () => {
      throw refusal;
    };
    expect(await rejection(outbox.sendText(ALICE, 'hi'))).toBe(refusal);
    expect((await store.listMessages(ALICE)).map((m) => m.status)).toEqual(['failed']);
    expect(log).toEqual(['message message pending', 'updated failed']);
  });

  it('offline: failed, unless asked to queue it, when it stays pending and flushPending sends it with the same id', async () => {
    const { store, fanOut, outbox, tick } = await setup({ contacts: [alice] });
    fanOut.onSend = async () => {
      throw unreachable();
    };
    expect(ClientError.is(await rejection(outbox.sendText(ALICE, 'lost')), ClientErrorCode.ServerUnreachable)).toBe(true);
    tick(10);
    const queued = await outbox.sendText(ALICE, 'queued', { queueIfOffline: true });
    expect(queued.status).toBe('pending');
    expect((await store.listMessages(ALICE)).map((m) => [m.body, m.status])).toEqual([
      ['lost', 'failed'],
      ['queued', 'pending'],
    ]);

    // Still offline: it stays pending.
    await outbox.flushPending();
    expect((await store.getMessage(ALICE, ME, queued.id))?.status).toBe('pending');

    fanOut.onSend = async () => undefined;
    fanOut.sent.length = 0;
    tick(5000);
    await outbox.flushPending();
    expect(fanOut.sent).toEqual(toPersonAndSync(ALICE, { type: 'message', id: queued.id, timestamp: T0 + 10, body: 'queued' }));
    expect((await store.getMessage(ALICE, ME, queued.id))?.status).toBe('sent');
  });

  it('flushPending leaves system lines and other statuses alone', async () => {
    const line: MessageRecord = { ...ours(1, { status: 'pending' }), kind: 'system', event: 'timer-changed', body: '60' };
    const { fanOut, outbox } = await setup({ contacts: [alice], messages: [line, ours(2, { status: 'failed' }), ours(3, { status: 'sent' })] });
    await outbox.flushPending();
    expect(fanOut.sent).toEqual([]);
  });

  it('a receipt that arrived before the server’s answer is not undone by `sent`', async () => {
    const { store, fanOut, outbox } = await setup({ contacts: [alice] });
    fanOut.onSend = async (s) => {
      if (s.own) return;
      const m = await store.getMessage(ALICE, ME, s.content.id);
      if (m) await store.write((tx) => tx.putMessage({ ...m, status: 'delivered' }));
    };
    const record = await outbox.sendText(ALICE, 'quick');
    expect(record.status).toBe('delivered');
    expect((await store.getMessage(ALICE, ME, record.id))?.status).toBe('delivered');
  });

  it('an account that no longer exists: the message is dropped; if its username moved, it goes to the new account', async () => {
    const { store, fanOut, outbox, usernames, identityChanges } = await setup({ contacts: [alice] });
    fanOut.onSend = async (s) => {
      if (s.accountId === ALICE) throw serverError('ACCOUNT_NOT_FOUND', 404);
    };
    usernames.set('alice', ALICE_NEW);
    const record = await outbox.sendText('alice', 'are you there?');
    expect(record.conversation).toBe(ALICE_NEW);
    expect(await store.listMessages(ALICE)).toEqual([]);
    // Both at the same instant here: their order in the conversation is the store's tie-break, not checked.
    expect((await store.listMessages(ALICE_NEW)).map((m) => [m.kind, m.event ?? m.body, m.status]).sort()).toEqual([
      ['message', 'are you there?', 'sent'],
      ['system', 'identity-changed', 'received'],
    ]);
    expect(identityChanges).toEqual([{ accountId: ALICE_NEW, username: 'alice' }]);
    expect(fanOut.sent.map((s) => s.accountId)).toEqual([ALICE, ALICE_NEW, ME]);
  });

  it('an account that no longer exists whose username the server still gives it: dropped, and the error passes on', async () => {
    const { store, fanOut, outbox, identityChanges } = await setup({ contacts: [alice] });
    fanOut.onSend = async () => {
      throw serverError('ACCOUNT_NOT_FOUND', 404);
    };
    expect(ClientError.isServer(await rejection(outbox.sendText('alice', 'hi')), 'ACCOUNT_NOT_FOUND')).toBe(true);
    expect(await store.listMessages(ALICE)).toEqual([]);
    expect(fanOut.sent.map((s) => s.accountId)).toEqual([ALICE]);
    expect(identityChanges).toEqual([]);
  });

  it('an account that no longer exists and no username to follow: dropped, and the error passes on', async () => {
    const { store, fanOut, outbox } = await setup({ contacts: [{ accountId: ALICE, verified: false, expireTimer: 0, accepted: true }] });
    fanOut.onSend = async () => {
      throw serverError('ACCOUNT_NOT_FOUND', 404);
    };
    expect(ClientError.isServer(await rejection(outbox.sendText(ALICE, 'hi')), 'ACCOUNT_NOT_FOUND')).toBe(true);
    expect(await store.listMessages(ALICE)).toEqual([]);
  });

  it('to a group: through the group, not the fan-out', async () => {
    const { fanOut, outbox, groupSends } = await setup({ groups: [group] });
    const record = await outbox.sendText(GROUP, 'hello club');
    expect(groupSends).toEqual([{ groupId: GROUP, content: { type: 'message', id: record.id, timestamp: T0, body: 'hello club' }, applyLocally: false }]);
    expect(fanOut.sent).toEqual([]);
    expect(record.status).toBe('sent');
  });

  it('uploads attachments encrypted; they read back only intact', async () => {
    const { fanOut, outbox, blobs } = await setup({ contacts: [alice] });
    const data = new TextEncoder().encode('a picture, honestly');
    const record = await outbox.sendText(ALICE, '', { attachments: [{ data, contentType: 'image/png', fileName: 'p.png' }] });
    const pointer = record.attachments?.[0];
    expect(pointer).toMatchObject({ contentType: 'image/png', fileName: 'p.png', size: data.length });
    expect(record).not.toHaveProperty('body');
    expect(fanOut.sent[0]?.content).toEqual({ type: 'message', id: record.id, timestamp: T0, attachments: [pointer] });
    const blob = blobs.get(pointer?.id ?? '') as Uint8Array;
    expect(Buffer.from(blob).includes(Buffer.from(data)), 'the server never sees the plaintext').toBe(false);
    if (!pointer) throw new Error('no attachment');
    expect(await outbox.downloadAttachment(pointer)).toEqual(data);
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    expect(ClientError.is(await rejection(outbox.downloadAttachment(pointer)), ClientErrorCode.AttachmentCorrupted)).toBe(true);
  });
});

describe('Outbox: edits, deletes, reactions', () => {
  it('editMessage: sends the edit, then stores the new text and when', async () => {
    const mine = ours(1);
    const { store, fanOut, outbox } = await setup({ contacts: [alice], messages: [mine] });
    await outbox.editMessage(ALICE, mine.id, 'fixed');
    expect(fanOut.sent).toEqual(toPersonAndSync(ALICE, { type: 'edit', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, targetId: mine.id, body: 'fixed' }));
    expect(await store.getMessage(ALICE, ME, mine.id)).toEqual({ ...mine, body: 'fixed', editedAt: T0 });
  });

  it('editMessage refuses someone else’s message and a deleted one, sending nothing', async () => {
    const { fanOut, outbox } = await setup({ contacts: [alice], messages: [theirs(1), ours(2, { deleted: true })] });
    expect(ClientError.is(await rejection(outbox.editMessage(ALICE, theirs(1).id, 'mine now')), ClientErrorCode.InvalidArgument)).toBe(true);
    expect(ClientError.is(await rejection(outbox.editMessage(ALICE, ours(2).id, 'back')), ClientErrorCode.InvalidArgument)).toBe(true);
    expect(fanOut.sent).toEqual([]);
  });

  it('an edit the fan-out could not send changes nothing here', async () => {
    const mine = ours(1);
    const { store, fanOut, outbox } = await setup({ contacts: [alice], messages: [mine] });
    fanOut.onSend = async () => {
      throw unreachable();
    };
    await expect(outbox.editMessage(ALICE, mine.id, 'fixed')).rejects.toThrow();
    expect(await store.getMessage(ALICE, ME, mine.id)).toEqual(mine);
  });

  it('editMessage to a blocked account is refused with BLOCKED', async () => {
    const mine = ours(1);
    const { fanOut, outbox } = await setup({ contacts: [{ ...alice, blocked: true }], messages: [mine] });
    expect(ClientError.is(await rejection(outbox.editMessage(ALICE, mine.id, 'x')), ClientErrorCode.Blocked)).toBe(true);
    expect(fanOut.sent).toEqual([]);
  });

  it('deleteForEveryone: sends the delete and keeps only what a deleted message keeps', async () => {
    const mine = ours(1, { reactions: [{ author: ALICE, emoji: '👍', timestamp: T0 - 5 }], quote: { id: '09'.repeat(16), author: ALICE } });
    const { store, fanOut, outbox } = await setup({ contacts: [alice], messages: [mine] });
    await outbox.deleteForEveryone(ALICE, mine.id);
    expect(fanOut.sent).toEqual(toPersonAndSync(ALICE, { type: 'delete', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, targetId: mine.id }));
    const { body: _b, reactions: _r, quote: _q, ...kept } = mine;
    expect(await store.getMessage(ALICE, ME, mine.id)).toEqual({ ...kept, deleted: true });
  });

  it('react: sends the reaction and stores ours in place of any earlier one', async () => {
    const target = theirs(1, { reactions: [{ author: ME, emoji: '😐', timestamp: T0 - 9 }] });
    const { store, fanOut, outbox } = await setup({ contacts: [alice], messages: [target] });
    await outbox.react(ALICE, { id: target.id, author: ALICE }, '🎉');
    expect(fanOut.sent[0]?.content).toEqual({ type: 'reaction', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, targetId: target.id, targetAuthor: ALICE, emoji: '🎉', remove: false });
    expect((await store.getMessage(ALICE, ALICE, target.id))?.reactions).toEqual([{ author: ME, emoji: '🎉', timestamp: T0 }]);
    expect(ClientError.is(await rejection(outbox.react(ALICE, { id: target.id, author: ME }, '🎉')), ClientErrorCode.InvalidArgument)).toBe(true);
  });
});

describe('Outbox: typing, the timer, read receipts', () => {
  it('typing goes to an accepted person only, with no sync copy; nothing to a request, a blocked account or ourselves', async () => {
    const bob = 'bb'.repeat(16);
    const carol = 'cc'.repeat(16);
    const { fanOut, outbox } = await setup({
      contacts: [alice, { accountId: bob, verified: false, expireTimer: 0 }, { accountId: carol, verified: false, expireTimer: 0, accepted: true, blocked: true }],
    });
    await outbox.sendTyping(ALICE, 'started');
    await outbox.sendTyping(bob, 'started');
    await outbox.sendTyping(carol, 'started');
    await outbox.sendTyping(ME, 'started');
    expect(fanOut.sent).toEqual([{ accountId: ALICE, own: false, content: { type: 'typing', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, action: 'started' } }]);
  });

  it('setExpireTimer: sent, then applied here as on every other device; out of range is refused', async () => {
    const { store, fanOut, outbox } = await setup({ contacts: [alice] });
    for (const bad of [-1, 1.5, 365 * 24 * 3600 + 1]) {
      expect(ClientError.is(await rejection(outbox.setExpireTimer(ALICE, bad)), ClientErrorCode.InvalidArgument)).toBe(true);
    }
    expect(fanOut.sent).toEqual([]);
    await outbox.setExpireTimer(ALICE, 3600);
    expect(fanOut.sent).toEqual(toPersonAndSync(ALICE, { type: 'timer', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, expireTimer: 3600 }));
    expect((await store.getContact(ALICE))?.expireTimer).toBe(3600);
    expect((await store.listMessages(ALICE)).map((m) => m.event)).toEqual(['timer-changed']);
  });

  it('markRead: marks the unread read (timers start), tells the author and our other devices', async () => {
    const [a, b] = [theirs(1, { expireTimer: 10 }), theirs(2)];
    const { store, fanOut, outbox } = await setup({ contacts: [alice], messages: [a, b, theirs(3, { readAt: T0 - 1 })] });
    expect(await outbox.markRead('alice')).toBe(2);
    expect(await store.getMessage(ALICE, ALICE, a.id)).toEqual({ ...a, readAt: T0, expiresAt: T0 + 10_000 });
    expect(fanOut.sent).toEqual([
      { accountId: ALICE, own: false, content: { type: 'receipt', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, receipt: 'read', targetIds: [a.id, b.id] } },
      {
        accountId: ME,
        own: true,
        content: { type: 'sync-read', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, read: [a, b].map((m) => ({ author: ALICE, targetId: m.id })) },
      },
    ]);
    expect(await outbox.markRead(ALICE), 'nothing left unread').toBe(0);
    expect(fanOut.sent).toHaveLength(2);
  });

  it('markRead of a message request tells only our other devices', async () => {
    const { fanOut, outbox } = await setup({ contacts: [{ ...alice, accepted: false }], messages: [theirs(1)] });
    expect(await outbox.markRead(ALICE)).toBe(1);
    expect(fanOut.sent.map((s) => s.content.type)).toEqual(['sync-read']);
  });
});
