/**
 * The send path of what the user writes: a message is stored `pending` first (so that nothing typed is lost), then
 * sent — to a group through GroupManager, to a person through the device fan-out (their devices, and a sync copy to
 * ours) — and moved to `sent`, or left `pending` to go out when the connection returns (flushPending), or `failed`.
 * Edits, deletes for everyone, reactions, typing, the disappearing-message timer and read receipts go the same way.
 */
import { decryptAttachment, encryptAttachment } from '../attachments/attachment-cipher.js';
import type { AttachmentPointer } from '../attachments/attachment-cipher.js';
import type { Directory } from '../contacts/directory.js';
import type { MessageRequests } from '../contacts/message-requests.js';
import type { Content } from '../content/content.js';
import type { DeliveryKind } from '../sealed/sealed-delivery.js';
import { newMessageId } from '../content/content.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientEvents } from '../events.js';
import type { GroupManager } from '../groups/group-manager.js';
import { GROUP_ID_PATTERN } from '../groups/group-manager.js';
import type { Effects, InterpretTarget } from '../inbox/interpret.js';
import { STATUS_RANK, deletedCopy, withReaction } from '../inbox/interpret.js';
import type { AccountRecord, ClientStore, GroupRecord, MessageRecord, MessageStatus } from '../storage/store.js';
import type { HttpApi } from '../transport/http-api.js';
import type { Emitter } from '../util/emitter.js';
import type { SerialQueue } from '../util/serial-queue.js';
import type { DeviceFanOut } from './fan-out.js';
import { messageContentOf } from './message-content.js';

/** A username, an account id or a group id. */
type Peer = string;

export interface SendOptions {
  readonly attachments?: readonly { readonly data: Uint8Array; readonly contentType: string; readonly fileName?: string }[];
  readonly quote?: { readonly id: string; readonly author: string };
  /** Upload progress of the attachments, in bytes of ciphertext. */
  readonly onProgress?: (sent: number, total: number) => void;
  /**
   * When the server cannot be reached, keep the message `pending` (it goes out when the connection returns:
   * `flushPending` runs after every reconnect) instead of failing. Offline-first clients (the web client) set it.
   */
  readonly queueIfOffline?: boolean;
}

export interface OutboxHost {
  readonly store: ClientStore;
  readonly api: HttpApi;
  readonly queue: SerialQueue;
  readonly events: Emitter<ClientEvents>;
  readonly fanOut: DeviceFanOut;
  readonly directory: Directory;
  readonly requests: MessageRequests;
  groups(): GroupManager;
  account(): AccountRecord;
  now(): number;
  /** What a content means here, as a received one would (the timer applies locally that way). */
  interpret(target: InterpretTarget, c: Content): Promise<Effects>;
}

export class Outbox {
  constructor(private readonly host: OutboxHost) {}

  /** Sends a text (and attachments) to `peer`; resolves once the server has stored every copy. */
  async sendText(peer: Peer, body: string, options: SendOptions = {}): Promise<MessageRecord> {
    if (GROUP_ID_PATTERN.test(peer)) return this.sendTextTo(await this.conversationOf(peer), body, options);
    const contact = await this.host.directory.resolve(peer);
    try {
      return await this.sendTextTo({ id: contact.accountId, expireTimer: contact.expireTimer }, body, options);
    } catch (err) {
      // The username now belongs to a new account (its owner re-registered): warn, and send to the new one.
      if (!ClientError.isServer(err, 'ACCOUNT_NOT_FOUND') || contact.username === undefined) throw err;
      const moved = await this.host.directory.relocate(contact.accountId, contact.username);
      if (!moved) throw err;
      return this.sendTextTo({ id: moved.accountId, expireTimer: moved.expireTimer }, body, options);
    }
  }

  private async sendTextTo(conversation: { id: string; expireTimer: number }, body: string, options: SendOptions): Promise<MessageRecord> {
    await this.host.requests.acceptOnSend(conversation.id);
    const attachments: AttachmentPointer[] = [];
    for (const a of options.attachments ?? []) attachments.push(await this.uploadAttachment(a, options.onProgress));
    const timestamp = this.host.now();
    const content: Content = {
      type: 'message',
      id: newMessageId(),
      timestamp,
      ...(body !== '' ? { body } : {}),
      ...(attachments.length ? { attachments } : {}),
      ...(options.quote ? { quote: { id: options.quote.id, author: options.quote.author } } : {}),
      ...(conversation.expireTimer ? { expireTimer: conversation.expireTimer } : {}),
    };
    const record: MessageRecord = {
      conversation: conversation.id,
      id: content.id,
      author: this.host.account().accountId,
      authorDevice: this.host.account().deviceId,
      timestamp,
      receivedAt: timestamp,
      direction: 'outgoing',
      kind: 'message',
      ...(body !== '' ? { body } : {}),
      ...(attachments.length ? { attachments } : {}),
      ...(options.quote ? { quote: options.quote } : {}),
      status: 'pending',
      ...(conversation.expireTimer ? { expireTimer: conversation.expireTimer, expiresAt: timestamp + conversation.expireTimer * 1000 } : {}),
    };
    const history = GROUP_ID_PATTERN.test(conversation.id) ? undefined : await this.host.directory.historyNotice(conversation.id);
    await this.host.store.write((tx) => {
      if (history) tx.putMessage(history);
      tx.putMessage(record);
    });
    if (history) this.host.events.emit('message', history);
    this.host.events.emit('message', record);
    return this.deliverRecord(record, content, options.queueIfOffline === true);
  }

  private async deliverRecord(record: MessageRecord, content: Content, queueIfOffline = false): Promise<MessageRecord> {
    let delivery: DeliveryKind | undefined;
    try {
      if (GROUP_ID_PATTERN.test(record.conversation)) await this.host.groups().sendContent(record.conversation, content, false);
      else delivery = await this.host.queue.run(() => this.sendContent(record.conversation, content));
    } catch (err) {
      if (queueIfOffline && ClientError.is(err, ClientErrorCode.ServerUnreachable)) return record; // Stays pending: flushPending sends it.
      if (ClientError.isServer(err, 'ACCOUNT_NOT_FOUND')) {
        // Never delivered anywhere: the account is gone. sendText may resend it to the username's new account.
        await this.host.store.write((tx) => tx.deleteMessage(record.conversation, record.author, record.id));
      } else {
        await this.recordStatus(record, 'failed');
      }
      throw err;
    }
    return this.recordStatus(record, 'sent', delivery === 'sealed');
  }

  /** Moves an outgoing message to `status` unless a receipt already took it further (✓✓ before ✓ is possible). */
  private async recordStatus(record: MessageRecord, status: MessageStatus, sealed = false): Promise<MessageRecord> {
    const stored = (await this.host.store.getMessage(record.conversation, record.author, record.id)) ?? record;
    const current = sealed ? { ...stored, sealed } : stored;
    const next = status !== 'failed' && STATUS_RANK[current.status] >= STATUS_RANK[status] ? current : { ...current, status };
    await this.host.store.write((tx) => tx.putMessage(next));
    this.host.events.emit('message-updated', next);
    return next;
  }

  /** Resends the messages left pending by an earlier run (crash or lost connection before the server stored them). */
  async flushPending(): Promise<void> {
    for (const record of await this.host.store.listPending()) {
      if (record.kind !== 'message') continue;
      const content = messageContentOf(record);
      await this.deliverRecord(record, content, true).catch(() => undefined);
    }
  }

  async editMessage(peer: Peer, targetId: string, body: string): Promise<void> {
    const conversation = await this.conversationOf(peer);
    const target = await this.host.store.getMessage(conversation.id, this.host.account().accountId, targetId);
    if (!target || target.deleted) throw new ClientError(ClientErrorCode.InvalidArgument, 'no such message of yours in this conversation');
    const content: Content = { type: 'edit', id: newMessageId(), timestamp: this.host.now(), targetId, body };
    await this.dispatch(conversation, content);
    const updated: MessageRecord = { ...target, body, editedAt: content.timestamp };
    await this.host.store.write((tx) => tx.putMessage(updated));
    this.host.events.emit('message-updated', updated);
  }

  /** Deletes one of our messages for everyone (every device of both people). */
  async deleteForEveryone(peer: Peer, targetId: string): Promise<void> {
    const conversation = await this.conversationOf(peer);
    const target = await this.host.store.getMessage(conversation.id, this.host.account().accountId, targetId);
    if (!target) throw new ClientError(ClientErrorCode.InvalidArgument, 'no such message of yours in this conversation');
    const content: Content = { type: 'delete', id: newMessageId(), timestamp: this.host.now(), targetId };
    await this.dispatch(conversation, content);
    const updated = deletedCopy(target);
    await this.host.store.write((tx) => tx.putMessage(updated));
    this.host.events.emit('message-updated', updated);
  }

  async react(peer: Peer, target: { id: string; author: string }, emoji: string, remove = false): Promise<void> {
    const conversation = await this.conversationOf(peer);
    const message = await this.host.store.getMessage(conversation.id, target.author, target.id);
    if (!message) throw new ClientError(ClientErrorCode.InvalidArgument, 'no such message in this conversation');
    const content: Content = { type: 'reaction', id: newMessageId(), timestamp: this.host.now(), targetId: target.id, targetAuthor: target.author, emoji, remove };
    await this.dispatch(conversation, content);
    const updated = withReaction(message, this.host.account().accountId, emoji, remove, content.timestamp);
    await this.host.store.write((tx) => tx.putMessage(updated));
    this.host.events.emit('message-updated', updated);
  }

  /** Typing indicators go to the peer's devices only and are never stored. */
  async sendTyping(peer: Peer, action: 'started' | 'stopped'): Promise<void> {
    const conversation = await this.conversationOf(peer);
    if (conversation.id === this.host.account().accountId) return;
    if ((await this.host.requests.state(conversation.id)) !== 'accepted') return; // Nothing goes to a request or a blocked account.
    const content: Content = { type: 'typing', id: newMessageId(), timestamp: this.host.now(), action };
    if (conversation.group) await this.host.groups().sendContent(conversation.id, content, false);
    else await this.host.queue.run(() => this.host.fanOut.sendToAccount(conversation.id, content, false));
  }

  /** Sets the disappearing-message timer of the conversation (seconds; 0 turns it off) on every device of both. */
  async setExpireTimer(peer: Peer, seconds: number): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 365 * 24 * 3600) {
      throw new ClientError(ClientErrorCode.InvalidArgument, 'the timer is a whole number of seconds, at most a year');
    }
    const conversation = await this.conversationOf(peer);
    const content: Content = { type: 'timer', id: newMessageId(), timestamp: this.host.now(), expireTimer: seconds };
    if (conversation.group) {
      await this.host.groups().sendContent(conversation.id, content, true); // Sets the group's timer and records it here too.
      return;
    }
    await this.host.queue.run(() => this.sendContent(conversation.id, content));
    // Applied here the way every other device applies it on receipt.
    const me = this.host.account();
    const effects = await this.host.interpret({ conversation: conversation.id, author: me.accountId, authorDevice: me.deviceId, group: undefined }, content);
    await this.host.store.write((tx) => effects.stage(tx));
    effects.emit(this.host.events);
  }

  /** Marks the conversation read here, tells the author's devices (read receipts) and our other devices. */
  async markRead(peer: Peer): Promise<number> {
    const conversation = await this.conversationOf(peer);
    const now = this.host.now();
    const unread = await this.host.store.listUnread(conversation.id);
    if (unread.length === 0) return 0;
    const updated = unread.map((m) => ({ ...m, readAt: now, ...(m.expireTimer ? { expiresAt: now + m.expireTimer * 1000 } : {}) }));
    await this.host.store.write((tx) => updated.forEach((m) => tx.putMessage(m)));
    for (const m of updated) this.host.events.emit('message-updated', m);
    // A message request is read without telling its sender (as Signal): only our other devices learn it.
    const tellAuthors = (await this.host.requests.state(conversation.id)) === 'accepted';
    if (conversation.group && !tellAuthors) return unread.length;
    if (conversation.group) {
      // One receipt into the group: each author's devices mark theirs read; our devices mark the whole batch.
      await this.host.groups().sendContent(conversation.id, { type: 'receipt', id: newMessageId(), timestamp: now, receipt: 'read', targetIds: unread.slice(-1000).map((m) => m.id) }, false);
      return unread.length;
    }
    await this.host.queue.run(async () => {
      if (tellAuthors) await this.host.fanOut.sendToAccount(conversation.id, { type: 'receipt', id: newMessageId(), timestamp: now, receipt: 'read', targetIds: unread.map((m) => m.id) }, false);
      await this.host.fanOut.sendToAccount(this.host.account().accountId, { type: 'sync-read', id: newMessageId(), timestamp: now, read: unread.map((m) => ({ author: m.author, targetId: m.id })) }, true);
    });
    return unread.length;
  }

  /** The conversation `peer` names: a group (by id) or a person (username or account id). */
  private async conversationOf(peer: Peer): Promise<{ id: string; group?: GroupRecord; expireTimer: number; username?: string }> {
    if (GROUP_ID_PATTERN.test(peer)) {
      const group = await this.host.store.getGroup(peer);
      if (!group) throw new ClientError(ClientErrorCode.InvalidArgument, 'no such group on this device');
      return { id: group.groupId, group, expireTimer: group.expireTimer };
    }
    const contact = await this.host.directory.resolve(peer);
    return { id: contact.accountId, expireTimer: contact.expireTimer, ...(contact.username !== undefined ? { username: contact.username } : {}) };
  }

  /** Sends a content into a conversation (for a group, not applied locally: the caller does that). */
  private async dispatch(conversation: { id: string; group?: GroupRecord }, content: Content): Promise<void> {
    if (conversation.group) await this.host.groups().sendContent(conversation.id, content, false);
    else await this.host.queue.run(() => this.sendContent(conversation.id, content));
  }

  private async uploadAttachment(
    a: { data: Uint8Array; contentType: string; fileName?: string },
    onProgress?: (sent: number, total: number) => void,
  ): Promise<AttachmentPointer> {
    const { blob, key, digest, size } = await encryptAttachment(a.data);
    const { id } = await this.host.api.uploadAttachment(blob, onProgress);
    return { id, key, digest, size, contentType: a.contentType, ...(a.fileName !== undefined ? { fileName: a.fileName } : {}) };
  }

  /** Downloads and decrypts an attachment; ATTACHMENT_CORRUPTED unless its digest and MAC verify. */
  async downloadAttachment(pointer: AttachmentPointer, onProgress?: (received: number, total: number) => void): Promise<Uint8Array> {
    const blob = await this.host.api.downloadAttachment(pointer.id, onProgress);
    return decryptAttachment(blob, pointer);
  }

  // ---- the send path (always inside this.host.queue) ----

  /** A content to a conversation: to the peer's devices, and a sync copy to our other devices. */
  /** Inside the queue. */
  private async sendContent(conversation: string, content: Content): Promise<DeliveryKind | undefined> {
    if ((await this.host.store.getContact(conversation))?.blocked) {
      throw new ClientError(ClientErrorCode.Blocked, 'this account is blocked: unblock it to write to it');
    }
    const delivery = conversation !== this.host.account().accountId ? await this.host.fanOut.sendToAccount(conversation, content, false) : undefined;
    await this.host.fanOut.sendToAccount(this.host.account().accountId, { type: 'sync-sent', id: content.id, timestamp: content.timestamp, destination: conversation, content }, true);
    return delivery;
  }
}
