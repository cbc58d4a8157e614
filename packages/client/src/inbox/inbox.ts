/**
 * The receive path: an envelope from the delivery socket is decrypted (Sesame session selection,
 * @samizdat/protocol), its content interpreted (interpret.ts) and stored in one atomic write with the advanced
 * session, then acknowledged; the follow-ups (receipts, resends) run afterwards, outside its turn in the queue. A
 * redelivered envelope (its message key used already) is acknowledged silently; one that fails to decrypt is
 * recorded and answered with a retry request (retry-requests.ts), never with a dropped session; a storage failure
 * leaves it unacknowledged, so the server delivers it again (docs/client.md "Guarantees").
 */
import { CiphertextType, EnvelopeType, ProtocolError, SealedInnerType, SessionManager, constantTimeEqual, decodeEnvelope, encodeIdentityKey, ratchetKeyOf } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKey, IdentityKeyPair, ProtocolAddress } from '@samizdat/protocol';
import type { Content } from '../content/content.js';
import { decodeContent } from '../content/content.js';
import type { Directory } from '../contacts/directory.js';
import type { MessageRequests } from '../contacts/message-requests.js';
import { contactState, contactWith } from '../contacts/requests.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientEvents } from '../events.js';
import type { GroupManager } from '../groups/group-manager.js';
import { systemNotice } from '../notices.js';
import type { DeviceFanOut } from '../outbox/fan-out.js';
import { StagedProtocolStore } from '../storage/staged-protocol-store.js';
import type { AccountRecord, ClientStore } from '../storage/store.js';
import type { ReceivedEnvelope } from '../transport/delivery-socket.js';
import type { Emitter } from '../util/emitter.js';
import type { SerialQueue } from '../util/serial-queue.js';
import { Effects, interpret } from './interpret.js';
import type { FollowUp, InterpretTarget } from './interpret.js';
import type { RetryRequests } from './retry-requests.js';
import type { DeliveryReceipts } from '../outbox/delivery-receipts.js';
import type { SealedDelivery } from '../sealed/sealed-delivery.js';
import type { Profiles } from '../contacts/profiles.js';
import { stageProfileKey } from '../contacts/profiles.js';

/** Contents that are the user writing to someone (which accepts their message request). */
const WRITES: ReadonlySet<Content['type']> = new Set(['message', 'edit', 'delete', 'reaction', 'timer']);

export interface InboxHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly queue: SerialQueue;
  readonly events: Emitter<ClientEvents>;
  readonly fanOut: DeviceFanOut;
  readonly directory: Directory;
  readonly requests: MessageRequests;
  readonly retries: RetryRequests;
  readonly sealed: SealedDelivery;
  readonly receipts: DeliveryReceipts;
  readonly profiles: Pick<Profiles, 'fetch' | 'publish'>;
  groups(): GroupManager;
  account(): AccountRecord;
  now(): number;
  closed(): boolean;
  /** Acknowledges an envelope on the delivery socket (batched there). */
  ack(id: bigint): void;
  /** Keeps work that runs outside the queue's order, so that stopping the client waits for it. */
  track(work: Promise<void>): void;
  /** A prekey message used one of our one-time keys: top them up soon. */
  scheduleMaintenance(): void;
}

/** Failures after which an envelope is kept on the server (not acknowledged) to be processed again. */
const TRANSIENT = [ClientErrorCode.StorageError, ClientErrorCode.ServerUnreachable, ClientErrorCode.ServerError, ClientErrorCode.Timeout] as const;

export class Inbox {
  constructor(private readonly host: InboxHost) {}

  /** One envelope from the delivery socket: processed in the queue, then acknowledged, then its follow-ups. */
  async onEnvelope(received: ReceivedEnvelope): Promise<void> {
    let processed = false;
    let after: FollowUp[] = [];
    try {
      after = await this.host.queue.run(() => this.processEnvelope(received));
      processed = true;
    } catch (err) {
      // A storage failure, or the server not answering for the trust root a sealed envelope is checked against: leave
      // the envelope unacknowledged; the server redelivers it on the next connection.
      if (!TRANSIENT.some((code) => ClientError.is(err, code))) processed = true;
    }
    if (processed) this.host.ack(received.id);
    // Receipts and resends queue behind this envelope; they must not hold up the next one's processing.
    for (const task of after) this.host.track(task().catch(() => undefined));
  }

  private async processEnvelope(received: ReceivedEnvelope): Promise<FollowUp[]> {
    let envelope;
    try {
      envelope = decodeEnvelope(received.envelope);
    } catch {
      if (received.source) await this.recordUndecryptable({ account: received.source.accountId, device: received.source.deviceId }, this.host.now(), 'malformed envelope', false);
      else this.unreadableSealed(this.host.now(), 'malformed envelope');
      return [];
    }
    if (envelope.type === EnvelopeType.GroupMessage || envelope.type === EnvelopeType.GroupWelcome) {
      return this.host.groups().receive(envelope.type, envelope.content, envelope.timestamp);
    }
    // A sealed envelope names its sender only inside: the server's word (none here) is never used for it.
    let address: ProtocolAddress;
    let inner: { type: typeof EnvelopeType.PreKeyMessage | typeof EnvelopeType.Message; content: Uint8Array };
    let sealedBy: IdentityKey | undefined;
    if (envelope.type === EnvelopeType.SealedSender) {
      let unsealed;
      try {
        unsealed = await this.host.sealed.unseal(envelope.content);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        // Nobody to record it for or to ask for a resend: whoever sent it cannot be told apart from a forger.
        this.unreadableSealed(envelope.timestamp, err.code);
        return [];
      }
      address = { account: unsealed.certificate.accountId, device: unsealed.certificate.deviceId };
      inner = { type: unsealed.innerType === SealedInnerType.PreKeyMessage ? EnvelopeType.PreKeyMessage : EnvelopeType.Message, content: unsealed.inner };
      sealedBy = unsealed.certificate.identityKey;
    } else {
      const source = received.source;
      if (!source) {
        this.unreadableSealed(envelope.timestamp, 'an envelope without a sender that is not sealed');
        return [];
      }
      address = { account: source.accountId, device: source.deviceId };
      inner = { type: envelope.type, content: envelope.content };
    }
    return this.processSessionMessage(address, inner.type, inner.content, envelope.timestamp, sealedBy);
  }

  /** A sealed envelope that did not open: counted and reported, with no conversation to put it in. */
  private unreadableSealed(timestamp: number, reason: string): void {
    this.host.events.emit('sealed-rejected', { timestamp, reason });
  }

  /**
   * A PQXDH or Double Ratchet message from `address`: decrypted under its session, interpreted and stored. For a
   * sealed one, the session must be with the identity that sealed it (the certificate's): a sealed envelope naming
   * Bob's account but sealed by another identity key does not decrypt under Bob's session, and a prekey message
   * carrying another identity than the one that sealed is refused before it can start a session.
   */
  private async processSessionMessage(
    address: ProtocolAddress,
    envelopeType: EnvelopeType,
    body: Uint8Array,
    timestamp: number,
    sealedBy: IdentityKey | undefined,
  ): Promise<FollowUp[]> {
    const envelope = { type: envelopeType, content: body, timestamp };
    const source = { accountId: address.account, deviceId: address.device };
    const staged = new StagedProtocolStore(this.host.store, this.host.identity);
    const sessions = new SessionManager(this.host.crypto, staged);
    const type = envelope.type === EnvelopeType.PreKeyMessage ? CiphertextType.PreKey : CiphertextType.Ratchet;
    let result;
    try {
      result = await sessions.decrypt(address, { type, body: envelope.content });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      await this.recordUndecryptable(address, envelope.timestamp, err.code, true, ratchetKeyOf({ type, body: envelope.content }));
      return [];
    }
    if (result.kind === 'duplicate') return []; // A redelivery after a lost ack: already stored.
    if (sealedBy !== undefined && !constantTimeEqual(result.remoteIdentity, encodeIdentityKey(sealedBy))) {
      // Sealed by one identity, decrypted under a session with another: a forgery. Nothing is stored (the staged
      // session writes are dropped), and nobody is asked for a resend.
      this.unreadableSealed(timestamp, 'sealed by another identity than the session');
      return [];
    }
    let content: Content;
    try {
      content = decodeContent(result.plaintext);
    } catch {
      await this.host.fanOut.commitStaged(staged, () => undefined);
      await this.recordUndecryptable(address, envelope.timestamp, 'unreadable content', false);
      return [];
    }
    // Learn who wrote before the message is shown, so that even the first message names its sender.
    const claimed = content.profile?.username;
    if (claimed !== undefined && source.accountId !== this.host.account().accountId) await this.host.directory.learnUsername(source.accountId, claimed).catch(() => undefined);
    const after = await this.applyContent(address, content, staged, sealedBy !== undefined);
    if (type === CiphertextType.PreKey) this.host.scheduleMaintenance();
    return after;
  }

  /**
   * Stores what `content` means for this device together with the staged session writes, emits the events, and
   * returns follow-up sends (receipts, resends) to run once the envelope is safely stored.
   */
  private async applyContent(from: ProtocolAddress, content: Content, staged: StagedProtocolStore, sealed: boolean): Promise<FollowUp[]> {
    const store = this.host.store;
    const me = this.host.account().accountId;
    const fromSelf = from.account === me;
    const now = this.host.now();
    const effects = new Effects();
    const { writes, updated } = effects;

    if (!fromSelf) {
      // Message requests and blocking: a blocked account's contents are dropped unread (the session still
      // advances), and typing from someone the user does not talk with yet is not shown.
      const state = contactState(me, from.account, await store.getContact(from.account));
      if (state === 'blocked' || (state === 'request' && content.type === 'typing')) {
        await this.host.fanOut.commitStaged(staged, () => undefined);
        return [];
      }
    }

    // Another device of ours rotated the account's profile key (after a block): this one adopts it, whatever the content.
    const ownKey = fromSelf ? content.profile?.profileKey : undefined;
    const adopt: FollowUp[] = ownKey
      ? [
          async () => {
            if (await this.host.sealed.adoptProfileKey(ownKey).catch(() => false)) await this.host.profiles.publish().catch(() => undefined);
          },
        ]
      : [];

    const inner: { conversation: string; content: Content; author: string } | undefined = fromSelf
      ? content.type === 'sync-sent'
        ? { conversation: content.destination, content: content.content, author: me }
        : undefined
      : { conversation: from.account, content, author: from.account };

    if (fromSelf && content.type === 'sync-read') {
      for (const r of content.read) {
        const conversation = r.author;
        const m = await store.getMessage(conversation, r.author, r.targetId);
        if (m && m.readAt === undefined) {
          const u = { ...m, readAt: now, ...(m.expireTimer ? { expiresAt: now + m.expireTimer * 1000 } : {}) };
          writes.push(u);
          updated.push(u);
        }
      }
    } else if (fromSelf && content.type === 'sync-request') {
      // A decision made on another device of the account, stored with this envelope, so that what is queued after
      // it (the blocked account's next message) is judged by it. A group it deleted: that device left with the
      // whole account (GroupManager.leave), so here only the history goes.
      const writes = await this.host.requests.decisionWrites(content.target, content.action);
      if (writes) {
        await this.host.fanOut.commitStaged(staged, writes);
        await this.host.requests.announceDecision(content.target, content.action);
        return adopt;
      }
    } else if (content.type === 'resend-request') {
      // Decrypted under our session with `from`: the request is that device's, not the server's claim. Which session
      // sent the failed message is decided on the sessions as they were before this request advanced them (the
      // store still holds them until the commit below), as Signal decides on a request that is not encrypted.
      const request = content;
      const failed = request.ratchetKey
        ? await new SessionManager(this.host.crypto, new StagedProtocolStore(store, this.host.identity)).sessionSendingWith(from, request.ratchetKey)
        : undefined;
      effects.after.push(() => this.host.retries.answer(from, request, failed));
    } else if (inner) {
      const target = { conversation: inner.conversation, author: inner.author, authorDevice: from.device, group: undefined, ...(sealed ? { sealed } : {}) };
      effects.add(await this.interpret(target, inner.content));
      // Our other device wrote to them: that accepts their request here too.
      if (fromSelf && inner.conversation !== me && WRITES.has(inner.content.type)) {
        const i = effects.contactWrites.findIndex((c) => c.accountId === inner.conversation);
        const current = i >= 0 ? effects.contactWrites[i] : await store.getContact(inner.conversation);
        if (!current?.accepted) {
          const accepted = contactWith(inner.conversation, current, 'accept');
          if (i >= 0) effects.contactWrites[i] = accepted;
          else effects.contactWrites.push(accepted);
        }
      }
    }

    // Their profile key, which our sealed sends to them present the access key of (they send it to whom they talk with).
    // A new profile key, or a profile that changed since we last heard: fetched once this is stored.
    if (!fromSelf && (await stageProfileKey(store, effects.contactWrites, from.account, content.profile))) {
      const account = from.account;
      effects.after.push(() => this.host.profiles.fetch(account).then(() => undefined, () => undefined));
    }

    await this.host.fanOut.commitStaged(staged, (tx) => effects.stage(tx));
    effects.emit(this.host.events);
    // Receipts wait for their batch's random time (outbox/delivery-receipts.ts), or go at once when not delayed.
    const receipts: FollowUp[] = [];
    for (const r of effects.deliveryReceipts) {
      const now = await this.host.receipts.due(r.to, r.id);
      if (now) receipts.push(now);
    }
    return [...receipts, ...effects.after, ...adopt];
  }

  /** What a content means here (inbox/interpret.ts), read from this device's store. */
  interpret(target: InterpretTarget, c: Content): Promise<Effects> {
    return interpret({ store: this.host.store, me: this.host.account().accountId, now: this.host.now(), historyNotice: (conversation) => this.host.directory.historyNotice(conversation) }, target, c);
  }

  /**
   * An envelope that did not decrypt: recorded in the conversation and, for session failures, answered with a retry
   * request to the device the server names as its sender (Signal's DecryptionErrorMessage). Our sessions stay as
   * they are: the server may have forged or damaged the envelope, and only the real sender can tell whether its
   * session broke (inbox/retry-requests.ts, which also limits how often we ask).
   */
  private async recordUndecryptable(from: ProtocolAddress, timestamp: number, reason: string, repair: boolean, ratchetKey?: Uint8Array): Promise<void> {
    const notice = systemNotice(this.host.crypto, this.host.now(), from.account, from.account, from.device, timestamp, 'undecryptable');
    await this.host.store.write((tx) => tx.putMessage(notice));
    this.host.events.emit('undecryptable', { conversation: from.account, author: from.account, authorDevice: from.device, timestamp, reason });
    this.host.events.emit('message', notice);
    if (repair && !this.host.closed()) this.host.retries.gather(from, timestamp, ratchetKey);
  }
}
