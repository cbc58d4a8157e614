/**
 * RetryRequests (src/inbox/retry-requests.ts) on the in-memory store, with vitest's fake clock and a fan-out that
 * records what it would send and fetch. Sessions are real (@samizdat/protocol): a peer device's prekey bundle starts
 * one, as a fetch from the server would.
 * - asking: failures from one device are gathered for RETRY_BATCH_MS into one request, and at most one request per
 *   device goes out per RETRY_INTERVAL_MS;
 * - answering: the messages named that this device sent are resent, and the session the failed message came from is
 *   retired and rebuilt, at most once per REBUILD_INTERVAL_MS per device.
 */
import { SessionManager, decodeSessionRecord, generateIdentityKeyPair, generateKyberPreKey, generateSignedPreKey } from '@samizdat/protocol';
import type { IdentityKeyPair, PreKeyBundle, ProtocolAddress } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TARGETS } from '../../src/content/content.js';
import type { ResendRequestContent } from '../../src/content/content.js';
import type { ClientEvents } from '../../src/events.js';
import { RetryRequests } from '../../src/inbox/retry-requests.js';
import { StagedProtocolStore } from '../../src/storage/staged-protocol-store.js';
import type { MessageRecord } from '../../src/storage/store.js';
import { Emitter } from '../../src/util/emitter.js';
import { SerialQueue } from '../../src/util/serial-queue.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { RecordingFanOut } from '../support/recording-fan-out.js';
import type { SentContent } from '../support/recording-fan-out.js';
import { testAccount } from '../support/test-account.js';

/** The limits of retry-requests.ts (private there), as its module comment and docs/client.md give them. */
const RETRY_BATCH_MS = 200;
const RETRY_INTERVAL_MS = 60_000;
const REBUILD_INTERVAL_MS = 60 * 60_000;

const ME = '11'.repeat(16);
const ALICE = 'aa'.repeat(16);
const BOB = 'bb'.repeat(16);
/** This device. */
const DEVICE = 1;
const T0 = 1_700_000_000_000;

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: DEVICE, createdAt: T0 - 1_000_000 });

/** A peer account's prekeys, as the server would hand them out for any of its devices. */
interface PeerAccount {
  bundle(device: number): PreKeyBundle;
}

async function peerAccount(): Promise<PeerAccount> {
  const peer: IdentityKeyPair = await generateIdentityKeyPair(crypto);
  const signed = await generateSignedPreKey(crypto, peer, 1, T0);
  const kyber = await generateKyberPreKey(crypto, peer, 2, true, T0);
  return {
    bundle: (device) => ({
      identityKey: peer.publicKey,
      deviceId: device,
      signedPreKey: { id: signed.id, publicKey: signed.keyPair.publicKey, signature: signed.signature },
      kyberPreKey: { id: kyber.id, publicKey: kyber.keyPair.publicKey, signature: kyber.signature },
    }),
  };
}

const bob = await peerAccount();
const bob2: ProtocolAddress = { account: BOB, device: 2 };
const bob3: ProtocolAddress = { account: BOB, device: 3 };

const id = (n: number): string => n.toString(16).padStart(32, '0');
const MESSAGE_ID = /^[0-9a-f]{32}$/;
const ratchetKey = (seed: number): Uint8Array => new Uint8Array(32).fill(seed);

function setup() {
  const store = MemoryClientStore.open();
  const fanOut = new RecordingFanOut({ store, crypto, identity, events: new Emitter<ClientEvents>(), account: () => account, now: () => Date.now() });
  const tracked: Promise<void>[] = [];
  const retries = new RetryRequests({
    store,
    crypto,
    identity,
    queue: new SerialQueue(),
    fanOut,
    account: () => account,
    now: () => Date.now(),
    track: (work) => {
      tracked.push(work);
    },
  });
  /** Lets the clock run `ms` on, then waits for the requests that went out meanwhile to be sent. */
  const elapse = async (ms: number): Promise<void> => {
    await vi.advanceTimersByTimeAsync(ms);
    while (tracked.length > 0) await tracked.shift();
  };
  return { store, fanOut, retries, elapse };
}

/** Starts a session with `address` from a fresh bundle of its account, as fetching one from the server does. */
async function startSession(store: MemoryClientStore, address: ProtocolAddress): Promise<void> {
  const staged = new StagedProtocolStore(store, identity);
  await new SessionManager(crypto, staged).processPreKeyBundle(address, bob.bundle(address.device));
  await store.write((tx) => staged.flush(tx));
}

/** The base key of the active session with `address` (what the inbox passes as `failed` when it sent the failed message). */
async function activeBaseKey(store: MemoryClientStore, address: ProtocolAddress): Promise<Uint8Array | undefined> {
  const bytes = await store.loadSession(address);
  return bytes && decodeSessionRecord(bytes).active?.baseKey;
}

async function inactiveBaseKeys(store: MemoryClientStore, address: ProtocolAddress): Promise<Uint8Array[]> {
  const bytes = await store.loadSession(address);
  return bytes ? decodeSessionRecord(bytes).inactive.map((s) => s.baseKey) : [];
}

/** A retry request, as sent by RetryRequests. */
const retryRequest = (to: ProtocolAddress, sentAt: number, timestamps: number[], key?: Uint8Array): SentContent => ({
  accountId: to.account,
  own: to.account === ME,
  content: {
    type: 'resend-request',
    id: expect.stringMatching(MESSAGE_ID),
    timestamp: sentAt,
    targetTimestamps: timestamps,
    device: to.device,
    ...(key ? { ratchetKey: key } : {}),
  },
});

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('RetryRequests.gather (asking a device to resend)', () => {
  it('puts the failures from one device within the batch window in one request, naming every timestamp and the latest ratchet key', async () => {
    const { fanOut, retries, elapse } = setup();
    retries.gather(bob2, 1001, ratchetKey(1));
    await elapse(150);
    retries.gather(bob2, 1002, ratchetKey(2));
    retries.gather(bob2, 1001, undefined); // the same envelope again, its key unknown: neither repeats nor clears
    await elapse(RETRY_BATCH_MS - 151);
    expect(fanOut.sent, 'nothing before the window closes').toEqual([]);
    await elapse(1);
    expect(fanOut.sent).toEqual([retryRequest(bob2, T0 + RETRY_BATCH_MS, [1001, 1002], ratchetKey(2))]);
    expect(fanOut.fetched, 'no session with that device yet: one is started to send the request').toEqual([{ accountId: BOB, deviceId: 2, own: false }]);
  });

  it('sends over the session there is, starting none', async () => {
    const { store, fanOut, retries, elapse } = setup();
    await startSession(store, bob2);
    retries.gather(bob2, 1001, undefined);
    await elapse(RETRY_BATCH_MS);
    expect(fanOut.sent).toEqual([retryRequest(bob2, T0 + RETRY_BATCH_MS, [1001])]);
    expect(fanOut.fetched).toEqual([]);
  });

  it('names at most MAX_TARGETS timestamps in one request', async () => {
    const { fanOut, retries, elapse } = setup();
    for (let t = 0; t <= MAX_TARGETS; t++) retries.gather(bob2, 1000 + t, undefined);
    await elapse(RETRY_BATCH_MS);
    const request = fanOut.sent[0]?.content as ResendRequestContent | undefined;
    expect(request?.targetTimestamps).toHaveLength(MAX_TARGETS);
    expect(request?.targetTimestamps?.[MAX_TARGETS - 1]).toBe(1000 + MAX_TARGETS - 1);
  });

  it('asks the same device again only once RETRY_INTERVAL_MS has passed since it last asked, with what failed meanwhile', async () => {
    const { fanOut, retries, elapse } = setup();
    retries.gather(bob2, 1001, undefined);
    await elapse(RETRY_BATCH_MS); // first request at T0 + 200
    await elapse(800);
    retries.gather(bob2, 1002, undefined);
    await elapse(30_000);
    retries.gather(bob2, 1003, ratchetKey(3));
    await elapse(RETRY_BATCH_MS + RETRY_INTERVAL_MS - 1000 - 30_000 - 1);
    expect(fanOut.sent, 'one instant before the interval has passed').toHaveLength(1);
    await elapse(1);
    expect(fanOut.sent).toEqual([
      retryRequest(bob2, T0 + RETRY_BATCH_MS, [1001]),
      retryRequest(bob2, T0 + RETRY_BATCH_MS + RETRY_INTERVAL_MS, [1002, 1003], ratchetKey(3)),
    ]);
  });

  it('gathers and limits each device on its own', async () => {
    const { fanOut, retries, elapse } = setup();
    const alice2: ProtocolAddress = { account: ALICE, device: 2 };
    retries.gather(bob2, 1001, undefined);
    retries.gather(bob3, 1002, undefined);
    await elapse(RETRY_BATCH_MS);
    expect(fanOut.sent).toEqual([retryRequest(bob2, T0 + RETRY_BATCH_MS, [1001]), retryRequest(bob3, T0 + RETRY_BATCH_MS, [1002])]);

    // Bob's device 2 is limited now; Alice's device 2 is another device.
    retries.gather(bob2, 1003, undefined);
    retries.gather(alice2, 1004, undefined);
    await elapse(RETRY_BATCH_MS);
    expect(fanOut.sent.slice(2)).toEqual([retryRequest(alice2, T0 + 2 * RETRY_BATCH_MS, [1004])]);
  });

  it('asks a device of our own account over our own account', async () => {
    const { fanOut, retries, elapse } = setup();
    const mine2: ProtocolAddress = { account: ME, device: 2 };
    retries.gather(mine2, 1001, undefined);
    await elapse(RETRY_BATCH_MS);
    expect(fanOut.sent).toEqual([retryRequest(mine2, T0 + RETRY_BATCH_MS, [1001])]);
    expect(fanOut.fetched).toEqual([{ accountId: ME, deviceId: 2, own: true }]);
  });

  it('cancel() drops what was gathered, and leaves no timer behind (a stopped client holds nothing up)', async () => {
    const { fanOut, retries, elapse } = setup();
    retries.gather(bob2, 1001, ratchetKey(1));
    retries.gather(bob3, 1002, undefined);
    retries.cancel();
    expect(vi.getTimerCount()).toBe(0);
    await elapse(REBUILD_INTERVAL_MS);
    expect(fanOut.sent).toEqual([]);
    expect(fanOut.fetched).toEqual([]);
  });
});

describe('RetryRequests.answer (a device asks us to resend)', () => {
  /** Our messages and others', in the conversation with Bob and elsewhere, at timestamps 1001 to 1004. */
  function ours(n: number, timestamp: number, fields: Partial<MessageRecord> = {}): MessageRecord {
    return {
      conversation: BOB,
      id: id(n),
      author: ME,
      authorDevice: DEVICE,
      timestamp,
      receivedAt: timestamp,
      direction: 'outgoing',
      kind: 'message',
      body: `message ${n}`,
      status: 'delivered',
      ...fields,
    };
  }
  const resendable = ours(1, 1001, { expireTimer: 60, expiresAt: 61_001 });
  const held: MessageRecord[] = [
    resendable,
    ours(2, 1001, { authorDevice: 2 }), // sent by another device of ours
    ours(3, 1002, { deleted: true, body: '' }),
    ours(4, 1003), // not named
    { ...ours(5, 1001), author: BOB, authorDevice: 2, direction: 'incoming', status: 'received' },
    ours(6, 1001, { conversation: ALICE }),
    ours(7, 1002, { conversation: ME }),
  ];
  const resent: SentContent = {
    accountId: BOB,
    own: false,
    content: { type: 'message', id: resendable.id, timestamp: 1001, body: 'message 1', expireTimer: 60 },
  };
  const request = (fields: Partial<ResendRequestContent> = {}): ResendRequestContent => ({
    type: 'resend-request',
    id: id(99),
    timestamp: T0 - 10,
    targetTimestamps: [1001, 1002],
    device: DEVICE,
    ...fields,
  });

  async function holding() {
    const s = setup();
    await s.store.write((tx) => {
      for (const m of held) tx.putMessage(m);
    });
    return s;
  }

  it('resends, with the same id, only the messages named that this device sent and did not delete', async () => {
    const { fanOut, retries } = await holding();
    await retries.answer(bob2, request(), undefined);
    expect(fanOut.sent).toEqual([resent]);
    expect(fanOut.fetched).toEqual([]);
  });

  it('answers a request that names no device, and resends nothing for one that names none of our timestamps', async () => {
    const { fanOut, retries } = await holding();
    const { device: _device, ...forAnyDevice } = request();
    const { targetTimestamps: _timestamps, ...withoutTimestamps } = request();
    await retries.answer(bob2, forAnyDevice, undefined);
    await retries.answer(bob2, request({ targetTimestamps: [999] }), undefined);
    await retries.answer(bob2, withoutTimestamps, undefined);
    expect(fanOut.sent).toEqual([resent]);
  });

  it('ignores a request for another device of ours, its session with the asking device left as it is', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    const before = await store.loadSession(bob2);
    await retries.answer(bob2, request({ device: 2 }), await activeBaseKey(store, bob2));
    expect(fanOut.sent).toEqual([]);
    expect(fanOut.fetched).toEqual([]);
    expect(await store.loadSession(bob2)).toEqual(before);
  });

  it('resends nothing to a device of our own account, which holds our messages already', async () => {
    const { fanOut, retries } = await holding();
    await retries.answer({ account: ME, device: 2 }, request(), undefined);
    expect(fanOut.sent).toEqual([]);
  });

  it('retires the session the failed message came from and starts a new one from a fresh bundle, before resending', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    const failed = await activeBaseKey(store, bob2);
    fanOut.onFetch = async () => startSession(store, bob2);
    const fetchedBeforeSend: number[] = [];
    fanOut.onSend = async () => {
      fetchedBeforeSend.push(fanOut.fetched.length);
    };
    await retries.answer(bob2, request(), failed);
    expect(fanOut.fetched).toEqual([{ accountId: BOB, deviceId: 2, own: false }]);
    const now = await activeBaseKey(store, bob2);
    expect(now).toBeDefined();
    expect(now).not.toEqual(failed);
    expect(await inactiveBaseKeys(store, bob2), 'kept, for messages still in flight on it').toEqual([failed]);
    expect(fanOut.sent).toEqual([resent]);
    expect(fetchedBeforeSend).toEqual([1]);
  });

  it('leaves the session without an active one when no new one could be started (the next send fetches it)', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    const failed = await activeBaseKey(store, bob2);
    await retries.answer(bob2, request({ targetTimestamps: [] }), failed);
    expect(await activeBaseKey(store, bob2)).toBeUndefined();
    expect(await inactiveBaseKeys(store, bob2)).toEqual([failed]);
    expect(fanOut.fetched).toHaveLength(1);
  });

  it('leaves the sessions alone when the failed message came from an older session, and still resends', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    const before = await store.loadSession(bob2);
    await retries.answer(bob2, request(), new Uint8Array(33).fill(7));
    expect(await store.loadSession(bob2)).toEqual(before);
    expect(fanOut.fetched).toEqual([]);
    expect(fanOut.sent).toEqual([resent]);
  });

  it('rebuilds the session with one device at most once per REBUILD_INTERVAL_MS, and each device apart', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    await startSession(store, bob3);
    fanOut.onFetch = async (f) => startSession(store, { account: f.accountId, device: f.deviceId as number });
    const answer = async (from: ProtocolAddress) => retries.answer(from, request({ targetTimestamps: [] }), await activeBaseKey(store, from));

    await answer(bob2);
    expect(fanOut.fetched).toHaveLength(1);
    const rebuilt = await activeBaseKey(store, bob2);

    vi.setSystemTime(T0 + REBUILD_INTERVAL_MS - 1);
    await answer(bob2);
    expect(fanOut.fetched, 'not again within the interval').toHaveLength(1);
    expect(await activeBaseKey(store, bob2), 'the rebuilt session stays').toEqual(rebuilt);

    await answer(bob3);
    expect(fanOut.fetched.map((f) => f.deviceId), 'another device is not held back').toEqual([2, 3]);

    vi.setSystemTime(T0 + REBUILD_INTERVAL_MS);
    await answer(bob2);
    expect(fanOut.fetched.map((f) => f.deviceId)).toEqual([2, 3, 2]);
    expect(await activeBaseKey(store, bob2)).not.toEqual(rebuilt);
  });

  it('does not count a request that named an older session against the rebuild allowance', async () => {
    const { store, fanOut, retries } = await holding();
    await startSession(store, bob2);
    await retries.answer(bob2, request({ targetTimestamps: [] }), new Uint8Array(33).fill(7));
    await retries.answer(bob2, request({ targetTimestamps: [] }), await activeBaseKey(store, bob2));
    expect(fanOut.fetched).toEqual([{ accountId: BOB, deviceId: 2, own: false }]);
  });
});
