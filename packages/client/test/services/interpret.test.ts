/**
 * interpret() (src/inbox/interpret.ts) on the in-memory store: what each kind of content means for a conversation,
 * as Effects. interpret stores nothing itself; the tests stage the Effects into the store where what is stored matters.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Content } from '../../src/content/content.js';
import type { ClientEvents } from '../../src/events.js';
import { interpret } from '../../src/inbox/interpret.js';
import type { Effects, InterpretEnv, InterpretTarget } from '../../src/inbox/interpret.js';
import type { GroupRecord, MessageRecord, MessageStatus } from '../../src/storage/store.js';
import { Emitter } from '../../src/util/emitter.js';
import { MemoryClientStore } from '../support/memory-store.js';

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const GROUP = 'cd'.repeat(32);
const NOW = 1_700_000_100_000;
const SENT_AT = 1_700_000_000_000;

const id = (n: number): string => n.toString(16).padStart(32, '0');

const fromAlice: InterpretTarget = { conversation: ALICE, author: ALICE, authorDevice: 2, group: undefined };
/** Our own content in the conversation with Alice, from another device of ours (a sync-sent copy). */
const fromMe: InterpretTarget = { conversation: ALICE, author: ME, authorDevice: 3, group: undefined };

const group: GroupRecord = {
  groupId: GROUP,
  state: new Uint8Array([1, 2, 3]),
  epoch: 4,
  name: 'Book club',
  admins: [ALICE],
  expireTimer: 0,
  createdAt: SENT_AT - 10_000,
  active: true,
  updatedAt: SENT_AT - 10_000,
};
const inGroup = (g: GroupRecord): InterpretTarget => ({ conversation: GROUP, author: ALICE, authorDevice: 2, group: g });

function env(store: MemoryClientStore, historyNotice: InterpretEnv['historyNotice'] = async () => undefined): InterpretEnv {
  return { store, me: ME, now: NOW, historyNotice };
}

async function holding(...messages: MessageRecord[]): Promise<MemoryClientStore> {
  const store = MemoryClientStore.open();
  await store.write((tx) => {
    for (const m of messages) tx.putMessage(m);
  });
  return store;
}

/** A message Alice sent us. */
function theirs(n: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation: ALICE,
    id: id(n),
    author: ALICE,
    authorDevice: 2,
    timestamp: SENT_AT + n,
    receivedAt: SENT_AT + n + 5,
    direction: 'incoming',
    kind: 'message',
    body: `from alice ${n}`,
    status: 'received',
    ...fields,
  };
}

/** A message we sent Alice. */
function ours(n: number, fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    conversation: ALICE,
    id: id(n),
    author: ME,
    authorDevice: 1,
    timestamp: SENT_AT + n,
    receivedAt: SENT_AT + n,
    direction: 'outgoing',
    kind: 'message',
    body: `to alice ${n}`,
    status: 'sent',
    ...fields,
  };
}

/** `m` deleted for everyone, as stored: no text left. */
function deleted(m: MessageRecord): MessageRecord {
  const { body: _body, ...rest } = m;
  return { ...rest, deleted: true };
}

const historyLine: MessageRecord = {
  conversation: ALICE,
  id: id(900),
  author: ME,
  authorDevice: 1,
  timestamp: SENT_AT - 50_000,
  receivedAt: NOW,
  direction: 'incoming',
  kind: 'system',
  event: 'history-unavailable',
  body: JSON.stringify({ since: SENT_AT - 50_000 }),
  status: 'received',
};

/** Everything an Effects can hold, to compare at once. */
function contents(e: Effects) {
  return {
    writes: e.writes,
    created: e.created,
    updated: e.updated,
    contactWrites: e.contactWrites,
    groupWrites: e.groupWrites,
    deliveryReceipts: e.deliveryReceipts,
    after: e.after.length,
    typing: e.typing,
  };
}

const NOTHING = { writes: [], created: [], updated: [], contactWrites: [], groupWrites: [], deliveryReceipts: [], after: 0, typing: undefined };

/** Only changes to existing messages: what an edit, a delete, a reaction or a receipt leads to. */
const updates = (u: MessageRecord[]) => ({ ...NOTHING, writes: u, updated: u });

const text = (n: number, body: string, fields: Partial<Extract<Content, { type: 'message' }>> = {}): Content => ({
  type: 'message',
  id: id(n),
  timestamp: SENT_AT + n,
  body,
  ...fields,
});

describe('interpret: a message', () => {
  it('is written and announced, and a 1:1 incoming one is answered with a delivery receipt', async () => {
    const store = await holding();
    const effects = await interpret(env(store), fromAlice, text(1, 'hello'));
    const expected: MessageRecord = {
      conversation: ALICE,
      id: id(1),
      author: ALICE,
      authorDevice: 2,
      timestamp: SENT_AT + 1,
      receivedAt: NOW,
      direction: 'incoming',
      kind: 'message',
      body: 'hello',
      status: 'received',
    };
    expect(contents(effects)).toEqual({
      ...NOTHING,
      writes: [expected],
      created: [expected],
      deliveryReceipts: [{ to: ALICE, id: id(1) }],
    });
    expect(await store.getMessage(ALICE, ALICE, id(1)), 'interpret itself stores nothing').toBeUndefined();

    const events = new Emitter<ClientEvents>();
    const announced: MessageRecord[] = [];
    events.on('message', (m) => announced.push(m));
    await store.write((tx) => effects.stage(tx));
    effects.emit(events);
    expect(await store.getMessage(ALICE, ALICE, id(1))).toEqual(expected);
    expect(announced).toEqual([expected]);
  });

  it('keeps the quote, the attachments and the timer of an incoming message, whose timer starts only once read', async () => {
    const attachment = { id: 'ab'.repeat(32), key: new Uint8Array(64).fill(1), digest: new Uint8Array(32).fill(2), size: 10, contentType: 'image/png' };
    const quote = { id: id(7), author: ME, text: 'what you said' };
    const effects = await interpret(env(await holding()), fromAlice, text(1, 'look', { attachments: [attachment], quote, expireTimer: 60 }));
    expect(effects.writes).toEqual([expect.objectContaining({ body: 'look', attachments: [attachment], quote, expireTimer: 60 })]);
    expect(effects.writes[0]).not.toHaveProperty('expiresAt');
  });

  it('records our own message from another device as sent, its timer running from when it was sent, and answers nothing', async () => {
    const effects = await interpret(env(await holding()), fromMe, text(1, 'hi alice', { expireTimer: 60 }));
    const expected: MessageRecord = {
      conversation: ALICE,
      id: id(1),
      author: ME,
      authorDevice: 3,
      timestamp: SENT_AT + 1,
      receivedAt: NOW,
      direction: 'outgoing',
      kind: 'message',
      body: 'hi alice',
      status: 'sent',
      expireTimer: 60,
      expiresAt: SENT_AT + 1 + 60_000,
    };
    expect(contents(effects)).toEqual({ ...NOTHING, writes: [expected], created: [expected] });
  });

  it('sends no delivery receipt in a group, and puts no history line there', async () => {
    const historyNotice = vi.fn(async () => ({ ...historyLine, conversation: GROUP }));
    const effects = await interpret(env(await holding(), historyNotice), inGroup(group), text(1, 'hello all'));
    expect(effects.writes).toEqual([expect.objectContaining({ conversation: GROUP, id: id(1), author: ALICE, body: 'hello all', direction: 'incoming' })]);
    expect(effects.created).toEqual(effects.writes);
    expect(effects.deliveryReceipts).toEqual([]);
    expect(historyNotice).not.toHaveBeenCalled();
  });

  it('puts the history-unavailable line that env.historyNotice gives before the message, and announces both', async () => {
    const historyNotice = vi.fn(async (_conversation: string) => historyLine);
    const effects = await interpret(env(await holding(), historyNotice), fromAlice, text(1, 'hello'));
    expect(historyNotice).toHaveBeenCalledWith(ALICE);
    expect(effects.writes).toEqual([historyLine, expect.objectContaining({ id: id(1), body: 'hello' })]);
    expect(effects.created).toEqual(effects.writes);
  });

  it('changes nothing when it is a resend of a message already held', async () => {
    const held = theirs(1, { body: 'original' });
    const store = await holding(held);
    const effects = await interpret(env(store, async () => historyLine), fromAlice, text(1, 'altered on the way back'));
    expect(contents(effects)).toEqual(NOTHING);
  });

  it('is a new message when only another author holds that id', async () => {
    const store = await holding(ours(1));
    const effects = await interpret(env(store), fromAlice, text(1, 'same id, other author'));
    expect(effects.created).toEqual([expect.objectContaining({ author: ALICE, id: id(1), body: 'same id, other author' })]);
  });
});

describe('interpret: an edit', () => {
  const edit = (targetId: string, body: string): Content => ({ type: 'edit', id: id(50), timestamp: NOW - 100, targetId, body });

  it("replaces the text of the author's own message and says when", async () => {
    const held = theirs(1, { readAt: NOW - 500, reactions: [{ author: ME, emoji: '👍', timestamp: NOW - 400 }] });
    const effects = await interpret(env(await holding(held)), fromAlice, edit(id(1), 'corrected'));
    expect(contents(effects)).toEqual(updates([{ ...held, body: 'corrected', editedAt: NOW - 100 }]));
  });

  it('leaves alone a message of someone else with that id, and an id no one used', async () => {
    const store = await holding(ours(1));
    expect(contents(await interpret(env(store), fromAlice, edit(id(1), 'hijacked')))).toEqual(NOTHING);
    expect(contents(await interpret(env(store), fromAlice, edit(id(2), 'nothing there')))).toEqual(NOTHING);
  });

  it('leaves alone a message deleted for everyone, and a system line', async () => {
    const store = await holding(deleted(theirs(1)), theirs(2, { kind: 'system', event: 'timer-changed', body: '60' }));
    expect(contents(await interpret(env(store), fromAlice, edit(id(1), 'back from the dead')))).toEqual(NOTHING);
    expect(contents(await interpret(env(store), fromAlice, edit(id(2), 'rewritten line')))).toEqual(NOTHING);
  });
});

describe('interpret: a delete', () => {
  const del = (targetId: string): Content => ({ type: 'delete', id: id(60), timestamp: NOW - 100, targetId });

  it("withdraws the author's own message: its text, attachments, quote and reactions go, the rest stays", async () => {
    const held = theirs(1, {
      attachments: [{ id: 'ab'.repeat(32), key: new Uint8Array(64).fill(1), digest: new Uint8Array(32).fill(2), size: 10, contentType: 'image/png' }],
      quote: { id: id(9), author: ME, text: 'quoted' },
      reactions: [{ author: ME, emoji: '👍', timestamp: NOW - 400 }],
      readAt: NOW - 500,
      expireTimer: 60,
      expiresAt: NOW + 59_500,
    });
    const effects = await interpret(env(await holding(held)), fromAlice, del(id(1)));
    const withdrawn: MessageRecord = {
      conversation: ALICE,
      id: id(1),
      author: ALICE,
      authorDevice: 2,
      timestamp: held.timestamp,
      receivedAt: held.receivedAt,
      direction: 'incoming',
      kind: 'message',
      status: 'received',
      readAt: NOW - 500,
      expireTimer: 60,
      expiresAt: NOW + 59_500,
      deleted: true,
    };
    expect(contents(effects)).toEqual(updates([withdrawn]));
  });

  it('leaves alone a message of someone else with that id, and one already deleted', async () => {
    const store = await holding(ours(1), deleted(theirs(2)));
    expect(contents(await interpret(env(store), fromAlice, del(id(1))))).toEqual(NOTHING);
    expect(contents(await interpret(env(store), fromAlice, del(id(2))))).toEqual(NOTHING);
  });
});

describe('interpret: a reaction', () => {
  const react = (target: MessageRecord, emoji: string, remove = false): Content => ({
    type: 'reaction',
    id: id(70),
    timestamp: NOW - 100,
    targetId: target.id,
    targetAuthor: target.author,
    emoji,
    remove,
  });

  it("replaces the author's previous reaction on the message its target author names, and keeps the others'", async () => {
    const mine = ours(1, { reactions: [{ author: ALICE, emoji: '❤️', timestamp: NOW - 900 }, { author: ME, emoji: '👍', timestamp: NOW - 800 }] });
    const effects = await interpret(env(await holding(mine)), fromAlice, react(mine, '😂'));
    expect(contents(effects)).toEqual(
      updates([{ ...mine, reactions: [{ author: ME, emoji: '👍', timestamp: NOW - 800 }, { author: ALICE, emoji: '😂', timestamp: NOW - 100 }] }]),
    );
  });

  it("`remove` takes back the author's reaction and only theirs", async () => {
    const mine = ours(1, { reactions: [{ author: ALICE, emoji: '❤️', timestamp: NOW - 900 }, { author: ME, emoji: '👍', timestamp: NOW - 800 }] });
    const effects = await interpret(env(await holding(mine)), fromAlice, react(mine, '❤️', true));
    expect(contents(effects)).toEqual(updates([{ ...mine, reactions: [{ author: ME, emoji: '👍', timestamp: NOW - 800 }] }]));
  });

  it('leaves alone a message deleted for everyone, and one its target author does not hold', async () => {
    const gone = deleted(ours(1));
    const store = await holding(gone, ours(2));
    expect(contents(await interpret(env(store), fromAlice, react(gone, '👍')))).toEqual(NOTHING);
    expect(contents(await interpret(env(store), fromAlice, react({ ...ours(2), author: ALICE }, '👍')))).toEqual(NOTHING);
  });
});

describe('interpret: a receipt', () => {
  const receipt = (kind: 'delivered' | 'read', ...targets: MessageRecord[]): Content => ({
    type: 'receipt',
    id: id(80),
    timestamp: NOW - 100,
    receipt: kind,
    targetIds: targets.map((t) => t.id),
  });
  const withStatus = (status: MessageStatus, n: number) => ours(n, { status });
  const all = (['pending', 'sent', 'failed', 'delivered', 'read'] as const).map((status, i) => withStatus(status, i + 1));

  it('marks our messages delivered, from pending, sent or failed, and never moves one read back', async () => {
    const [pending, sent, failed] = all as [MessageRecord, MessageRecord, MessageRecord];
    const effects = await interpret(env(await holding(...all)), fromAlice, receipt('delivered', ...all));
    expect(contents(effects)).toEqual(
      updates([
        { ...pending, status: 'delivered' },
        { ...sent, status: 'delivered' },
        { ...failed, status: 'delivered' },
      ]),
    );
  });

  it('marks our messages read from any status before read', async () => {
    const effects = await interpret(env(await holding(...all)), fromAlice, receipt('read', ...all));
    expect(contents(effects)).toEqual(updates(all.filter((m) => m.status !== 'read').map((m) => ({ ...m, status: 'read' as const }))));
  });

  it('a later delivered receipt does not undo a read one', async () => {
    const store = await holding(withStatus('sent', 1));
    const read = await interpret(env(store), fromAlice, receipt('read', withStatus('sent', 1)));
    await store.write((tx) => read.stage(tx));
    const late = await interpret(env(store), fromAlice, receipt('delivered', withStatus('sent', 1)));
    expect(contents(late)).toEqual(NOTHING);
    expect((await store.getMessage(ALICE, ME, id(1)))?.status).toBe('read');
  });

  it('names only our outgoing messages: their message with that id, or an unknown id, is left alone', async () => {
    const store = await holding(theirs(1));
    expect(contents(await interpret(env(store), fromAlice, receipt('read', theirs(1), theirs(2))))).toEqual(NOTHING);
  });

  it('from our own account changes nothing', async () => {
    const store = await holding(withStatus('sent', 1));
    expect(contents(await interpret(env(store), fromMe, receipt('read', withStatus('sent', 1))))).toEqual(NOTHING);
  });
});

describe('interpret: typing', () => {
  const typing: Content = { type: 'typing', id: id(90), timestamp: NOW - 100, action: 'started' };

  it('is an event, not stored', async () => {
    const effects = await interpret(env(await holding()), fromAlice, typing);
    expect(contents(effects)).toEqual({ ...NOTHING, typing: { conversation: ALICE, author: ALICE, authorDevice: 2, action: 'started' } });
  });

  it('from ourselves is not shown', async () => {
    expect(contents(await interpret(env(await holding()), fromMe, typing))).toEqual(NOTHING);
  });

  it('is shown from a group the user is in, and dropped from a group held as a message request', async () => {
    expect((await interpret(env(await holding()), inGroup(group), typing)).typing).toEqual({ conversation: GROUP, author: ALICE, authorDevice: 2, action: 'started' });
    expect(contents(await interpret(env(await holding()), inGroup({ ...group, request: true }), typing))).toEqual(NOTHING);
  });
});

describe('interpret: the disappearing-message timer', () => {
  const timer = (seconds: number): Content => ({ type: 'timer', id: id(95), timestamp: NOW - 100, expireTimer: seconds });
  const line = (conversation: string, seconds: number): MessageRecord => ({
    conversation,
    id: id(95),
    author: ALICE,
    authorDevice: 2,
    timestamp: NOW - 100,
    receivedAt: NOW,
    direction: 'incoming',
    kind: 'system',
    event: 'timer-changed',
    body: String(seconds),
    status: 'received',
  });

  it("1:1: writes the contact's timer, keeping the rest of the contact, and a timer line", async () => {
    const store = await holding();
    const contact = { accountId: ALICE, username: 'alice', verified: true, expireTimer: 0, accepted: true };
    await store.write((tx) => tx.putContact(contact));
    const effects = await interpret(env(store), fromAlice, timer(3600));
    expect(contents(effects)).toEqual({ ...NOTHING, contactWrites: [{ ...contact, expireTimer: 3600 }], writes: [line(ALICE, 3600)], created: [line(ALICE, 3600)] });
  });

  it('1:1 with someone not yet a contact: writes a new contact with the timer', async () => {
    const effects = await interpret(env(await holding()), fromAlice, timer(0));
    expect(effects.contactWrites).toEqual([{ accountId: ALICE, verified: false, expireTimer: 0 }]);
    expect(effects.writes).toEqual([line(ALICE, 0)]);
  });

  it("in a group: writes the group's timer, no contact, and a timer line in the group", async () => {
    const effects = await interpret(env(await holding()), inGroup(group), timer(60));
    expect(contents(effects)).toEqual({ ...NOTHING, groupWrites: [{ ...group, expireTimer: 60 }], writes: [line(GROUP, 60)], created: [line(GROUP, 60)] });
  });
});

describe('interpret: contents that need nothing here', () => {
  it('a sync from another account, a session reset, a resend request and a group update change nothing', async () => {
    const store = await holding(ours(1));
    const base = { id: id(99), timestamp: NOW - 100 };
    const contentsOfNoConcern: Content[] = [
      { ...base, type: 'sync-read', read: [{ author: ALICE, targetId: id(1) }] },
      { ...base, type: 'sync-request', target: ALICE, action: 'block' },
      { ...base, type: 'session-reset' },
      { ...base, type: 'resend-request', targetTimestamps: [SENT_AT + 1], device: 1 },
      { ...base, type: 'group-update', name: 'Renamed' },
    ];
    for (const c of contentsOfNoConcern) expect(contents(await interpret(env(store), fromAlice, c)), c.type).toEqual(NOTHING);
  });
});
