/** What a Client emits (Client.on): the events and their payloads. */
import type { ConversationState } from './contacts/requests.js';
import type { MessageRecord } from './storage/store.js';
import type { DeliveryState } from './transport/delivery-socket.js';

export interface TypingEvent {
  readonly conversation: string;
  readonly author: string;
  readonly authorDevice: number;
  readonly action: 'started' | 'stopped';
}

export interface IdentityChangedEvent {
  readonly accountId: string;
  readonly username: string | undefined;
}

export interface UndecryptableEvent {
  readonly conversation: string;
  readonly author: string;
  readonly authorDevice: number;
  readonly timestamp: number;
  readonly reason: string;
}

export interface ConversationChangedEvent {
  readonly conversation: string;
  /** What it is now (docs/client.md "Message requests"). */
  readonly state: ConversationState;
  /** Its messages were deleted (a declined request). */
  readonly deleted: boolean;
}

export interface ClientEvents {
  /** A new message in a conversation (incoming, or sent by this account's other device). */
  message: [MessageRecord];
  /** A stored message changed: edited, deleted for everyone, reacted to, receipt, expiry. */
  'message-updated': [MessageRecord];
  /** A message disappeared (timer) from this device. */
  'message-expired': [MessageRecord];
  typing: [TypingEvent];
  'identity-changed': [IdentityChangedEvent];
  undecryptable: [UndecryptableEvent];
  /**
   * A sealed envelope that did not open or verify (another recipient's, a forged or expired certificate, sealed by
   * another identity than its session): dropped, with nobody to attribute it to (the server's word is not taken).
   */
  'sealed-rejected': [{ readonly timestamp: number; readonly reason: string }];
  /** The delivery connection's state. */
  connection: [DeliveryState];
  /** Everything queued on the server when the connection opened has been processed. */
  'queue-empty': [];
  /** A conversation was accepted, blocked, unblocked or deleted, here or on another device of the account. */
  'conversation-changed': [ConversationChangedEvent];
  /** A group's name, admins, members (epoch), timer, or this device's standing in it changed (not every message). */
  'group-changed': [{ readonly groupId: string }];
  /**
   * A contact's stored record changed: username learned, display name, verification, identity change, timer,
   * accepted, blocked (storage/observed-store.ts). Read it with `contacts()`.
   */
  'contact-changed': [{ readonly accountId: string }];
}
