/**
 * The Samizdat client: one device of one account. It is where the protocol, the store and the transport meet:
 *
 *   const client = await Client.register({ store, crypto, connector, serverUrl, username: 'alice' });
 *   client.on('message', (m) => show(m));
 *   await client.start();                         // connect, drain the queue, keep prekeys topped up
 *   await client.sendText('bob', 'hi');           // to every device of bob and to alice's other devices
 *
 * Guarantees (docs/client.md):
 * - A received envelope is acknowledged only after the advanced session and the decrypted message are stored in one
 *   atomic write; a redelivered envelope (key already used) or a resent message (same id) is acknowledged silently,
 *   so every message is shown exactly once.
 * - A message is sent to every device of the recipient and to this account's other devices (a sync copy), so every
 *   device of both people holds the whole conversation. A device-list mismatch is repaired and retried silently.
 * - A contact's identity-key change never stops messages; it is recorded in the conversation, the verified mark is
 *   cleared and 'identity-changed' is emitted.
 * - An envelope that cannot be decrypted never blocks the queue: it is recorded and the sender device is sent a
 *   retry request (Signal's DecryptionErrorMessage). No session is dropped on the server's word: the sender, which
 *   gets the request over our session with it, retires its own session only if the failed message came from it,
 *   and resends what it still has.
 */
import { decodeIdentityKeyPair } from '@samizdat/protocol';
import type { IdentityKeyPair } from '@samizdat/protocol';
import type { AttachmentPointer } from './attachments/attachment-cipher.js';
import { Directory } from './contacts/directory.js';
import type { SafetyNumberView } from './contacts/directory.js';
import { MessageRequests } from './contacts/message-requests.js';
import type { ConversationState } from './contacts/requests.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { ClientEvents } from './events.js';
import { GroupManager } from './groups/group-manager.js';
import { Inbox } from './inbox/inbox.js';
import { RetryRequests } from './inbox/retry-requests.js';
import { KYBER_ONE_TIME_BATCH, ONE_TIME_BATCH, REFILL_THRESHOLD, generatePreKeys, pruneReplaced, rotationDue } from './keys/prekeys.js';
import { apiFor, linkAccount, openAccount, registerAccount, sendProvisioning } from './onboarding.js';
import type { ClientOptions, LinkOptions, RegisterOptions } from './onboarding.js';
import { DeviceFanOut } from './outbox/fan-out.js';
import { Outbox } from './outbox/outbox.js';
import type { SendOptions } from './outbox/outbox.js';
import type { AccountRecord, ClientStore, ContactRecord, ConversationSummary, MessageRecord } from './storage/store.js';
import { observeStore } from './storage/observed-store.js';
import { DEFAULT_RECEIPT_DELAY, DeliveryReceipts } from './outbox/delivery-receipts.js';
import { SealedDelivery } from './sealed/sealed-delivery.js';
import { Profiles } from './contacts/profiles.js';
import type { OwnProfile, ProfileChange } from './contacts/profiles.js';
import type { SealedSenderSettings } from './sealed/sealed-delivery.js';
import { DeliverySocket } from './transport/delivery-socket.js';
import type { HttpApi } from './transport/http-api.js';
import { Emitter } from './util/emitter.js';
import { SerialQueue } from './util/serial-queue.js';

/** How often expired disappearing messages are swept while the client runs. */
const EXPIRY_SWEEP_MS = 1000;

export type { ClientOptions, LinkOptions, RegisterOptions } from './onboarding.js';
export { normalizeServerUrl } from './onboarding.js';
export type { ClientEvents, ConversationChangedEvent, IdentityChangedEvent, TypingEvent, UndecryptableEvent } from './events.js';

export type { SendOptions } from './outbox/outbox.js';

export type { SafetyNumberView } from './contacts/directory.js';

/** A peer as the caller names it: a username, or an account id (32 hex characters). */
export type Peer = string;

export class Client extends Emitter<ClientEvents> {
  private readonly queue = new SerialQueue();
  private readonly now: () => number;
  private socket: DeliverySocket | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private maintenance: Promise<void> | undefined;
  private readonly followUps = new Set<Promise<void>>();
  /** The profile's store, announcing group and contact changes ('group-changed', 'contact-changed'). */
  private readonly store: ClientStore;
  private readonly identity: IdentityKeyPair;
  private readonly retries: RetryRequests;
  private readonly requests: MessageRequests;
  private readonly inbox: Inbox;
  private readonly outbox: Outbox;

  private readonly fanOut: DeviceFanOut;
  private readonly sealed: SealedDelivery;
  private readonly profiles: Profiles;
  private readonly receipts: DeliveryReceipts;
  private readonly directory: Directory;

  /** MLS groups of this device (docs/client.md "Groups"). */
  readonly groups: GroupManager;

  private constructor(
    private readonly options: ClientOptions,
    private account: AccountRecord,
    readonly api: HttpApi,
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.store = observeStore(options.store, {
      groups: (groupIds) => {
        for (const groupId of groupIds) this.emit('group-changed', { groupId });
      },
      contacts: (accountIds) => {
        for (const accountId of accountIds) this.emit('contact-changed', { accountId });
      },
    });
    this.identity = decodeIdentityKeyPair(account.identityKeyPair);
    this.directory = new Directory({ store: this.store, crypto: options.crypto, identity: this.identity, api, events: this, account: () => this.account, now: () => this.now() });
    this.sealed = new SealedDelivery({ store: this.store, crypto: options.crypto, identity: this.identity, api, accountId: () => this.account.accountId, now: () => this.now() });
    this.profiles = new Profiles({
      store: this.store,
      crypto: options.crypto,
      api,
      accountId: () => this.account.accountId,
      profileKey: () => this.sealed.profileKey(),
      now: () => this.now(),
    });
    this.fanOut = new DeviceFanOut({
      store: this.store,
      crypto: options.crypto,
      identity: this.identity,
      api,
      events: this,
      sealed: this.sealed,
      profileUpdated: () => this.profiles.updatedAt(),
      account: () => this.account,
      now: () => this.now(),
      socket: () => this.socket,
    });
    const delay = options.receiptDelay ?? DEFAULT_RECEIPT_DELAY;
    if (!(Number.isFinite(delay.minMs) && Number.isFinite(delay.maxMs) && delay.minMs >= 0 && delay.maxMs >= delay.minMs)) {
      throw new ClientError(ClientErrorCode.InvalidArgument, 'receiptDelay: 0 <= minMs <= maxMs');
    }
    this.receipts = new DeliveryReceipts({
      store: this.store,
      queue: this.queue,
      delay,
      random: () => new DataView(options.crypto.randomBytes(4).buffer).getUint32(0) / 2 ** 32,
      now: () => this.now(),
      send: (accountId, content) => this.fanOut.sendToAccount(accountId, content, false),
      track: (work) => this.track(work),
    });
    this.requests = new MessageRequests({
      store: this.store,
      queue: this.queue,
      fanOut: this.fanOut,
      events: this,
      account: () => this.account,
      now: () => this.now(),
      accountOf: async (peer) => (await this.resolve(peer)).accountId,
      leaveGroup: (groupId) => this.groups.leave(groupId),
      rotateProfileKey: async () => {
        await this.sealed.rotateProfileKey();
        await this.profiles.publish().catch(() => undefined);
      },
    });
    this.retries = new RetryRequests({
      store: this.store,
      crypto: options.crypto,
      identity: this.identity,
      queue: this.queue,
      fanOut: this.fanOut,
      account: () => this.account,
      now: () => this.now(),
      track: (work) => this.track(work),
    });
    this.inbox = new Inbox({
      store: this.store,
      crypto: options.crypto,
      identity: this.identity,
      queue: this.queue,
      events: this,
      fanOut: this.fanOut,
      directory: this.directory,
      requests: this.requests,
      retries: this.retries,
      sealed: this.sealed,
      receipts: this.receipts,
      profiles: this.profiles,
      groups: () => this.groups,
      account: () => this.account,
      now: () => this.now(),
      closed: () => this.closed,
      ack: (id) => this.socket?.ack([id]),
      track: (work) => this.track(work),
      scheduleMaintenance: () => this.scheduleMaintenance(),
    });
    this.outbox = new Outbox({
      store: this.store,
      api,
      queue: this.queue,
      events: this,
      fanOut: this.fanOut,
      directory: this.directory,
      requests: this.requests,
      groups: () => this.groups,
      account: () => this.account,
      now: () => this.now(),
      interpret: (target, c) => this.inbox.interpret(target, c),
    });
    this.groups = new GroupManager(
      {
        store: this.store,
        api,
        crypto: options.crypto,
        queue: this.queue,
        identity: this.identity,
        account: () => this.account,
        now: () => this.now(),
        accountsOf: async (peers) => Promise.all(peers.map(async (p) => (await this.resolve(p)).accountId)),
        events: this,
        interpret: (target, c) => this.inbox.interpret(target, c),
        profileKey: () => this.sealed.profileKey(),
        profileUpdated: () => this.profiles.updatedAt(),
        fetchProfile: (accountId) => this.profiles.fetch(accountId).then(() => undefined),
        stateOf: (accountId) => this.requestState(accountId),
        learnUsername: (accountId, username) => this.directory.learnUsername(accountId, username),
      },
      options.mlsCryptoProvider ? { mlsCryptoProvider: options.mlsCryptoProvider } : {},
    );
  }

  // ---- lifecycle ----

  /** Opens the account stored in `store`; NOT_REGISTERED if there is none. */
  static async open(options: ClientOptions): Promise<Client> {
    const account = await openAccount(options.store);
    return new Client(options, account, apiFor(options.connector, account));
  }

  /** Creates an account (and its first device) on `serverUrl`, stores it, and returns the open client. */
  static async register(options: RegisterOptions): Promise<Client> {
    const account = await registerAccount(options);
    return Client.published(new Client(options, account, apiFor(options.connector, account)));
  }

  /**
   * Links this (new) device to an existing account: shows a code through `onCode`, waits for an existing device of
   * the account to send the end-to-end encrypted provisioning message (`addDevice`), then registers this device.
   */
  static async link(options: LinkOptions): Promise<Client> {
    const account = await linkAccount(options);
    return Client.published(new Client(options, account, apiFor(options.connector, account)));
  }

  /**
   * A new device puts the account's sealed-sender and access keys on the server (and pins the trust root) at once,
   * so that it can be written to sealed before it first connects; on failure the upkeep after connecting does it.
   */
  private static async published(client: Client): Promise<Client> {
    await client.publishSealedSenderKey().catch(() => undefined);
    return client;
  }

  get accountId(): string {
    return this.account.accountId;
  }

  get deviceId(): number {
    return this.account.deviceId;
  }

  get username(): string | undefined {
    return this.account.username;
  }

  get serverUrl(): string {
    return this.account.serverUrl;
  }

  /**
   * Connects for delivery: the queued envelopes are processed in order ('queue-empty' when done), new ones as they
   * arrive; pending sends go out; prekeys are refilled and rotated when due; disappearing messages are swept.
   */
  async start(): Promise<void> {
    if (this.closed) throw new ClientError(ClientErrorCode.Closed, 'the client is closed');
    if (this.socket) return;
    await this.sweepExpired();
    this.sweepTimer = setInterval(() => void this.sweepExpired().catch(() => undefined), EXPIRY_SWEEP_MS);
    this.socket = new DeliverySocket({
      serverUrl: this.account.serverUrl,
      connector: this.options.connector,
      credentials: { accountId: this.account.accountId, deviceId: this.account.deviceId, password: this.account.password },
      onEnvelope: (received) => this.inbox.onEnvelope(received),
      onQueueEmpty: () => {
        this.emit('queue-empty');
        void this.receipts.resume().catch(() => undefined);
        this.scheduleMaintenance();
        void this.flushPending().catch(() => undefined);
      },
      onState: (state) => this.emit('connection', state),
    });
    this.socket.start();
  }

  /** Resolves when the server has delivered everything that was queued when the connection (re)opened. */
  async whenQueueEmpty(): Promise<void> {
    if (!this.socket) throw new ClientError(ClientErrorCode.InvalidArgument, 'start() the client first');
    await this.socket.whenQueueEmpty();
    await this.queue.idle();
  }

  /**
   * Stops receiving and waits for the work in progress (envelopes being processed, receipts being sent); the store
   * stays open, so history can still be read. `start()` may be called again.
   */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.retries.cancel();
    this.receipts.pause();
    const socket = this.socket;
    this.socket = undefined;
    await socket?.close();
    while (this.followUps.size > 0) await Promise.allSettled([...this.followUps]);
    await this.queue.idle();
    await this.maintenance?.catch(() => undefined);
  }

  /** Stops receiving, waits for work in progress, and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
    await this.store.close();
  }

  // ---- people (contacts/directory.ts) ----

  /** Resolves a username or account id to a contact, asking the server when it is not known yet. */
  resolve(peer: Peer): Promise<ContactRecord> {
    return this.directory.resolve(peer);
  }

  contacts(): Promise<ContactRecord[]> {
    return this.directory.list();
  }

  /** The name to show for an account (its username, else its chosen name, else a short id) or a group (its name). */
  displayName(accountId: string): Promise<string> {
    return this.directory.displayName(accountId);
  }

  /** The safety number of the conversation with `peer` (compare it out of band, then markVerified). */
  safetyNumber(peer: Peer): Promise<SafetyNumberView> {
    return this.directory.safetyNumber(peer);
  }

  markVerified(peer: Peer, verified = true): Promise<void> {
    return this.directory.markVerified(peer, verified);
  }

  /** Deletes the account on the server: every device, queued message, key and attachment. The local store stays. */
  async deleteAccount(): Promise<void> {
    await this.stop();
    await this.api.deleteAccount();
  }

  // ---- devices ----

  async devices() {
    return this.api.listDevices();
  }

  /**
   * Removes another device of this account: it stops receiving at once, and its leaves leave every group (a commit
   * per group; if one fails, e.g. offline, the next upkeep makes it, on this or another device of the account).
   */
  async removeDevice(deviceId: number): Promise<void> {
    if (deviceId === this.account.deviceId) throw new ClientError(ClientErrorCode.InvalidArgument, 'this device cannot remove itself; remove it from another device');
    await this.api.removeDevice(deviceId);
    // No more sync copies to it: it leaves the account's known devices. Its session stays, as in repairDevices: what
    // it sent before the removal may still be queued here, or be delivered again after a lost ack (a duplicate only a
    // session recognises), and needs the session to decrypt.
    await this.queue.run(async () => {
      const me = this.account.accountId;
      const known = await this.fanOut.knownDevices(me, false);
      if (!known?.delete(deviceId)) return;
      await this.store.write((tx) => this.fanOut.saveKnownDevices(tx, me, known));
    });
    await this.groups.removeGoneDevices().catch(() => undefined);
  }

  /** Existing-device side of linking: sends the account's keys, end-to-end encrypted, to the new device showing `code`. */
  addDevice(code: string): Promise<void> {
    return sendProvisioning({ store: this.store, api: this.api, account: this.account }, code);
  }

  // ---- history ----

  history(peer: string, options?: { limit?: number; before?: number }): Promise<MessageRecord[]> {
    return this.store.listMessages(peer, options);
  }

  /** One stored message (or event) of a conversation. */
  message(conversation: string, author: string, id: string): Promise<MessageRecord | undefined> {
    return this.store.getMessage(conversation, author, id);
  }

  /** Every conversation with its last message, newest first; `state` tells message requests and blocked ones. */
  async conversations(): Promise<ConversationSummary[]> {
    const out: ConversationSummary[] = [];
    for (const c of await this.store.listConversations()) out.push({ ...c, state: await this.requestState(c.conversation) });
    return out;
  }

  // ---- message requests and blocking (contacts/message-requests.ts) ----

  /** Whether `peer` (a username, an account id or a group id) is a conversation the user talks in, a request, or blocked. */
  requestState(peer: Peer): Promise<ConversationState> {
    return this.requests.state(peer);
  }

  /** Accepts a message request (a person or a group): it becomes an ordinary conversation on every device of ours. */
  acceptRequest(peer: Peer): Promise<void> {
    return this.requests.accept(peer);
  }

  /** Deletes a conversation's messages on every device of ours (a group is left first); they may write again. */
  deleteConversation(peer: Peer): Promise<void> {
    return this.requests.delete(peer);
  }

  /** Blocks an account on every device of ours (message-requests.ts). */
  block(peer: Peer): Promise<void> {
    return this.requests.block(peer);
  }

  unblock(peer: Peer): Promise<void> {
    return this.requests.unblock(peer);
  }

  /** The blocked accounts. */
  blocked(): Promise<ContactRecord[]> {
    return this.requests.blocked();
  }

  // ---- sending (outbox/outbox.ts) ----

  /** Sends a text (and attachments) to `peer`; resolves once the server has stored every copy. */
  sendText(peer: Peer, body: string, options: SendOptions = {}): Promise<MessageRecord> {
    return this.outbox.sendText(peer, body, options);
  }

  /** Resends the messages left pending by an earlier run (crash or lost connection before the server stored them). */
  flushPending(): Promise<void> {
    return this.outbox.flushPending();
  }

  editMessage(peer: Peer, targetId: string, body: string): Promise<void> {
    return this.outbox.editMessage(peer, targetId, body);
  }

  /** Deletes one of our messages for everyone (every device of both people). */
  deleteForEveryone(peer: Peer, targetId: string): Promise<void> {
    return this.outbox.deleteForEveryone(peer, targetId);
  }

  react(peer: Peer, target: { id: string; author: string }, emoji: string, remove = false): Promise<void> {
    return this.outbox.react(peer, target, emoji, remove);
  }

  /** Typing indicators go to the peer's devices only and are never stored. */
  sendTyping(peer: Peer, action: 'started' | 'stopped'): Promise<void> {
    return this.outbox.sendTyping(peer, action);
  }

  /** Sets the disappearing-message timer of the conversation (seconds; 0 turns it off) on every device of both. */
  setExpireTimer(peer: Peer, seconds: number): Promise<void> {
    return this.outbox.setExpireTimer(peer, seconds);
  }

  /** Marks the conversation read here, tells the author's devices (read receipts) and our other devices. */
  markRead(peer: Peer): Promise<number> {
    return this.outbox.markRead(peer);
  }

  /** Downloads and decrypts an attachment; ATTACHMENT_CORRUPTED unless its digest and MAC verify. */
  downloadAttachment(pointer: AttachmentPointer, onProgress?: (received: number, total: number) => void): Promise<Uint8Array> {
    return this.outbox.downloadAttachment(pointer, onProgress);
  }

  /** Keeps work that runs outside the queue's order (follow-ups), so that stop() waits for it. */
  private track(work: Promise<void>): void {
    const running = work.finally(() => this.followUps.delete(running));
    this.followUps.add(running);
  }

  // ---- upkeep ----

  private scheduleMaintenance(): void {
    if (this.maintenance || this.closed) return;
    this.maintenance = this.maintainPreKeys()
      .catch(() => undefined)
      .then(() => this.publishSealedSenderKey())
      .catch(() => undefined)
      .then(() => this.profiles.refresh())
      .catch(() => undefined)
      .then(() => this.groups.maintain())
      .catch(() => undefined)
      .finally(() => (this.maintenance = undefined));
  }

  /** Refills one-time prekeys on the server and rotates the signed ones when due (PQXDH §3.2 / Signal's schedule). */
  async maintainPreKeys(): Promise<void> {
    const store = this.store;
    const counts = await this.api.keyCounts();
    const due = await rotationDue(store, this.now());
    const wanted = {
      signed: due.signed,
      lastResort: due.lastResort,
      oneTime: counts.oneTime < REFILL_THRESHOLD ? ONE_TIME_BATCH : 0,
      kyberOneTime: counts.kyberOneTime < REFILL_THRESHOLD ? KYBER_ONE_TIME_BATCH : 0,
    };
    if (!wanted.signed && !wanted.lastResort && !wanted.oneTime && !wanted.kyberOneTime) return;
    const { batch, stage } = await generatePreKeys(this.options.crypto, store, this.identity, wanted, this.now());
    // Private halves first: a key the server hands out must exist here.
    await store.write(stage);
    await this.api.uploadKeys(batch);
    await store.write(await pruneReplaced(store, this.now()));
  }

  /**
   * Puts the account's sealed-sender key and its access key (with who may send sealed) on the server, each once per
   * device and again when they change (sealed/sealed-delivery.ts).
   */
  publishSealedSenderKey(): Promise<void> {
    return this.sealed.publish();
  }

  /** The user's profile (name, about text, avatar) as this device holds it. */
  profile(): Promise<OwnProfile> {
    return this.profiles.own();
  }

  /**
   * Changes the user's profile: stored here, then encrypted under the profile key and put on the server
   * (contacts/profiles.ts). INVALID_ARGUMENT for a name over 100 or an about text over 500 characters, control
   * characters, or an avatar over 256 KiB.
   */
  setProfile(change: ProfileChange): Promise<OwnProfile> {
    return this.profiles.set(change);
  }

  /** Fetches a contact's encrypted profile again (with the profile key they sent); their updated record. */
  refreshProfile(peer: Peer): Promise<ContactRecord | undefined> {
    return this.resolve(peer).then((r) => this.profiles.fetch(r.accountId));
  }

  /** A contact's avatar, as their profile last gave it (undefined without one). */
  async avatarOf(peer: Peer): Promise<Uint8Array | undefined> {
    return this.profiles.avatarOf((await this.resolve(peer)).accountId);
  }

  /** Whether this device sends delivery receipts (batched, after a random delay: outbox/delivery-receipts.ts). */
  deliveryReceipts(): Promise<boolean> {
    return this.receipts.enabled();
  }

  /** Turns delivery receipts on or off on this device; off drops the ones still waiting. */
  async setDeliveryReceipts(enabled: boolean): Promise<void> {
    if (typeof enabled !== 'boolean') throw new ClientError(ClientErrorCode.InvalidArgument, 'delivery receipts are on (true) or off (false)');
    await this.receipts.setEnabled(enabled);
  }

  /** Who may send this account sealed envelopes, and whether sends that cannot be sealed may go identified. */
  sealedSenderSettings(): Promise<SealedSenderSettings> {
    return this.sealed.settings();
  }

  /** Changes the sealed-sender settings (the mode is told to the server at once: it applies to the whole account). */
  setSealedSenderSettings(change: Partial<SealedSenderSettings>): Promise<SealedSenderSettings> {
    return this.sealed.setSettings(change);
  }

  /** Deletes the disappearing messages whose time has come. */
  async sweepExpired(): Promise<void> {
    const expired = await this.store.listExpired(this.now());
    if (expired.length === 0) return;
    await this.store.write((tx) => expired.forEach((m) => tx.deleteMessage(m.conversation, m.author, m.id)));
    for (const m of expired) this.emit('message-expired', m);
  }
}
