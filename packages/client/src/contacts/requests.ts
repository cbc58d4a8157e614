/**
 * Message requests and blocking, as Signal has them (docs/client.md "Message requests"): a conversation started by
 * someone the user does not talk with yet — a 1:1 chat from an account they never wrote to, a group they were
 * added to by one — is held as a request: its messages are stored and shown under requests, but nothing notifies,
 * no read receipts or typing go to the other side, and typing from them is dropped, until the user accepts it
 * (writing to them accepts too). A blocked account's 1:1 messages are dropped unread, nothing is sent to it, and a
 * Welcome it sends makes this device leave at once. Every decision syncs to the account's other devices.
 *
 * Here: the states, and the records an action writes. The Client does the I/O.
 */
import type { ContactRecord, GroupRecord } from '../storage/store.js';
import type { RequestAction } from '../content/content.js';

export type ConversationState = 'accepted' | 'request' | 'blocked';

/** The state of a 1:1 conversation with `contact` (undefined: never seen). Our own account is always accepted. */
export function contactState(me: string, accountId: string, contact: ContactRecord | undefined): ConversationState {
  if (accountId === me) return 'accepted';
  if (contact?.blocked) return 'blocked';
  return contact?.accepted ? 'accepted' : 'request';
}

/** The state of a group conversation: a request while it is one, accepted otherwise (groups are never blocked). */
export function groupState(group: GroupRecord | undefined): ConversationState {
  return group?.request ? 'request' : 'accepted';
}

export { isGroupId } from '@samizdat/protocol';

/** A contact record for `accountId` after `action` (a new one when none is stored). */
export function contactWith(accountId: string, contact: ContactRecord | undefined, action: RequestAction): ContactRecord {
  const base: ContactRecord = contact ?? { accountId, verified: false, expireTimer: 0 };
  switch (action) {
    case 'accept':
      return { ...base, accepted: true };
    case 'block':
      return { ...base, blocked: true };
    case 'unblock': {
      const { blocked: _gone, ...rest } = base;
      return rest;
    }
    case 'delete': {
      // Declined: what they send next is a request again.
      const { accepted: _gone, ...rest } = base;
      return rest;
    }
  }
}

/** The group record after `action` (accept or delete; block and unblock concern accounts and leave it as is). */
export function groupWith(group: GroupRecord, action: RequestAction): GroupRecord {
  if (action === 'accept') {
    const { request: _gone, ...rest } = group;
    return rest;
  }
  return group;
}
