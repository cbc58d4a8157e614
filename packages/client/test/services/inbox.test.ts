/**
 * Inbox (src/inbox/inbox.ts) on the in-memory store, fed envelopes as the delivery socket hands them over. The
 * ciphertexts are real: a peer's device (test/support/peer-device.ts, its own SessionManager) starts a session from
 * this device's prekey bundle and encrypts content to it. Around the Inbox: the real Directory (its server a fake
 * HttpApi with the one method it uses here, lookupUsername: the real one is covered by the integration tests under
 * test/client/), MessageRequests, RetryRequests and SerialQueue, a fan-out that records what it would send
 * (RecordingFanOut, whose commit of the staged sessions is the real one), a fake GroupManager, and vitest's fake
 * clock for the retry requests' batching.
 * - receive → decrypt → store (session, prekey and message in one write) → ack → follow-ups (the receipt), in order;
 * - a redelivered envelope (lost ack, or a replay by the server): acknowledged, nothing stored or answered twice;
 * - one that does not decrypt (damaged, forged, malformed): a line in the conversation, an event, and a retry
 *   request for session failures; the sessions stay as they were;
 * - a storage failure: not acknowledged, so that the server delivers it again, which then succeeds once;
 * - a blocked sender (dropped, the session still advancing), typing from a request, a claimed username, a sync copy
 *   from our own other device, an envelope the server attributes to a known account but made with another identity.
 */
import { EnvelopeType, encodeEnvelope, encodeIdentityKey } from '@samizdat/protocol';
import type { PreKeyBundle, ProtocolAddress } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Directory } from '../../src/contacts/directory.js';
import { MessageRequests } from '../../src/contacts/message-requests.js';
import type { Content } from '../../src/content/content.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { ClientEvents, IdentityChangedEvent, TypingEvent, UndecryptableEvent } from '../../src/events.js';
import type { GroupManager } from '../../src/groups/group-manager.js';
import { Inbox } from '../../src/inbox/inbox.js';
import { RetryRequests } from '../../src/inbox/retry-requests.js';
import type { ContactRecord, MessageRecord } from '../../src/storage/store.js';
import type { AccountKey, HttpApi, ReceivedEnvelope } from '../../src/transport/http-api.js';
import { Emitter } from '../../src/util/emitter.js';
import { SerialQueue } from '../../src/util/serial-queue.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { PeerAccount, installPreKeys } from '../support/peer-device.js';
import type { PeerDevice } from '../support/peer-device.js';
import { RecordingFanOut } from '../support/recording-fan-out.js';
import { DeliveryReceipts } from '../../src/outbox/delivery-receipts.js';
import { SealedDelivery } from '../../src/sealed/sealed-delivery.js';
import { testAccount } from '../support/test-account.js';

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const BOB = 'bb'.repeat(16);
const DEVICE = 1;
const T0 = 1_700_000_000_000;
/** retry-requests.ts's batch window (private there). */
const RETRY_BATCH_MS = 200;
const MESSAGE_ID = /^[0-9a-f]{32}$/;

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: DEVICE, createdAt: T0 - 1_000_000 });
const me: ProtocolAddress = { account: ME, device: DEVICE };

let seq = 0;
const id = (): string => (++seq).toString(16).padStart(32, '0');
const text = (body: string, fields: Partial<Extract<Content, { type: 'message' }>> = {}): Extract<Content, { type: 'message' }> => ({
  type: 'message',
  id: id(),
  timestamp: T0 - 100 + seq,
  body,
  ...fields,
});

async function setup(held: { contacts?: ContactRecord[]; trustRoot?: () => Promise<Uint8Array> } = {}) {
  const store = MemoryClientStore.open();
  const bundle: PreKeyBundle = await installPreKeys(store, crypto, identity, DEVICE, 2);
  await store.write((tx) => {
    for (const c of held.contacts ?? []) tx.putContact(c);
  });
  const events = new Emitter<ClientEvents>();
  const log: string[] = [];
  const messages: MessageRecord[] = [];
  const undecryptable: UndecryptableEvent[] = [];
  const typing: TypingEvent[] = [];
  const identityChanges: IdentityChangedEvent[] = [];
  events.on('message', (m) => {
    messages.push(m);
    log.push(`message ${m.kind}`);
  });
  events.on('undecryptable', (e) => undecryptable.push(e));
  const sealedRejected: { timestamp: number; reason: string }[] = [];
  events.on('sealed-rejected', (e) => sealedRejected.push(e));
  events.on('typing', (e) => typing.push(e));
  events.on('identity-changed', (e) => identityChanges.push(e));
  const now = () => Date.now();
  const fanOut = new RecordingFanOut({ store, crypto, identity, events, account: () => account, now });
  fanOut.onSend = async (s) => {
    log.push(`send ${s.content.type}`);
  };
  const usernames = new Map<string, string>();
  const api = {
    lookupUsername: async (username: string): Promise<AccountKey | undefined> => {
      const accountId = usernames.get(username.toLowerCase());
      return accountId ? { accountId, identityKey: new Uint8Array(65) } : undefined;
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
  const tracked: Promise<void>[] = [];
  const track = (work: Promise<void>) => {
    tracked.push(work);
  };
  const retries = new RetryRequests({ store, crypto, identity, queue, fanOut, account: () => account, now, track });
  const groupEnvelopes: { type: number; sentAt: number }[] = [];
  const groups = {
    receive: async (type: number, _content: Uint8Array, sentAt: number) => {
      groupEnvelopes.push({ type, sentAt });
      return [];
    },
  } as unknown as GroupManager;
  const acked: bigint[] = [];
  let maintenance = 0;
  const inbox = new Inbox({
    store,
    crypto,
    identity,
    queue,
    events,
    fanOut,
    directory,
    requests,
    retries,
    // The one request unsealing makes: the server's trust root, pinned the first time.
    sealed: new SealedDelivery({ store, crypto, identity, api: { getTrustRoot: held.trustRoot ?? (async () => crypto.randomBytes(32)) } as unknown as HttpApi, accountId: () => account.accountId, now }),
    profiles: { fetch: async () => undefined, publish: async () => undefined },
    // Not delayed here (outbox/delivery-receipts.ts and its test cover the delay): each receipt is a follow-up.
    receipts: new DeliveryReceipts({ store, queue, delay: { minMs: 0, maxMs: 0 }, random: Math.random, now, send: (to, c) => fanOut.sendToAccount(to, c, false), track }),
    groups: () => groups,
    account: () => account,
    now,
    closed: () => false,
    ack: (envelopeId) => {
      acked.push(envelopeId);
      log.push(`ack ${envelopeId}`);
    },
    track,
    scheduleMaintenance: () => {
      maintenance++;
    },
  });
  let nextId = 1n;
  /** Hands `envelope` to the inbox as the socket would, from `source`, and waits for its follow-ups. */
  const deliver = async (source: ProtocolAddress | undefined, envelope: Uint8Array, envelopeId = nextId++): Promise<bigint> => {
    const received: ReceivedEnvelope = {
      id: envelopeId,
      receivedAt: Date.now(),
      envelope,
      ...(source ? { source: { accountId: source.account, deviceId: source.device } } : {}),
    };
    await inbox.onEnvelope(received);
    while (tracked.length > 0) await tracked.shift();
    return envelopeId;
  };
  const elapse = async (ms: number): Promise<void> => {
    await vi.advanceTimersByTimeAsync(ms);
    while (tracked.length > 0) await tracked.shift();
  };
  return { store, bundle, inbox, fanOut, deliver, elapse, acked, log, messages, undecryptable, sealedRejected, typing, identityChanges, groupEnvelopes, usernames, maintenance: () => maintenance };
}

const alice = await PeerAccount.create(crypto, ALICE);
/** A fresh device 2 of Alice's for each test (no session with us yet). */
async function aliceDevice(): Promise<PeerDevice> {
  return alice.reRegister(2, 1002);
}

const incoming = (content: Extract<Content, { type: 'message' }>, from: ProtocolAddress, fields: Partial<MessageRecord> = {}): MessageRecord => ({
  conversation: from.account,
  id: content.id,
  author: from.account,
  authorDevice: from.device,
  timestamp: content.timestamp,
  receivedAt: T0,
  direction: 'incoming',
  kind: 'message',
  body: content.body ?? '',
  status: 'received',
  ...fields,
});

const undecryptableLine = (from: ProtocolAddress, timestamp: number): MessageRecord => ({
  conversation: from.account,
  id: expect.stringMatching(MESSAGE_ID),
  author: from.account,
  authorDevice: from.device,
  timestamp,
  receivedAt: T0,
  direction: 'incoming',
  kind: 'system',
  event: 'undecryptable',
  status: 'received',
});

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Inbox: a message', () => {
  it('is decrypted, stored with the advanced session and the used prekey, acknowledged, then answered with a receipt', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const hello = text('hello');
    await s.deliver(a2.address, await a2.encryptTo(me, hello, s.bundle));
    expect(await s.store.listMessages(ALICE)).toEqual([incoming(hello, a2.address)]);
    expect(s.messages).toEqual([incoming(hello, a2.address)]);
    expect(await s.store.loadSession(a2.address)).toBeDefined();
    expect(await s.store.getIdentity(ALICE)).toEqual(encodeIdentityKey(alice.identity.publicKey));
    expect(await s.store.getOneTimePreKey(1), 'the one-time prekey is used up').toBeUndefined();
    expect(await s.store.getOneTimePreKey(2)).toBeDefined();
    expect(s.maintenance(), 'a prekey message: the one-time keys are topped up').toBe(1);
    expect(s.fanOut.sent).toEqual([
      { accountId: ALICE, own: false, content: { type: 'receipt', id: expect.stringMatching(MESSAGE_ID), timestamp: T0, receipt: 'delivered', targetIds: [hello.id] } },
    ]);
    expect(s.log, 'stored and announced, acknowledged, then the receipt').toEqual(['message message', 'ack 1', 'send receipt']);
    // What this device's receipt says is readable by Alice: the session works both ways (checked by her reply).
    const reply = text('and hello to you');
    await s.deliver(a2.address, await a2.encryptTo(me, reply));
    expect((await s.store.listMessages(ALICE)).map((m) => m.body)).toEqual(['hello', 'and hello to you']);
  });

  it('a follow-up that fails (the receipt could not be sent) does not undo or fail the envelope', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    s.fanOut.onSend = async () => {
      throw new ClientError(ClientErrorCode.ServerUnreachable, 'offline');
    };
    const hello = text('kept anyway');
    await s.deliver(a2.address, await a2.encryptTo(me, hello, s.bundle));
    expect(await s.store.listMessages(ALICE)).toEqual([incoming(hello, a2.address)]);
    expect(s.acked).toEqual([1n]);
    expect(s.fanOut.sent.map((x) => x.content.type)).toEqual(['receipt']);
  });

  it('a redelivery of the same envelope (a lost ack, or a replay): acknowledged, nothing stored, announced or answered again', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const hello = text('only once');
    const envelope = await a2.encryptTo(me, hello, s.bundle);
    await s.deliver(a2.address, envelope);
    const second = await a2.encryptTo(me, text('second'));
    await s.deliver(a2.address, second);
    const before = await s.store.listMessages(ALICE);
    const session = await s.store.loadSession(a2.address);
    await s.deliver(a2.address, envelope);
    await s.deliver(a2.address, second);
    expect(await s.store.listMessages(ALICE)).toEqual(before);
    expect(await s.store.loadSession(a2.address)).toEqual(session);
    expect(s.messages).toHaveLength(2);
    expect(s.undecryptable).toEqual([]);
    expect(s.fanOut.sent.map((x) => x.content.type)).toEqual(['receipt', 'receipt']);
    expect(s.acked).toEqual([1n, 2n, 3n, 4n]);
  });

  it('a claimed username is stored once the server confirms it', async () => {
    const s = await setup();
    s.usernames.set('alice', ALICE);
    const a2 = await aliceDevice();
    await s.deliver(a2.address, await a2.encryptTo(me, { ...text('hi'), profile: { username: 'alice' } }, s.bundle));
    expect((await s.store.getContact(ALICE))?.username).toBe('alice');

    // A claim the server does not confirm is not stored.
    const b = await (await PeerAccount.create(crypto, BOB)).device(3);
    await s.deliver(b.address, await b.encryptTo(me, { ...text('I am alice'), profile: { username: 'alice' } }, s.bundle));
    expect((await s.store.getContact(BOB))?.username).toBeUndefined();
    expect((await s.store.getContact(ALICE))?.username).toBe('alice');
  });
});

describe('Inbox: what does not decrypt', () => {
  it('a damaged ciphertext: a line and an event, acknowledged, a retry request to the sender, and the session left as it was', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    await s.deliver(a2.address, await a2.encryptTo(me, text('first'), s.bundle));
    const session = await s.store.loadSession(a2.address);
    const damaged = await a2.encryptTo(me, text('damaged'));
    damaged[damaged.length - 5] = (damaged[damaged.length - 5] ?? 0) ^ 0xff;
    const sentAt = Number(new DataView(damaged.buffer, damaged.byteOffset + 2, 8).getBigUint64(0));
    await s.deliver(a2.address, damaged);
    expect(s.acked).toEqual([1n, 2n]);
    expect((await s.store.listMessages(ALICE)).filter((m) => m.kind === 'system')).toEqual([undecryptableLine(a2.address, sentAt)]);
    expect(s.undecryptable).toEqual([{ conversation: ALICE, author: ALICE, authorDevice: 2, timestamp: sentAt, reason: expect.any(String) }]);
    expect(await s.store.loadSession(a2.address)).toEqual(session);
    await s.elapse(RETRY_BATCH_MS);
    expect(s.fanOut.sent.at(-1)).toEqual({
      accountId: ALICE,
      own: false,
      content: expect.objectContaining({ type: 'resend-request', targetTimestamps: [sentAt], device: 2 }),
    });
  });

  it('an envelope replayed by the server as from another device of the sender: a duplicate: nothing stored, no session made for it', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const envelope = await a2.encryptTo(me, text('first'), s.bundle);
    await s.deliver(a2.address, envelope);
    const before = await s.store.listMessages(ALICE);
    const session = await s.store.loadSession(a2.address);
    const forged: ProtocolAddress = { account: ALICE, device: 5 };
    await s.deliver(forged, envelope);
    // Its PQXDH base key was used already (the Kyber prekey's record of base keys): a duplicate, acknowledged silently.
    expect(await s.store.listMessages(ALICE)).toEqual(before);
    expect(s.undecryptable).toEqual([]);
    expect(s.messages.filter((m) => m.kind === 'message')).toHaveLength(1);
    expect(await s.store.loadSession(a2.address)).toEqual(session);
    expect(await s.store.loadSession(forged)).toBeUndefined();
    expect(s.acked).toEqual([1n, 2n]);
  });

  it('malformed bytes: a line, no retry request, acknowledged', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    await s.deliver(a2.address, new Uint8Array([9, 9, 9]));
    expect(s.acked).toEqual([1n]);
    expect(s.undecryptable.map((e) => e.reason)).toEqual(['malformed envelope']);
    expect((await s.store.listMessages(ALICE)).map((m) => m.event)).toEqual(['undecryptable']);
    await s.elapse(RETRY_BATCH_MS);
    expect(s.fanOut.sent).toEqual([]);
  });

  it('a sealed envelope that does not open, whoever the server names: reported as sealed-rejected, put in no conversation, acknowledged', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    await s.deliver(a2.address, encodeEnvelope({ type: EnvelopeType.SealedSender, timestamp: T0 - 7, content: new Uint8Array(4) }));
    await s.deliver(undefined, new Uint8Array([9, 9, 9]));
    expect(s.acked).toEqual([1n, 2n]);
    expect(s.sealedRejected).toEqual([{ timestamp: T0 - 7, reason: expect.any(String) }, { timestamp: expect.any(Number), reason: 'malformed envelope' }]);
    expect(s.undecryptable).toEqual([]);
    expect(await s.store.listMessages(ALICE)).toEqual([]);
    await s.elapse(RETRY_BATCH_MS);
    expect(s.fanOut.sent).toEqual([]);
  });

  it('a sealed envelope while the trust root cannot be had from the server: kept on the server (not acknowledged), and processed once it can', async () => {
    let reachable = false;
    const s = await setup({
      trustRoot: async () => {
        if (!reachable) throw new ClientError(ClientErrorCode.ServerUnreachable, 'down');
        return crypto.randomBytes(32);
      },
    });
    const sealed = encodeEnvelope({ type: EnvelopeType.SealedSender, timestamp: T0 - 7, content: new Uint8Array(4) });
    const id = await s.deliver(undefined, sealed);
    expect(s.acked).toEqual([]);
    expect(s.sealedRejected).toEqual([]);
    reachable = true;
    await s.deliver(undefined, sealed, id);
    expect(s.acked).toEqual([id]);
    expect(s.sealedRejected).toHaveLength(1);
  });

  it('content that decrypts but is not valid content: a line, the session still advanced (its key is used up)', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const ct = await a2.sessions.processPreKeyBundle(me, s.bundle).then(() => a2.sessions.encrypt(me, new Uint8Array([7, 1, 2, 3])));
    await s.deliver(a2.address, encodeEnvelope({ type: EnvelopeType.PreKeyMessage, timestamp: T0 - 3, content: ct.body }));
    expect(s.undecryptable.map((e) => e.reason)).toEqual(['unreadable content']);
    expect(await s.store.loadSession(a2.address)).toBeDefined();
    await s.elapse(RETRY_BATCH_MS);
    expect(s.fanOut.sent, 'resending would not help').toEqual([]);
  });

  it('an envelope without a sender (sealed sender, not spoken): acknowledged and dropped', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    await s.deliver(undefined, await a2.encryptTo(me, text('who am I'), s.bundle));
    expect(s.acked).toEqual([1n]);
    expect(await s.store.listMessages(ALICE)).toEqual([]);
    expect(s.undecryptable).toEqual([]);
  });

  it('group envelopes go to the group manager', async () => {
    const s = await setup();
    await s.deliver({ account: BOB, device: 1 }, encodeEnvelope({ type: EnvelopeType.GroupMessage, timestamp: T0 - 1, content: new Uint8Array(10) }));
    expect(s.groupEnvelopes).toEqual([{ type: EnvelopeType.GroupMessage, sentAt: T0 - 1 }]);
    expect(s.acked).toEqual([1n]);
  });
});

describe('Inbox: storage failures', () => {
  it('leaves the envelope unacknowledged with nothing stored; its redelivery is then processed once', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const hello = text('survives a failed write');
    const envelope = await a2.encryptTo(me, hello, s.bundle);
    const write = s.store.write.bind(s.store);
    s.store.write = async () => {
      throw new ClientError(ClientErrorCode.StorageError, 'disk full');
    };
    await s.deliver(a2.address, envelope);
    expect(s.acked).toEqual([]);
    expect(s.fanOut.sent).toEqual([]);
    s.store.write = write;
    expect(await s.store.listMessages(ALICE)).toEqual([]);
    expect(await s.store.loadSession(a2.address)).toBeUndefined();
    expect(await s.store.getOneTimePreKey(1), 'the prekey is not used up').toBeDefined();
    await s.deliver(a2.address, envelope);
    expect(await s.store.listMessages(ALICE)).toEqual([incoming(hello, a2.address)]);
    expect(s.acked).toEqual([2n]);
  });
});

describe('Inbox: requests, blocking, our own devices, identities', () => {
  it('a blocked sender: nothing stored, shown or answered, the session still advances, and the envelope is acknowledged', async () => {
    const blocked: ContactRecord = { accountId: ALICE, verified: false, expireTimer: 0, accepted: true, blocked: true };
    const s = await setup({ contacts: [blocked] });
    const a2 = await aliceDevice();
    await s.deliver(a2.address, await a2.encryptTo(me, text('let me in'), s.bundle));
    expect(await s.store.listMessages(ALICE)).toEqual([]);
    expect(s.messages).toEqual([]);
    expect(s.fanOut.sent).toEqual([]);
    expect(s.acked).toEqual([1n]);
    expect(await s.store.loadSession(a2.address), 'the session advanced').toBeDefined();
    expect(await s.store.getOneTimePreKey(1)).toBeUndefined();
  });

  it('typing from a request is dropped; from someone the user talks with it is announced', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const typing: Content = { type: 'typing', id: id(), timestamp: T0 - 1, action: 'started' };
    await s.deliver(a2.address, await a2.encryptTo(me, typing, s.bundle));
    expect(s.typing).toEqual([]);
    await s.store.write((tx) => tx.putContact({ accountId: ALICE, verified: false, expireTimer: 0, accepted: true }));
    await s.deliver(a2.address, await a2.encryptTo(me, { ...typing, id: id() }));
    expect(s.typing).toEqual([{ conversation: ALICE, author: ALICE, authorDevice: 2, action: 'started' }]);
  });

  it('a sync copy from our own other device: stored as ours in that conversation, and it accepts the request there', async () => {
    const s = await setup();
    const mine2 = await (await PeerAccount.create(crypto, ME, identity)).device(2);
    const sent = text('written on my laptop');
    await s.deliver(mine2.address, await mine2.encryptTo(me, { type: 'sync-sent', id: sent.id, timestamp: sent.timestamp, destination: ALICE, content: sent }, s.bundle));
    expect(await s.store.listMessages(ALICE)).toEqual([{ ...incoming(sent, { account: ME, device: 2 }), conversation: ALICE, direction: 'outgoing', status: 'sent' }]);
    expect((await s.store.getContact(ALICE))?.accepted).toBe(true);
    expect(s.fanOut.sent, 'no receipt to ourselves').toEqual([]);
  });

  it('a sync copy claimed by another account is not ours: it is not stored in the conversation it names', async () => {
    const s = await setup();
    const a2 = await aliceDevice();
    const forged = text('I (ME) said this to Bob');
    await s.deliver(a2.address, await a2.encryptTo(me, { type: 'sync-sent', id: forged.id, timestamp: forged.timestamp, destination: BOB, content: forged }, s.bundle));
    expect(await s.store.listMessages(BOB)).toEqual([]);
    expect((await s.store.listMessages(ALICE)).filter((m) => m.direction === 'outgoing')).toEqual([]);
  });

  it('an envelope the server attributes to a known account but made with another identity: shown, flagged, unverified', async () => {
    const known: ContactRecord = { accountId: ALICE, username: 'alice', verified: true, expireTimer: 0, accepted: true };
    const s = await setup({ contacts: [known] });
    const a2 = await aliceDevice();
    await s.deliver(a2.address, await a2.encryptTo(me, text('the real alice'), s.bundle));
    expect(s.identityChanges).toEqual([]);

    // Someone else (or Alice, re-registered) with a new identity key, delivered as Alice's device 3.
    const impostor = await (await PeerAccount.create(crypto, ALICE)).device(3);
    const fake = text('trust me');
    const { oneTimePreKey: _used, ...withoutOneTime } = s.bundle;
    await s.deliver(impostor.address, await impostor.encryptTo(me, fake, withoutOneTime));
    expect(s.identityChanges).toEqual([{ accountId: ALICE, username: 'alice' }]);
    expect(await s.store.getContact(ALICE)).toEqual({ ...known, verified: false, identityChangedAt: T0 });
    expect((await s.store.listMessages(ALICE)).map((m) => m.event ?? m.body)).toEqual(['the real alice', 'trust me', 'identity-changed']);
    expect(await s.store.getIdentity(ALICE)).toEqual(encodeIdentityKey(impostor.identity.publicKey));
  });
});
