/**
 * DeviceFanOut (src/outbox/fan-out.ts) on the in-memory store, with real sessions (@samizdat/protocol) and a fake
 * server: an object with only the two HttpApi methods the fan-out uses (getPreKeyBundles, sendMessages), which
 * knows each account's current devices (PeerDevice, test/support/peer-device.ts), hands out their bundles, and
 * answers a send to a device list that does not match with DEVICE_LIST_MISMATCH as the real server does
 * (packages/server/src/send.ts). The HTTP API itself is faked because its wire format is covered by
 * test/transport/http-api.test.ts and the whole path by the integration tests under test/client/. What each device
 * receives is decrypted by that device, so every test checks that the envelopes really carry the content.
 * - a send: sessions for every device, one envelope each, keys stored before anything leaves;
 * - device-list repair: missing devices fetched, stale ones restarted, extra ones dropped, and a bounded number of
 *   retries against a server that never agrees;
 * - a server lying: a bundle with a new identity key for a known account (noticed, verified mark cleared), a bundle
 *   with a bad signature (refused, nothing stored), a bundle list that leaves a device out (caught by the send);
 * - the delivery socket first, HTTP when the socket could not confirm.
 */
import { decodeSessionRecord, encodeIdentityKey, encodeSessionRecord } from '@samizdat/protocol';
import type { ServerErrorCode } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { describe, expect, it } from 'vitest';
import type { Content } from '../../src/content/content.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { ClientEvents, IdentityChangedEvent } from '../../src/events.js';
import { DeviceFanOut } from '../../src/outbox/fan-out.js';
import { SealedDelivery } from '../../src/sealed/sealed-delivery.js';
import type { ContactRecord, MessageRecord } from '../../src/storage/store.js';
import type { DeliverySocket } from '../../src/transport/delivery-socket.js';
import type { AccountKey, HttpApi, OutgoingEnvelope, PreKeyBundles } from '../../src/transport/http-api.js';
import { Emitter } from '../../src/util/emitter.js';
import { MemoryClientStore } from '../support/memory-store.js';
import { PeerAccount } from '../support/peer-device.js';
import type { PeerDevice } from '../support/peer-device.js';
import { rejection, testAccount } from '../support/test-account.js';

const ME = '11'.repeat(16);
const BOB = 'bb'.repeat(16);
const DEVICE = 1;
const NOW = 1_700_000_000_000;

const crypto = new NodeCryptoProvider();
const { identity, account } = await testAccount(crypto, { accountId: ME, deviceId: DEVICE, createdAt: NOW - 1_000_000, username: 'me_myself' });

const serverError = (code: ServerErrorCode, status: number, details?: Record<string, unknown>): ClientError =>
  new ClientError(ClientErrorCode.ServerError, `the server refused (${code})`, { code, status, ...(details ? { details } : {}) });

/** One send the server stored: the envelopes, by device. */
interface Delivery {
  readonly accountId: string;
  readonly messages: readonly OutgoingEnvelope[];
}

/**
 * The server's side: each account's current devices, the bundles it hands out, and the device check of a send.
 * `bundles` and `refuse` let a test make it lie or fail.
 */
class FakeServer {
  readonly accounts = new Map<string, Map<number, PeerDevice>>();
  readonly delivered: Delivery[] = [];
  readonly refused: Delivery[] = [];
  readonly bundleRequests: { accountId: string; deviceId: number | '*' }[] = [];
  /** Replaces the honest answer to a bundle request when it returns one. */
  bundles: (accountId: string, deviceId: number | '*') => Promise<PreKeyBundles | undefined> = async () => undefined;
  /** A failure for a send, before the device check (undefined: none). */
  refuse: (accountId: string, messages: readonly OutgoingEnvelope[]) => ClientError | undefined = () => undefined;

  add(device: PeerDevice): void {
    const devices = this.accounts.get(device.address.account) ?? new Map<number, PeerDevice>();
    devices.set(device.address.device, device);
    this.accounts.set(device.address.account, devices);
  }

  remove(accountId: string, deviceId: number): void {
    this.accounts.get(accountId)?.delete(deviceId);
  }

  /** The devices a send from us must cover (our own device left out of our own account). */
  private expected(accountId: string): Map<number, PeerDevice> {
    const devices = new Map(this.accounts.get(accountId) ?? []);
    if (accountId === ME) devices.delete(DEVICE);
    return devices;
  }

  readonly api = {
    // No account here has published a sealed-sender key: every send goes identified (sealing is tested end to end).
    getAccount: async (accountId: string): Promise<AccountKey> => ({ accountId, identityKey: new Uint8Array(65) }),
    getPreKeyBundles: async (accountId: string, deviceId: number | '*'): Promise<PreKeyBundles> => {
      this.bundleRequests.push({ accountId, deviceId });
      const lie = await this.bundles(accountId, deviceId);
      if (lie) return lie;
      const devices = this.expected(accountId);
      const chosen = deviceId === '*' ? [...devices.values()] : [devices.get(deviceId)].filter((d): d is PeerDevice => d !== undefined);
      if (chosen.length === 0) throw serverError('DEVICE_NOT_FOUND', 404);
      return { identityKey: encodeIdentityKey((chosen[0] as PeerDevice).identity.publicKey), devices: await Promise.all(chosen.map((d) => d.deviceBundle())) };
    },
    sendMessages: async (accountId: string, messages: readonly OutgoingEnvelope[]): Promise<{ ids: bigint[] }> => {
      const refusal = this.refuse(accountId, messages);
      if (refusal) {
        this.refused.push({ accountId, messages });
        throw refusal;
      }
      const expected = this.expected(accountId);
      const given = new Map(messages.map((m) => [m.deviceId, m.registrationId]));
      const fits = expected.size === given.size && [...expected].every(([id, d]) => given.get(id) === d.registrationId);
      if (!fits) {
        this.refused.push({ accountId, messages });
        throw serverError('DEVICE_LIST_MISMATCH', 409, {
          missingDevices: [...expected.keys()].filter((id) => !given.has(id)),
          extraDevices: [...given.keys()].filter((id) => !expected.has(id)),
          staleDevices: [...expected].filter(([id, d]) => given.has(id) && given.get(id) !== d.registrationId).map(([id]) => id),
        });
      }
      this.delivered.push({ accountId, messages });
      return { ids: messages.map((_, i) => BigInt(i + 1)) };
    },
  };

  /** What `device` makes of the envelope addressed to it in delivery `n`. */
  async open(n: number, device: PeerDevice): Promise<Content | undefined> {
    const m = this.delivered[n]?.messages.find((e) => e.deviceId === device.address.device);
    if (!m) throw new Error(`delivery ${n} has nothing for device ${device.address.device}`);
    return device.open({ account: ME, device: DEVICE }, m.envelope);
  }
}

function setup(socket?: () => DeliverySocket | undefined) {
  const store = MemoryClientStore.open();
  const server = new FakeServer();
  const events = new Emitter<ClientEvents>();
  const identityChanges: IdentityChangedEvent[] = [];
  const messages: MessageRecord[] = [];
  events.on('identity-changed', (e) => identityChanges.push(e));
  events.on('message', (m) => messages.push(m));
  const sealed = new SealedDelivery({ store, crypto, identity, api: server.api as unknown as HttpApi, accountId: () => ME, now: () => NOW });
  const fanOut = new DeviceFanOut({
    store,
    crypto,
    identity,
    api: server.api as unknown as HttpApi,
    events,
    sealed,
    account: () => account,
    now: () => NOW,
    socket: socket ?? (() => undefined),
  });
  return { store, server, fanOut, sealed, identityChanges, messages };
}

let seq = 0;
const text = (body: string): Content => ({ type: 'message', id: (++seq).toString(16).padStart(32, '0'), timestamp: NOW + seq, body });
/** What a device receives for `content`: it with our profile. */
const received = (content: Content): Content => ({ ...content, profile: { username: 'me_myself' } });

const devicesOf = (d: Delivery | undefined): number[] => (d?.messages.map((m) => m.deviceId) ?? []).sort((a, b) => a - b);


describe('DeviceFanOut.sendToAccount', () => {
  it('starts a session with every device of an account never written to, and sends each its own envelope of the content', async () => {
    const { store, server, fanOut } = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    const [b2, b3] = [await bob.device(2), await bob.device(3)];
    server.add(b2);
    server.add(b3);
    const hello = text('hello bob');
    await fanOut.sendToAccount(BOB, hello, false);
    expect(server.bundleRequests).toEqual([{ accountId: BOB, deviceId: '*' }]);
    expect(server.delivered).toHaveLength(1);
    expect(server.delivered[0]?.messages.map((m) => [m.deviceId, m.registrationId])).toEqual([
      [2, 1002],
      [3, 1003],
    ]);
    expect(await server.open(0, b2)).toEqual(received(hello));
    expect(await server.open(0, b3)).toEqual(received(hello));
    expect(await store.getDeviceList(BOB)).toEqual({ accountId: BOB, devices: [{ deviceId: 2, registrationId: 1002 }, { deviceId: 3, registrationId: 1003 }] });
    expect(await store.getIdentity(BOB), 'the identity key is pinned on first use').toEqual(encodeIdentityKey(bob.identity.publicKey));
  });

  it('sends later contents over the sessions it has, fetching nothing, each under a new message key', async () => {
    const { server, fanOut } = setup();
    const b2 = await (await PeerAccount.create(crypto, BOB)).device(2);
    server.add(b2);
    const [first, second] = [text('one'), text('two')];
    await fanOut.sendToAccount(BOB, first, false);
    await fanOut.sendToAccount(BOB, second, false);
    expect(server.bundleRequests).toHaveLength(1);
    expect(await server.open(0, b2)).toEqual(received(first));
    expect(await server.open(1, b2)).toEqual(received(second));
  });

  it('stores the advanced chain before the send leaves: after a failed send, the next one uses a fresh message key', async () => {
    const { server, fanOut } = setup();
    const b2 = await (await PeerAccount.create(crypto, BOB)).device(2);
    server.add(b2);
    await fanOut.sendToAccount(BOB, text('first'), false);
    server.refuse = () => new ClientError(ClientErrorCode.ServerUnreachable, 'offline');
    const lost = text('lost in transit');
    expect(ClientError.is(await rejection(fanOut.sendToAccount(BOB, lost, false)), ClientErrorCode.ServerUnreachable)).toBe(true);
    server.refuse = () => undefined;
    const retry = text('second try');
    await fanOut.sendToAccount(BOB, retry, false);
    // The refused envelope reached Bob's device after all (the server stored it before the connection broke).
    const refused = server.refused[0]?.messages[0];
    expect(await b2.open({ account: ME, device: DEVICE }, refused?.envelope ?? new Uint8Array())).toEqual(received(lost));
    expect(await server.open(1, b2), 'a distinct key: not a duplicate of the lost one').toEqual(received(retry));
  });

  it('sends nothing to an account known to have no devices', async () => {
    const { store, server, fanOut } = setup();
    await store.write((tx) => tx.putDeviceList({ accountId: BOB, devices: [] }));
    await fanOut.sendToAccount(BOB, text('to no one'), false);
    expect(server.delivered).toEqual([]);
    expect(server.refused).toEqual([]);
  });

  it('sends the sync copy to our own other devices, never to this one, and sends it empty when there is none', async () => {
    const { server, fanOut, sealed } = setup();
    const mine = await PeerAccount.create(crypto, ME);
    await fanOut.sendToAccount(ME, text('a note'), true);
    expect(server.bundleRequests, 'the bundle fetch for our own account').toEqual([{ accountId: ME, deviceId: '*' }]);
    expect(server.delivered).toEqual([{ accountId: ME, messages: [] }]);

    // A device linked since: the empty send is answered with a mismatch naming it, and it gets the next copy.
    const m2 = await mine.device(2);
    server.add(await mine.device(DEVICE));
    server.add(m2);
    const note = text('another note');
    await fanOut.sendToAccount(ME, note, true);
    expect(devicesOf(server.delivered[1])).toEqual([2]);
    expect(await server.open(1, m2), 'our own devices get the profile key too').toEqual({ ...note, profile: { username: 'me_myself', profileKey: await sealed.profileKey() } });
  });
});

describe('DeviceFanOut device-list repair (DEVICE_LIST_MISMATCH)', () => {
  async function known(devices: number[]) {
    const s = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    for (const d of devices) s.server.add(await bob.device(d));
    await s.fanOut.sendToAccount(BOB, text('to start the sessions'), false);
    return { ...s, bob };
  }

  it('a missing device (added since): its bundle is fetched and the retry covers it', async () => {
    const { server, fanOut, bob, store } = await known([2]);
    const b3 = await bob.device(3);
    server.add(b3);
    const hi = text('hi all of you');
    await fanOut.sendToAccount(BOB, hi, false);
    expect(devicesOf(server.refused[0])).toEqual([2]);
    expect(server.bundleRequests.slice(1)).toEqual([{ accountId: BOB, deviceId: 3 }]);
    expect(devicesOf(server.delivered[1])).toEqual([2, 3]);
    expect(await server.open(1, await bob.device(2))).toEqual(received(hi));
    expect(await server.open(1, b3)).toEqual(received(hi));
    expect((await store.getDeviceList(BOB))?.devices.map((d) => d.deviceId).sort()).toEqual([2, 3]);
  });

  it('an extra device (removed since): dropped from the list, its session kept for what it sent before', async () => {
    const { store, server, fanOut } = await known([2, 3]);
    server.remove(BOB, 3);
    await fanOut.sendToAccount(BOB, text('device 3 is gone'), false);
    expect(devicesOf(server.delivered[1])).toEqual([2]);
    expect(await store.getDeviceList(BOB)).toEqual({ accountId: BOB, devices: [{ deviceId: 2, registrationId: 1002 }] });
    expect(await store.loadSession({ account: BOB, device: 3 })).toBeDefined();
    expect(server.bundleRequests).toHaveLength(1);
  });

  it('a stale device (re-registered): its old session goes and a new one starts, which the new device can read', async () => {
    const { store, server, fanOut, bob } = await known([2]);
    const before = await store.loadSession({ account: BOB, device: 2 });
    const reborn = await bob.reRegister(2, 5555);
    server.add(reborn);
    const hi = text('welcome back');
    await fanOut.sendToAccount(BOB, hi, false);
    expect(server.bundleRequests.slice(1)).toEqual([{ accountId: BOB, deviceId: 2 }]);
    expect(server.delivered[1]?.messages.map((m) => [m.deviceId, m.registrationId])).toEqual([[2, 5555]]);
    expect(await server.open(1, reborn)).toEqual(received(hi));
    const after = await store.loadSession({ account: BOB, device: 2 });
    expect(after && decodeSessionRecord(after).inactive, 'a fresh record, not the old one with a new session').toEqual([]);
    expect(after).not.toEqual(before);
  });

  it('a bundle list that leaves a device out is caught by the send, and the device fetched', async () => {
    const { server, fanOut } = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    const [b2, b3] = [await bob.device(2), await bob.device(3)];
    server.add(b2);
    server.add(b3);
    server.bundles = async (_accountId, deviceId) =>
      deviceId === '*' ? { identityKey: encodeIdentityKey(bob.identity.publicKey), devices: [await b2.deviceBundle()] } : undefined;
    const hi = text('everyone?');
    await fanOut.sendToAccount(BOB, hi, false);
    expect(devicesOf(server.delivered[0])).toEqual([2, 3]);
    expect(await server.open(0, b3)).toEqual(received(hi));
  });

  it('gives up after four attempts against a server that never agrees, with its error', async () => {
    const { server, fanOut } = await known([2]);
    const mismatch = serverError('DEVICE_LIST_MISMATCH', 409, { missingDevices: [], extraDevices: [], staleDevices: [2] });
    server.refuse = () => mismatch;
    expect(await rejection(fanOut.sendToAccount(BOB, text('never'), false))).toBe(mismatch);
    expect(server.refused).toHaveLength(4);
    expect(server.delivered).toHaveLength(1);
  });

  it('never fetches a session with this device, even when the server says our own account is missing it', async () => {
    const { server, fanOut } = setup();
    const mine = await PeerAccount.create(crypto, ME);
    server.add(await mine.device(2));
    await fanOut.sendToAccount(ME, text('sync'), true);
    let lied = false;
    server.refuse = (accountId) => {
      if (lied || accountId !== ME) return undefined;
      lied = true;
      return serverError('DEVICE_LIST_MISMATCH', 409, { missingDevices: [DEVICE], extraDevices: [], staleDevices: [] });
    };
    await fanOut.sendToAccount(ME, text('sync again'), true);
    expect(server.bundleRequests.map((r) => r.deviceId)).toEqual(['*']);
    expect(devicesOf(server.delivered[1])).toEqual([2]);
  });

  it('fetches the bundle of a device whose session was retired, and drops a device the server no longer has', async () => {
    const { store, server, fanOut, bob } = await known([2, 3]);
    // Both sessions retired (a retry request whose new bundle could not be fetched then): no active session left.
    for (const device of [2, 3]) {
      const bytes = await store.loadSession({ account: BOB, device });
      const record = bytes && decodeSessionRecord(bytes);
      const active = record?.active;
      if (active) await store.write((tx) => tx.putSession({ account: BOB, device }, encodeSessionRecord({ active: undefined, inactive: [active] })));
    }
    server.remove(BOB, 3);
    const hi = text('after the retry');
    await fanOut.sendToAccount(BOB, hi, false);
    expect(server.bundleRequests.slice(1)).toEqual([
      { accountId: BOB, deviceId: 2 },
      { accountId: BOB, deviceId: 3 },
    ]);
    expect(devicesOf(server.delivered[1])).toEqual([2]);
    expect(await server.open(1, await bob.device(2))).toEqual(received(hi));
  });
});

describe('DeviceFanOut.fetchSessions (what the server hands out)', () => {
  const verifiedBob: ContactRecord = { accountId: BOB, username: 'bob', verified: true, expireTimer: 30, accepted: true };

  it('a new identity key for a known account: sessions start, and the change is recorded, announced and unverifies', async () => {
    const { store, server, fanOut, identityChanges, messages } = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    server.add(await bob.device(2));
    await store.write((tx) => tx.putContact(verifiedBob));
    await fanOut.fetchSessions(BOB, '*', false);
    expect(identityChanges, 'first use: nothing to warn about').toEqual([]);
    expect(await store.getContact(BOB)).toEqual(verifiedBob);

    // The server (or a re-registration) now hands out another identity's keys for Bob.
    const impostor = await PeerAccount.create(crypto, BOB);
    server.add(await impostor.device(2));
    await fanOut.fetchSessions(BOB, 2, false);
    expect(await store.getIdentity(BOB)).toEqual(encodeIdentityKey(impostor.identity.publicKey));
    expect(await store.getContact(BOB)).toEqual({ ...verifiedBob, verified: false, identityChangedAt: NOW });
    expect(identityChanges).toEqual([{ accountId: BOB, username: 'bob' }]);
    const notice: MessageRecord = {
      conversation: BOB,
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      author: BOB,
      authorDevice: 0,
      timestamp: NOW,
      receivedAt: NOW,
      direction: 'incoming',
      kind: 'system',
      event: 'identity-changed',
      status: 'received',
    };
    expect(messages).toEqual([notice]);
    expect(await store.listMessages(BOB)).toEqual([notice]);
  });

  it('a new identity key for two devices of one account in one answer: one warning, one line', async () => {
    const { store, server, fanOut, identityChanges, messages } = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    server.add(await bob.device(2));
    server.add(await bob.device(3));
    await fanOut.fetchSessions(BOB, '*', false);
    const impostor = await PeerAccount.create(crypto, BOB);
    server.add(await impostor.device(2));
    server.add(await impostor.device(3));
    await fanOut.fetchSessions(BOB, '*', false);
    expect(identityChanges).toHaveLength(1);
    expect(messages).toHaveLength(1);
    expect(await store.listMessages(BOB)).toHaveLength(1);
  });

  it('a bundle whose signature does not verify is refused, and nothing is stored', async () => {
    const { store, server, fanOut } = setup();
    const bob = await PeerAccount.create(crypto, BOB);
    const b2 = await bob.device(2);
    server.add(b2);
    server.bundles = async () => {
      const d = await b2.deviceBundle();
      const signature = d.bundle.signedPreKey.signature.slice();
      signature[0] = (signature[0] ?? 0) ^ 1;
      return { identityKey: encodeIdentityKey(bob.identity.publicKey), devices: [{ ...d, bundle: { ...d.bundle, signedPreKey: { ...d.bundle.signedPreKey, signature } } }] };
    };
    await expect(fanOut.fetchSessions(BOB, '*', false)).rejects.toThrow();
    expect(await store.loadSession(b2.address)).toBeUndefined();
    expect(await store.getDeviceList(BOB)).toBeUndefined();
    expect(await store.getIdentity(BOB)).toBeUndefined();
  });

  it('our own account with no other device (DEVICE_NOT_FOUND for *) is an empty device list; for another account it is an error', async () => {
    const { store, fanOut } = setup();
    await fanOut.fetchSessions(ME, '*', true);
    expect(await store.getDeviceList(ME)).toEqual({ accountId: ME, devices: [] });
    expect(ClientError.isServer(await rejection(fanOut.fetchSessions(BOB, '*', false)), 'DEVICE_NOT_FOUND')).toBe(true);
    expect(await store.getDeviceList(BOB)).toBeUndefined();
  });

  it('skips this device in a bundle list for our own account', async () => {
    const { store, server, fanOut } = setup();
    const mine = await PeerAccount.create(crypto, ME);
    server.add(await mine.device(2));
    server.bundles = async () => ({
      identityKey: encodeIdentityKey(mine.identity.publicKey),
      devices: [await (await mine.device(DEVICE)).deviceBundle(), await (await mine.device(2)).deviceBundle()],
    });
    await fanOut.fetchSessions(ME, '*', true);
    expect(await store.loadSession({ account: ME, device: DEVICE })).toBeUndefined();
    expect(await store.getDeviceList(ME)).toEqual({ accountId: ME, devices: [{ deviceId: 2, registrationId: 1002 }] });
  });
});

describe('DeviceFanOut.postMessages (socket or HTTP)', () => {
  function socket(send: () => Promise<{ ids: bigint[] }>, state = 'open'): { socket: DeliverySocket; sent: number[] } {
    const sent: number[] = [];
    const fake = {
      state,
      send: async () => {
        sent.push(1);
        return send();
      },
    };
    return { socket: fake as unknown as DeliverySocket, sent };
  }

  it('goes over the open delivery socket, not HTTP', async () => {
    const s = socket(async () => ({ ids: [] }));
    const { server, fanOut } = setup(() => s.socket);
    await fanOut.postMessages(BOB, []);
    expect(s.sent).toHaveLength(1);
    expect(server.delivered).toEqual([]);
  });

  it('goes over HTTP when the socket is not open, or could not confirm the send', async () => {
    const closed = socket(async () => ({ ids: [] }), 'backoff');
    const a = setup(() => closed.socket);
    await a.fanOut.postMessages(BOB, []);
    expect(closed.sent).toEqual([]);
    expect(a.server.delivered).toHaveLength(1);

    const unconfirmed = socket(async () => {
      throw new ClientError(ClientErrorCode.ServerUnreachable, 'closed before the answer');
    });
    const b = setup(() => unconfirmed.socket);
    await b.fanOut.postMessages(BOB, []);
    expect(unconfirmed.sent).toHaveLength(1);
    expect(b.server.delivered).toHaveLength(1);
  });

  it('does not send again over HTTP what the server refused over the socket', async () => {
    const refusal = serverError('DEVICE_LIST_MISMATCH', 409, { missingDevices: [2], extraDevices: [], staleDevices: [] });
    const s = socket(async () => {
      throw refusal;
    });
    const { server, fanOut } = setup(() => s.socket);
    expect(await rejection(fanOut.postMessages(BOB, []))).toBe(refusal);
    expect(server.delivered).toEqual([]);
  });
});
