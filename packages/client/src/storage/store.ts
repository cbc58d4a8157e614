/**
 * What a client keeps, behind one interface with an implementation per platform: SQLite (better-sqlite3) in Node,
 * IndexedDB in browsers. Reads are async one by one; writes are grouped into one atomic batch (`write`), because a
 * received message is only safe to acknowledge once the advanced session, the consumed prekey and the decrypted
 * message are stored together — a crash between them would either lose the message (session advanced, message
 * missing, and the redelivered envelope's key already used) or show it twice.
 *
 * The batch callback is synchronous on purpose: SQLite runs it inside one transaction and IndexedDB inside one
 * readwrite transaction, and neither may await anything else in between.
 */
import type { KyberPreKey, OneTimePreKey, PreKeyId, ProtocolAddress, SignedPreKey } from '@samizdat/protocol';
import type { AttachmentPointer } from '../attachments/attachment-cipher.js';

/** This device's registration: written once by register or link. */
export interface AccountRecord {
  readonly serverUrl: string;
  readonly accountId: string;
  readonly deviceId: number;
  /** The device's auth secret (base64url). Never logged. */
  readonly password: string;
  readonly registrationId: number;
  /** The account's username, if it has one (known to this device; the server keeps only a keyed hash). */
  readonly username?: string;
  /** encodeIdentityKeyPair of the account identity (shared by all devices of the account). */
  readonly identityKeyPair: Uint8Array;
  readonly createdAt: number;
}

/** Someone we talk to (an account), with what we know and have checked about them. */
export interface ContactRecord {
  readonly accountId: string;
  /** Verified against the server's username lookup before it is stored. */
  readonly username?: string;
  /** The display name they chose (from their encrypted profile; unverified, shown as such). */
  readonly name?: string;
  /** The about text of their profile. */
  readonly about?: string;
  /** SHA-256 (hex) of their profile's avatar, kept in kv `profile.avatar.<accountId>` (contacts/profiles.ts). */
  readonly avatarHash?: string;
  /** When their profile was last fetched (ms). */
  readonly profileFetchedAt?: number;
  /** The `profileUpdated` their messages last announced: another value fetches their profile again. */
  readonly profileUpdated?: number;
  /** Set when the user compared safety numbers; cleared when the identity key changes. */
  readonly verified: boolean;
  /** When their identity key last changed (ms), if it ever did. */
  readonly identityChangedAt?: number;
  /** Disappearing-message timer of the conversation with them, in seconds (0 = off). */
  readonly expireTimer: number;
  /**
   * The user talks with them: they wrote to them, or accepted their message request (on any device of the
   * account). Until then what they send is held as a message request (docs/client.md "Message requests").
   */
  readonly accepted?: boolean;
  /** Blocked by the user: nothing they send is stored or answered, and nothing is sent to them. */
  readonly blocked?: boolean;
  /** Their profile key (base64, 32 bytes), from their messages: sealed sends to them present its access key. */
  readonly profileKey?: string;
}

export type MessageStatus =
  /** Outgoing, not yet stored by the server. */
  | 'pending'
  /** Outgoing, stored by the server (✓). */
  | 'sent'
  /** Outgoing, a device of the recipient has it (✓✓). */
  | 'delivered'
  /** Outgoing, the recipient read it. */
  | 'read'
  /** Outgoing, could not be sent. */
  | 'failed'
  /** Incoming. */
  | 'received';

export interface Reaction {
  readonly author: string;
  readonly emoji: string;
  readonly timestamp: number;
}

/** One entry of a conversation's history: a message, or an event the user should see (a key change, a failure). */
export interface MessageRecord {
  /** The other party's account id (our own for notes to self). */
  readonly conversation: string;
  /** 32 hex characters, chosen by the author; the same on every device. */
  readonly id: string;
  /** Account id of the author. */
  readonly author: string;
  readonly authorDevice: number;
  /** The author's timestamp (ms). */
  readonly timestamp: number;
  /** When this device stored it (ms). */
  readonly receivedAt: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly kind: 'message' | 'system';
  readonly body?: string;
  readonly attachments?: readonly AttachmentPointer[];
  readonly quote?: { readonly id: string; readonly author: string; readonly text?: string };
  readonly status: MessageStatus;
  /**
   * 1:1 messages: it travelled sealed (the server did not learn who sent it); absent when it went identified (or
   * before it was sent). Group messages never carry it.
   */
  readonly sealed?: boolean;
  /** Incoming: when it was read on this account (any device). */
  readonly readAt?: number;
  readonly editedAt?: number;
  /** Deleted for everyone: the body and attachments are gone. */
  readonly deleted?: boolean;
  readonly reactions?: readonly Reaction[];
  /** Disappearing-message timer (seconds) in force when it was sent. */
  readonly expireTimer?: number;
  /** When it disappears from every device (ms): set once the timer starts (sent, or read). */
  readonly expiresAt?: number;
  /** For kind 'system': what happened. */
  readonly event?: 'identity-changed' | 'undecryptable' | 'timer-changed' | 'group-members' | 'group-updated' | 'history-unavailable';
}

/**
 * The devices of an account that this device encrypts to (Sesame §2: the device list as last learned, from a bundle
 * fetch or the server's device-list mismatch), with the registration id of each.
 */
export interface DeviceListRecord {
  readonly accountId: string;
  readonly devices: readonly { readonly deviceId: number; readonly registrationId: number }[];
}

/** An MLS group this device is (or was) in. */
export interface GroupRecord {
  /** The MLS group id: 32 bytes as 64 lowercase hex characters; also the group conversation's id. */
  readonly groupId: string;
  /** The group as this device sees it (the MLS engine's encoded state). */
  readonly state: Uint8Array;
  readonly epoch: number;
  /** The group's name, set inside the group (the server never sees it). */
  readonly name?: string;
  /** Account ids of the admins: the members who may add and remove others. */
  readonly admins: readonly string[];
  /** Disappearing-message timer of the group, in seconds (0 = off). */
  readonly expireTimer: number;
  readonly createdAt: number;
  /** False once this device left or was removed: the history stays, nothing more can be sent or read. */
  readonly active: boolean;
  /** When this device last made an update commit (post-compromise security), ms. */
  readonly updatedAt: number;
  /** Joined through a Welcome from someone the user does not talk with: held as a message request until accepted. */
  readonly request?: boolean;
  /** Who added this device (the Welcome's GroupInfo signer), when it joined through a Welcome. */
  readonly addedBy?: string;
  /**
   * This device's sealed group messages not yet handed back by the server (which stores them for every member
   * device, ours too): the first 16 bytes of each MLS message's SHA-256, hex, oldest first (group-manager.ts).
   */
  readonly sentEnvelopes?: readonly string[];
}

/** A conversation as the chat list shows it. */
export interface ConversationSummary {
  readonly conversation: string;
  readonly lastMessage: MessageRecord | undefined;
  readonly unread: number;
  /** Set by Client.conversations(): a conversation the user talks in, a message request, or a blocked account's. */
  readonly state?: 'accepted' | 'request' | 'blocked';
}

/** The synchronous writer of one atomic batch (see `ClientStore.write`). */
export interface StoreTx {
  putAccount(account: AccountRecord): void;
  /** Small named values (counters, schedules); undefined deletes. */
  putKv(key: string, value: string | undefined): void;
  putSession(address: ProtocolAddress, record: Uint8Array | undefined): void;
  putIdentity(account: string, identityKey: Uint8Array): void;
  putSignedPreKey(key: SignedPreKey): void;
  removeSignedPreKey(id: PreKeyId): void;
  putOneTimePreKey(key: OneTimePreKey): void;
  removeOneTimePreKey(id: PreKeyId): void;
  putKyberPreKey(key: KyberPreKey): void;
  removeKyberPreKey(id: PreKeyId): void;
  addKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): void;
  putContact(contact: ContactRecord): void;
  putDeviceList(list: DeviceListRecord): void;
  /** Inserts or replaces (key: conversation, author, id). */
  putMessage(message: MessageRecord): void;
  deleteMessage(conversation: string, author: string, id: string): void;
  /** Deletes every message of a conversation (a declined message request). */
  deleteConversation(conversation: string): void;
  putGroup(group: GroupRecord): void;
  /** An MLS key package's private bundle, by its KeyPackageRef (hex); undefined deletes. */
  putKeyPackageBundle(ref: string, bundle: Uint8Array | undefined): void;
}

export interface ClientStore {
  getAccount(): Promise<AccountRecord | undefined>;
  getKv(key: string): Promise<string | undefined>;

  loadSession(address: ProtocolAddress): Promise<Uint8Array | undefined>;
  listSessionDevices(account: string): Promise<number[]>;
  getIdentity(account: string): Promise<Uint8Array | undefined>;

  getSignedPreKey(id: PreKeyId): Promise<SignedPreKey | undefined>;
  listSignedPreKeys(): Promise<SignedPreKey[]>;
  getOneTimePreKey(id: PreKeyId): Promise<OneTimePreKey | undefined>;
  getKyberPreKey(id: PreKeyId): Promise<KyberPreKey | undefined>;
  listKyberPreKeys(): Promise<KyberPreKey[]>;
  hasKyberBaseKey(id: PreKeyId, baseKey: Uint8Array): Promise<boolean>;

  getContact(accountId: string): Promise<ContactRecord | undefined>;
  /** Case-insensitive. */
  findContactByUsername(username: string): Promise<ContactRecord | undefined>;
  listContacts(): Promise<ContactRecord[]>;
  getDeviceList(accountId: string): Promise<DeviceListRecord | undefined>;

  getMessage(conversation: string, author: string, id: string): Promise<MessageRecord | undefined>;
  /** Oldest first; `before` (a timestamp) pages backwards; at most `limit` (the newest of those before). */
  listMessages(conversation: string, options?: { limit?: number; before?: number }): Promise<MessageRecord[]>;
  /** Incoming messages of a conversation not read yet (and not deleted), oldest first. */
  listUnread(conversation: string): Promise<MessageRecord[]>;
  /** Our outgoing messages of a conversation sent at any of `timestamps` (to resend them). */
  findOutgoingByTimestamp(conversation: string, timestamps: readonly number[]): Promise<MessageRecord[]>;
  /** Outgoing messages still pending, oldest first. */
  listPending(): Promise<MessageRecord[]>;
  listConversations(): Promise<ConversationSummary[]>;
  /** Messages whose expiresAt is ≤ now. */
  listExpired(now: number): Promise<MessageRecord[]>;

  getGroup(groupId: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;
  getKeyPackageBundle(ref: string): Promise<Uint8Array | undefined>;
  /** Refs (hex) of the key package bundles kept. */
  listKeyPackageRefs(): Promise<string[]>;

  /** Runs `fn` and applies everything it wrote atomically: all of it is stored, or none. */
  write(fn: (tx: StoreTx) => void): Promise<void>;
  close(): Promise<void>;
}
