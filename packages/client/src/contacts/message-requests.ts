/**
 * Message requests and blocking on this device and the account's others (contacts/requests.ts has the rules; this
 * is their I/O): the state of a conversation, the user's decisions, stored here and sent to our other devices as a
 * `sync-request`, and the acceptance that writing to someone implies.
 */
import { isAccountId } from '@samizdat/protocol';
import type { Content, RequestAction } from '../content/content.js';
import { newMessageId } from '../content/content.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientEvents } from '../events.js';
import type { DeviceFanOut } from '../outbox/fan-out.js';
import type { AccountRecord, ClientStore, ContactRecord, StoreTx } from '../storage/store.js';
import type { Emitter } from '../util/emitter.js';
import type { SerialQueue } from '../util/serial-queue.js';
import { contactState, contactWith, groupState, groupWith, isGroupId } from './requests.js';
import type { ConversationState } from './requests.js';

/** A username, an account id or a group id. */
type Peer = string;

export interface RequestsHost {
  readonly store: ClientStore;
  readonly queue: SerialQueue;
  readonly fanOut: DeviceFanOut;
  readonly events: Emitter<ClientEvents>;
  account(): AccountRecord;
  now(): number;
  /** The account id of a username or account id (asking the server when unknown). */
  accountOf(peer: Peer): Promise<string>;
  /** Leaves a group with the whole account (GroupManager.leave). */
  leaveGroup(groupId: string): Promise<void>;
  /**
   * A new profile key for the account, after a block (sealed/sealed-delivery.ts rotateProfileKey): the blocked
   * account keeps only the old one, which opens no new profile and lets no sealed send in.
   */
  rotateProfileKey(): Promise<void>;
}

export class MessageRequests {
  constructor(private readonly host: RequestsHost) {}

  /** Whether `peer` (a username, an account id or a group id) is a conversation the user talks in, a request, or blocked. */
  async state(peer: Peer): Promise<ConversationState> {
    if (isGroupId(peer)) return groupState(await this.host.store.getGroup(peer));
    const accountId = isAccountId(peer) ? peer : await this.host.accountOf(peer);
    return contactState(this.host.account().accountId, accountId, await this.host.store.getContact(accountId));
  }

  /** Accepts a message request (a person or a group): it becomes an ordinary conversation on every device of ours. */
  async accept(peer: Peer): Promise<void> {
    const target = await this.requestTarget(peer);
    const wasRequest = (await this.state(target)) === 'request';
    await this.decide(target, 'accept');
    if (wasRequest && !isGroupId(target)) await this.sendHeldReceipts(target);
  }

  /**
   * Deletes a conversation's messages on every device of ours; for a group this device is in, leaves it first. A
   * person whose request is deleted is not blocked: what they send next is a request again.
   */
  async delete(peer: Peer): Promise<void> {
    const target = await this.requestTarget(peer);
    if (isGroupId(target)) await this.host.leaveGroup(target);
    await this.decide(target, 'delete');
  }

  /**
   * Blocks an account on every device of ours: its 1:1 messages are dropped unread and unanswered, nothing can be
   * sent to it, and a group it adds us to is left at once. History stays (deleteConversation removes it).
   */
  async block(peer: Peer): Promise<void> {
    const target = await this.requestTarget(peer);
    if (isGroupId(target)) throw new ClientError(ClientErrorCode.InvalidArgument, 'block a person; to leave a group, delete it');
    if (target === this.host.account().accountId) throw new ClientError(ClientErrorCode.InvalidArgument, 'you cannot block yourself');
    // Applied here first; the profile key is rotated before the decision goes to our other devices, so that its
    // sync copy carries the new key to them.
    await this.decide(target, 'block', () => this.host.rotateProfileKey());
  }

  async unblock(peer: Peer): Promise<void> {
    const target = await this.requestTarget(peer);
    if (isGroupId(target)) throw new ClientError(ClientErrorCode.InvalidArgument, 'only people are blocked');
    await this.decide(target, 'unblock');
  }

  /** The blocked accounts. */
  async blocked(): Promise<ContactRecord[]> {
    return (await this.host.store.listContacts()).filter((c) => c.blocked === true);
  }

  private async requestTarget(peer: Peer): Promise<string> {
    if (isGroupId(peer)) {
      if (!(await this.host.store.getGroup(peer))) throw new ClientError(ClientErrorCode.InvalidArgument, 'no such group on this device');
      return peer;
    }
    return await this.host.accountOf(peer);
  }

  /** Applies a decision here, then tells the account's other devices (a sync-request; they apply it on receipt). */
  private async decide(target: string, action: RequestAction, beforeTelling?: () => Promise<void>): Promise<void> {
    await this.applyDecision(target, action);
    await beforeTelling?.();
    const content: Content = { type: 'sync-request', id: newMessageId(), timestamp: this.host.now(), target, action };
    await this.host.queue.run(() => this.host.fanOut.sendToAccount(this.host.account().accountId, content, true));
  }

  /** In the queue: the group and contact records are read and rewritten there by the receive path too. */
  private async applyDecision(target: string, action: RequestAction): Promise<void> {
    const applied = await this.host.queue.run(async () => {
      const writes = await this.decisionWrites(target, action);
      if (writes) await this.host.store.write(writes);
      return writes !== undefined;
    });
    if (applied) await this.announceDecision(target, action);
  }

  /** What a decision writes (undefined: nothing, e.g. a group this device does not hold). Call inside the queue. */
  async decisionWrites(target: string, action: RequestAction): Promise<((tx: StoreTx) => void) | undefined> {
    const store = this.host.store;
    if (isGroupId(target) ? action === 'block' || action === 'unblock' : target === this.host.account().accountId) return undefined;
    const group = isGroupId(target) ? await store.getGroup(target) : undefined;
    if (isGroupId(target) && !group) return undefined;
    const contact = group ? undefined : contactWith(target, await store.getContact(target), action);
    return (tx) => {
      if (group) tx.putGroup(groupWith(group, action));
      if (contact) tx.putContact(contact);
      if (action === 'delete') tx.deleteConversation(target);
    };
  }

  async announceDecision(target: string, action: RequestAction): Promise<void> {
    this.host.events.emit('conversation-changed', { conversation: target, state: await this.state(target), deleted: action === 'delete' });
  }

  /** Writing to someone accepts their request (and answers nobody blocked: unblock them first). */
  async acceptOnSend(conversation: string): Promise<void> {
    if (conversation === this.host.account().accountId) return;
    const store = this.host.store;
    if (isGroupId(conversation)) {
      const group = await store.getGroup(conversation);
      if (group?.request) await this.decide(conversation, 'accept');
      return;
    }
    const contact = await store.getContact(conversation);
    if (contact?.blocked) throw new ClientError(ClientErrorCode.Blocked, 'this account is blocked: unblock it to write to it');
    if (contact?.accepted) return;
    await this.host.queue.run(async () => {
      const current = await store.getContact(conversation);
      await store.write((tx) => tx.putContact(contactWith(conversation, current, 'accept')));
    });
    await this.announceDecision(conversation, 'accept');
    await this.sendHeldReceipts(conversation);
  }

  /** What was read while `conversation` was a request: its sender learns now (read receipts wait for the accept). */
  private async sendHeldReceipts(conversation: string): Promise<void> {
    const read = (await this.host.store.listMessages(conversation, { limit: 1000 })).filter(
      (m) => m.direction === 'incoming' && m.kind === 'message' && m.readAt !== undefined && !m.deleted,
    );
    if (read.length === 0) return;
    const receipt: Content = { type: 'receipt', id: newMessageId(), timestamp: this.host.now(), receipt: 'read', targetIds: read.map((m) => m.id) };
    await this.host.queue.run(() => this.host.fanOut.sendToAccount(conversation, receipt, false));
  }
}
