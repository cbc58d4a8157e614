/**
 * What one decrypted content means for a conversation (1:1 or group): the messages to store or update, the contact
 * or group settings to change, the events to announce and the delivery receipts due. Nothing is stored or sent here: the
 * caller commits the Effects atomically with the session or group state that decrypted the content, then emits and
 * sends (docs/client.md "Guarantees"). Reads go through a narrow, read-only view of the store.
 */
import type { Content } from '../content/content.js';
import type { ClientEvents, TypingEvent } from '../events.js';
import type { ClientStore, ContactRecord, GroupRecord, MessageRecord, MessageStatus, StoreTx } from '../storage/store.js';
import type { Emitter } from '../util/emitter.js';

/** Work that follows a stored envelope (a receipt, a resend); runs outside the envelope's turn in the queue. */
export type FollowUp = () => Promise<void>;

/** How far an outgoing message has got; a receipt never moves it back (✓✓ before ✓ is possible). */
export const STATUS_RANK: Record<MessageStatus, number> = { failed: 0, pending: 1, sent: 2, delivered: 3, read: 4, received: 0 };

/** Whose content, in which conversation. */
export interface InterpretTarget {
  readonly conversation: string;
  readonly author: string;
  readonly authorDevice: number;
  /** The group, for a group conversation. */
  readonly group: GroupRecord | undefined;
  /** It came sealed: the server did not learn who sent it. */
  readonly sealed?: boolean;
}

export interface InterpretEnv {
  readonly store: Pick<ClientStore, 'getMessage' | 'getContact'>;
  /** Our account id. */
  readonly me: string;
  /** When it is processed (ms). */
  readonly now: number;
  /** The 'history-unavailable' line for a 1:1 conversation's first message on a linked device, else undefined. */
  historyNotice(conversation: string): Promise<MessageRecord | undefined>;
}

/** What processing a content leads to, collected so that it is stored in one atomic write and then announced. */
export class Effects {
  readonly writes: MessageRecord[] = [];
  readonly created: MessageRecord[] = [];
  readonly updated: MessageRecord[] = [];
  readonly contactWrites: ContactRecord[] = [];
  readonly groupWrites: GroupRecord[] = [];
  /** 1:1 messages whose delivery receipt is due once this is stored (outbox/delivery-receipts.ts sends them). */
  readonly deliveryReceipts: { readonly to: string; readonly id: string }[] = [];
  /** Work to run once this is stored, outside the envelope's turn in the queue (a resend, a retry request). */
  readonly after: FollowUp[] = [];
  typing: TypingEvent | undefined;

  add(other: Effects): void {
    this.writes.push(...other.writes);
    this.created.push(...other.created);
    this.updated.push(...other.updated);
    this.contactWrites.push(...other.contactWrites);
    this.groupWrites.push(...other.groupWrites);
    this.deliveryReceipts.push(...other.deliveryReceipts);
    this.after.push(...other.after);
    this.typing = other.typing ?? this.typing;
  }

  /** Stages every write (inside ClientStore.write). */
  stage(tx: StoreTx): void {
    for (const w of this.writes) tx.putMessage(w);
    for (const c of this.contactWrites) tx.putContact(c);
    for (const g of this.groupWrites) tx.putGroup(g);
  }

  /** Announces what was stored. */
  emit(client: Emitter<ClientEvents>): void {
    for (const m of this.created) client.emit('message', m);
    for (const m of this.updated) client.emit('message-updated', m);
    if (this.typing) client.emit('typing', this.typing);
  }
}

/**
 * What one content means for a conversation (1:1 or group): the messages to store or update, contact or group
 * settings to change, events to emit and follow-up sends. Nothing is stored here; the caller commits the effects
 * atomically with the session or group state that decrypted the content.
 */
export async function interpret(env: InterpretEnv, target: InterpretTarget, c: Content): Promise<Effects> {
  const { store, me } = env;
  const now = env.now;
  const effects = new Effects();
  const { writes, created, updated, contactWrites } = effects;
  const { conversation, author, group } = target;
  const from = { device: target.authorDevice };
  const outgoing = author === me;
  switch (c.type) {
    case 'message': {
      const existing = await store.getMessage(conversation, author, c.id);
      if (existing) break; // A resend of a message we already hold.
      const record: MessageRecord = {
        conversation,
        id: c.id,
        author,
        authorDevice: from.device,
        timestamp: c.timestamp,
        receivedAt: now,
        direction: outgoing ? 'outgoing' : 'incoming',
        kind: 'message',
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.attachments?.length ? { attachments: c.attachments } : {}),
        ...(c.quote ? { quote: c.quote } : {}),
        status: outgoing ? 'sent' : 'received',
        ...(target.sealed && !outgoing ? { sealed: true } : {}),
        ...(c.expireTimer ? { expireTimer: c.expireTimer } : {}),
        ...(c.expireTimer && outgoing ? { expiresAt: c.timestamp + c.expireTimer * 1000 } : {}),
      };
      const history = group ? undefined : await env.historyNotice(conversation);
      if (history) {
        writes.push(history);
        created.push(history);
      }
      writes.push(record);
      created.push(record);
      // Delivery receipts go back 1:1; in groups only read receipts are sent (as in Signal, to spare large groups).
      if (!outgoing && !group) {
        effects.deliveryReceipts.push({ to: author, id: c.id });
      }
      break;
    }
    case 'edit': {
      const m = await store.getMessage(conversation, author, c.targetId);
      if (m && !m.deleted && m.kind === 'message') {
        const u = { ...m, body: c.body, editedAt: c.timestamp };
        writes.push(u);
        updated.push(u);
      }
      break;
    }
    case 'delete': {
      const m = await store.getMessage(conversation, author, c.targetId);
      if (m && !m.deleted) {
        const u = deletedCopy(m);
        writes.push(u);
        updated.push(u);
      }
      break;
    }
    case 'reaction': {
      const m = await store.getMessage(conversation, c.targetAuthor, c.targetId);
      if (m && !m.deleted) {
        const u = withReaction(m, author, c.emoji, c.remove, c.timestamp);
        writes.push(u);
        updated.push(u);
      }
      break;
    }
    case 'receipt': {
      if (outgoing) break;
      const status: MessageStatus = c.receipt === 'read' ? 'read' : 'delivered';
      for (const id of c.targetIds) {
        const m = await store.getMessage(conversation, me, id);
        if (m && m.direction === 'outgoing' && STATUS_RANK[m.status] < STATUS_RANK[status]) {
          const u = { ...m, status };
          writes.push(u);
          updated.push(u);
        }
      }
      break;
    }
    case 'typing':
      // Not from a group held as a message request (1:1 requests drop typing before this: applyContent).
      if (!outgoing && !group?.request) effects.typing = { conversation, author, authorDevice: from.device, action: c.action };
      break;
    case 'timer': {
      if (group) effects.groupWrites.push({ ...group, expireTimer: c.expireTimer });
      else {
        const contact = (await store.getContact(conversation)) ?? { accountId: conversation, verified: false, expireTimer: 0 };
        contactWrites.push({ ...contact, expireTimer: c.expireTimer });
      }
      const notice = timerNotice(conversation, author, from.device, c.id, c.timestamp, now, c.expireTimer);
      writes.push(notice);
      created.push(notice);
      break;
    }
    default:
      break; // Sync contents from another account, or kinds that need no action here.
  }
  return effects;
}

export function deletedCopy(m: MessageRecord): MessageRecord {
  const { body: _body, attachments: _attachments, quote: _quote, reactions: _reactions, ...rest } = m;
  return { ...rest, deleted: true };
}

export function withReaction(m: MessageRecord, author: string, emoji: string, remove: boolean, timestamp: number): MessageRecord {
  const others = (m.reactions ?? []).filter((r) => r.author !== author);
  return { ...m, reactions: remove ? others : [...others, { author, emoji, timestamp }] };
}

export function timerNotice(conversation: string, author: string, device: number, id: string, timestamp: number, now: number, seconds: number): MessageRecord {
  return {
    conversation,
    id,
    author,
    authorDevice: device,
    timestamp,
    receivedAt: now,
    direction: 'incoming',
    kind: 'system',
    event: 'timer-changed',
    body: String(seconds),
    status: 'received',
  };
}
