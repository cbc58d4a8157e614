/**
 * The people this device knows (ContactRecord): resolving a username or account id (trust on first use of the
 * identity key the server gives; the session's own check catches a later change), usernames claimed in messages
 * (stored only once the server confirms them), a username that moved to a new account (its owner re-registered:
 * an identity change), safety numbers, and the "history unavailable" line of a linked device.
 */
import { encodeIdentityKey, formatSafetyNumber, fromHex, isAccountId, isGroupId, safetyNumber } from '@samizdat/protocol';
import type { CryptoProvider, IdentityKeyPair } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { ClientEvents } from '../events.js';
import { systemNotice } from '../notices.js';
import { EARLIER_CONTACTS_KV } from '../onboarding.js';
import type { AccountRecord, ClientStore, ContactRecord, MessageRecord } from '../storage/store.js';
import type { HttpApi } from '../transport/http-api.js';
import type { Emitter } from '../util/emitter.js';


/** A username (with or without @), or an account id. */
type Peer = string;

export interface SafetyNumberView {
  /** 60 digits. */
  readonly digits: string;
  /** 12 groups of 5 digits, as Signal shows them. */
  readonly formatted: string;
  /** The bytes a QR code carries; compare with compareScannable from @samizdat/protocol. */
  readonly scannable: Uint8Array;
  readonly verified: boolean;
}

export interface DirectoryHost {
  readonly store: ClientStore;
  readonly crypto: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly api: HttpApi;
  readonly events: Emitter<ClientEvents>;
  account(): AccountRecord;
  now(): number;
}

export class Directory {
  /** EARLIER_CONTACTS_KV, read once. */
  private earlier: Set<string> | undefined;

  constructor(private readonly host: DirectoryHost) {}

  /**
   * Resolves a username or account id to a contact, asking the server when it is not known yet. The identity key the
   * lookup answers with is not kept: it is pinned on first use when the first session starts (fan-out.ts) or the
   * safety number is first shown, and the session's own check catches a later change.
   */
  async resolve(peer: Peer): Promise<ContactRecord> {
    const store = this.host.store;
    if (isAccountId(peer)) {
      const known = await store.getContact(peer);
      if (known) return known;
      if (peer === this.host.account().accountId) return this.selfContact();
      await this.host.api.getAccount(peer);
      const contact: ContactRecord = { accountId: peer, verified: false, expireTimer: 0 };
      await store.write((tx) => tx.putContact(contact));
      return contact;
    }
    const username = peer.replace(/^@/, '');
    const mine = this.host.account().username;
    if (mine && username.toLowerCase() === mine.toLowerCase()) return this.selfContact();
    const known = await store.findContactByUsername(username);
    if (known) return known;
    const found = await this.host.api.lookupUsername(username);
    if (!found) throw new ClientError(ClientErrorCode.UnknownUser, `no account has the username "${username}"`);
    const existing = await store.getContact(found.accountId);
    const contact: ContactRecord = { verified: false, expireTimer: 0, ...existing, accountId: found.accountId, username };
    await store.write((tx) => tx.putContact(contact));
    return contact;
  }

  private async selfContact(): Promise<ContactRecord> {
    return (
      (await this.host.store.getContact(this.host.account().accountId)) ?? {
        accountId: this.host.account().accountId,
        ...(this.host.account().username !== undefined ? { username: this.host.account().username } : {}),
        verified: true,
        expireTimer: 0,
      }
    );
  }

  list(): Promise<ContactRecord[]> {
    return this.host.store.listContacts();
  }

  /** The name to show for an account (its username, else its chosen name, else a short id) or a group (its name). */
  async displayName(accountId: string): Promise<string> {
    if (accountId === this.host.account().accountId) return this.host.account().username ?? 'me';
    if (isGroupId(accountId)) return (await this.host.store.getGroup(accountId))?.name ?? accountId.slice(0, 12);
    const c = await this.host.store.getContact(accountId);
    return c?.username ?? c?.name ?? accountId.slice(0, 8);
  }

  /** The safety number of the conversation with `peer` (compare it out of band, then markVerified). */
  async safetyNumber(peer: Peer): Promise<SafetyNumberView> {
    const contact = await this.resolve(peer);
    let theirKey = await this.host.store.getIdentity(contact.accountId);
    if (!theirKey) {
      theirKey = (await this.host.api.getAccount(contact.accountId)).identityKey;
      await this.host.store.write((tx) => tx.putIdentity(contact.accountId, theirKey as Uint8Array));
    }
    const sn = await safetyNumber(
      this.host.crypto,
      { identifier: fromHex(this.host.account().accountId), identityKey: encodeIdentityKey(this.host.identity.publicKey) },
      { identifier: fromHex(contact.accountId), identityKey: theirKey },
    );
    return { digits: sn.digits, formatted: formatSafetyNumber(sn.digits), scannable: sn.scannable, verified: contact.verified };
  }

  async markVerified(peer: Peer, verified = true): Promise<void> {
    const contact = await this.resolve(peer);
    await this.host.store.write((tx) => tx.putContact({ ...contact, verified }));
  }

  /**
   * `username` was known as `oldAccountId`'s and the server now says it belongs to another account: the person
   * re-registered (new identity keys). Like Signal's "safety number changed": the conversation records it, the
   * contact is unverified, 'identity-changed' is emitted. Returns the new contact, or undefined if nothing moved.
   */
  async relocate(oldAccountId: string, username: string): Promise<ContactRecord | undefined> {
    const found = await this.host.api.lookupUsername(username);
    if (!found || found.accountId === oldAccountId) return undefined;
    const store = this.host.store;
    const old = await store.getContact(oldAccountId);
    const existing = await store.getContact(found.accountId);
    const now = this.host.now();
    const contact: ContactRecord = { expireTimer: 0, ...existing, accountId: found.accountId, username, verified: false, identityChangedAt: now };
    const notice = systemNotice(this.host.crypto, now, found.accountId, found.accountId, 0, now, 'identity-changed');
    await store.write((tx) => {
      if (old) {
        const { username: _gone, ...rest } = old;
        tx.putContact(rest);
      }
      tx.putContact(contact);
      tx.putMessage(notice);
    });
    this.host.events.emit('identity-changed', { accountId: found.accountId, username });
    this.host.events.emit('message', notice);
    return contact;
  }

  /**
   * On a linked device, the first time a 1:1 conversation with someone the account knew before the link gets a
   * message: a 'history-unavailable' line, dated at the link, saying that what was said before is not on this device
   * (it is on the account's other devices). Undefined anywhere else.
   */
  async historyNotice(conversation: string): Promise<MessageRecord | undefined> {
    if (this.earlier === undefined) {
      const stored = await this.host.store.getKv(EARLIER_CONTACTS_KV);
      let ids: unknown = [];
      try {
        ids = stored === undefined ? [] : JSON.parse(stored);
      } catch {
        ids = [];
      }
      this.earlier = new Set(Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []);
    }
    if (!this.earlier.has(conversation)) return undefined;
    if ((await this.host.store.listMessages(conversation, { limit: 1 })).length > 0) return undefined;
    const linkedAt = this.host.account().createdAt;
    return { ...systemNotice(this.host.crypto, this.host.now(), conversation, this.host.account().accountId, this.host.account().deviceId, linkedAt, 'history-unavailable'), body: JSON.stringify({ since: linkedAt }) };
  }

  /**
   * Stores the username a contact claims only after the server confirms it belongs to that account. If we knew the
   * username as another account's, its owner re-registered: handled as an identity change (relocate).
   */
  async learnUsername(accountId: string, username: string): Promise<void> {
    const store = this.host.store;
    const contact = await store.getContact(accountId);
    if (contact?.username?.toLowerCase() === username.toLowerCase()) return;
    const previous = await store.findContactByUsername(username);
    if (previous && previous.accountId !== accountId) {
      await this.relocate(previous.accountId, username);
      return;
    }
    const found = await this.host.api.lookupUsername(username).catch(() => undefined);
    if (!found || found.accountId !== accountId) return;
    const current = await store.getContact(accountId);
    await store.write((tx) => tx.putContact({ verified: false, expireTimer: 0, ...current, accountId, username }));
  }
}
