/** The kinds of message content and their limits (the rules that read them: content-rules.ts; the codec: content.ts). */
import { MAX_DEVICE_ID, MAX_MESSAGE_PLAINTEXT } from '@samizdat/protocol';
import type { AttachmentPointer } from '../attachments/attachment-cipher.js';

/** The version byte this code writes and the only one it reads. */
export const CONTENT_VERSION = 1;

/** The largest encoded content (version byte included): the protocol's largest message plaintext. */
export const MAX_CONTENT_BYTES = MAX_MESSAGE_PLAINTEXT;
/** A message body, an edit or a quoted text: at most 64 KiB of UTF-8. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Attachments per message. */
export const MAX_ATTACHMENTS = 32;
/** Ids per receipt, entries per read sync, timestamps per resend request. */
export const MAX_TARGETS = 1000;
/** A profile display name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256;
/** An attachment's file name, in UTF-8 bytes (the common file-system limit). */
export const MAX_FILE_NAME_BYTES = 255;
/** A MIME type with parameters (RFC 6838 §4.2 allows 127 characters each for type and subtype). */
export const MAX_CONTENT_TYPE_LENGTH = 255;
/** A reaction: one emoji, which can be a long sequence of code points (flags, families, skin tones). */
export const MAX_EMOJI_BYTES = 64;
/** The disappearing-message timer, in seconds (0 = off): at most 2^32 − 1. */
export const MAX_EXPIRE_TIMER = 2 ** 32 - 1;
/** Image or video dimensions in pixels. */
export const MAX_DIMENSION = 2 ** 31 - 1;
/** Device ids are 1 to MAX_DEVICE_ID (@samizdat/protocol api/ids.ts). */
export { MAX_DEVICE_ID };
/** A Double Ratchet public key (X25519) as carried in a ratchet message header. */
export const RATCHET_KEY_LENGTH = 32;

/** What the sender says about itself, so that receivers can show who wrote (not verified: a hint for display). */
export interface Profile {
  readonly username?: string;
  readonly name?: string;
  /**
   * The sender account's profile key (32 bytes), sent only to people it talks with: it derives the access key their
   * sealed sends to it present (@samizdat/protocol sealed-sender/access-key.ts).
   */
  readonly profileKey?: Uint8Array;
  /** When the sender's encrypted profile last changed (ms, its clock): a receiver that saw another value fetches it. */
  readonly profileUpdated?: number;
}

interface ContentBase {
  /** 32 lowercase hex characters (newMessageId): chosen by the sender, the same in every device's copy. */
  readonly id: string;
  /** The sender's clock when the content was made: milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly profile?: Profile;
}

export interface Quote {
  /** The quoted message's id. */
  readonly id: string;
  /** The quoted message's author (account id). */
  readonly author: string;
  readonly text?: string;
}

/** A message: text and/or attachments (at least one of the two), possibly quoting another message. */
export interface MessageContent extends ContentBase {
  readonly type: 'message';
  readonly body?: string;
  readonly attachments?: readonly AttachmentPointer[];
  readonly quote?: Quote;
  /** The disappearing-message timer in force, in seconds (0 = off). */
  readonly expireTimer?: number;
}

/** A new text for one of the sender's earlier messages. */
export interface EditContent extends ContentBase {
  readonly type: 'edit';
  readonly targetId: string;
  readonly body: string;
}

/** Delete for everyone: the sender withdraws one of its messages. */
export interface DeleteContent extends ContentBase {
  readonly type: 'delete';
  readonly targetId: string;
}

export interface ReactionContent extends ContentBase {
  readonly type: 'reaction';
  readonly targetId: string;
  /** The reacted-to message's author (account id). */
  readonly targetAuthor: string;
  readonly emoji: string;
  /** True to take the reaction back. */
  readonly remove: boolean;
}

export interface ReceiptContent extends ContentBase {
  readonly type: 'receipt';
  readonly receipt: 'delivered' | 'read';
  /** Ids of the messages received or read (1 to MAX_TARGETS). */
  readonly targetIds: readonly string[];
}

export interface TypingContent extends ContentBase {
  readonly type: 'typing';
  readonly action: 'started' | 'stopped';
}

/** The disappearing-message timer of the conversation changed. */
export interface TimerContent extends ContentBase {
  readonly type: 'timer';
  /** Seconds, 0 = off. */
  readonly expireTimer: number;
}

/** To the sender's other devices: what it sent to `destination`, so that they can show it too. */
export interface SyncSentContent extends ContentBase {
  readonly type: 'sync-sent';
  /** The recipient's account id. */
  readonly destination: string;
  /** What was sent: never itself a sync-sent or sync-read (see SyncedContent; encoding and decoding refuse one). */
  readonly content: Content;
}

/** To the sender's other devices: messages read here. */
export interface SyncReadContent extends ContentBase {
  readonly type: 'sync-read';
  readonly read: readonly { readonly author: string; readonly targetId: string }[];
}

/**
 * To the sender's other devices: what the user decided about a message request or a contact (Signal's
 * MessageRequestResponse sync): `target` is an account id, or a group id (accept and delete only).
 */
export interface SyncRequestContent extends ContentBase {
  readonly type: 'sync-request';
  readonly target: string;
  readonly action: RequestAction;
}

export const REQUEST_ACTIONS = ['accept', 'block', 'unblock', 'delete'] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/** "I could not decrypt your message": the receiver asks for a fresh session (and a resend). */
export interface SessionResetContent extends ContentBase {
  readonly type: 'session-reset';
}

/**
 * A retry request (Signal's DecryptionErrorMessage): "please send these again". `targetTimestamps` are the envelope
 * timestamps (visible outside the encryption) of messages that failed to decrypt, absent when the receiver does not
 * know them; `device` is the device that sent them (the others of the account ignore the request); `ratchetKey` is
 * the Double Ratchet public key in the failed message's header, so that the sender can tell whether its current
 * session is the one that failed (then it archives it and starts a new one) or an older one.
 */
export interface ResendRequestContent extends ContentBase {
  readonly type: 'resend-request';
  readonly targetTimestamps?: readonly number[];
  readonly device?: number;
  readonly ratchetKey?: Uint8Array;
}

/**
 * A group's settings changed (inside MLS, so the server never sees them): its name and/or its admins — the members
 * who may add and remove others. Only the fields present change.
 */
export interface GroupUpdateContent extends ContentBase {
  readonly type: 'group-update';
  readonly name?: string;
  /** Account ids. */
  readonly admins?: readonly string[];
  /**
   * True when these are the group's settings as they stand, sent again for members who just joined (a new member,
   * a newly linked device), not a change: a receiver that did not know them records "the group is called X", not
   * "X named the group".
   */
  readonly current?: true;
}

export type Content =
  | MessageContent
  | GroupUpdateContent
  | EditContent
  | DeleteContent
  | ReactionContent
  | ReceiptContent
  | TypingContent
  | TimerContent
  | SyncSentContent
  | SyncReadContent
  | SyncRequestContent
  | SessionResetContent
  | ResendRequestContent;

/** What a sync-sent copy may carry: anything but another sync. */
export type SyncedContent = Exclude<Content, SyncSentContent | SyncReadContent | SyncRequestContent>;

export type ContentType = Content['type'];
