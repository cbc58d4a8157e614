/**
 * What the request bar, the conversation menu and Settings → Blocked do, on top of the SDK's message requests and
 * block list (packages/client/src/contacts/requests.ts). Each decision applies on every device of the account (the SDK
 * tells the others); each resolves once the page shows it (the SDK announces it: 'conversation-changed').
 */
import type { Messenger } from './messenger.js';
import { isGroupId } from './router.js';

/** Accepts a person's or a group's request: it becomes an ordinary chat, and read receipts held back go out. */
export async function acceptRequest(messenger: Messenger, conversation: string): Promise<void> {
  await messenger.client.acceptRequest(conversation);
  await messenger.settled();
}

/**
 * Deletes a request's messages (a person can write again: that is a new request); for a group, leaves it first.
 * An ordinary chat is deleted the same way.
 */
export async function deleteConversation(messenger: Messenger, conversation: string): Promise<void> {
  await messenger.client.deleteConversation(conversation);
  await messenger.settled();
}

/**
 * Blocks a person: what they send is dropped unread and nothing goes to them; the history stays. For a group
 * request, blocks whoever added us and leaves the group, deleting its messages (a group itself is never blocked).
 */
export async function blockConversation(messenger: Messenger, conversation: string): Promise<void> {
  const client = messenger.client;
  if (isGroupId(conversation)) {
    const adder = messenger.getSnapshot().addedBy.get(conversation);
    if (adder !== undefined && adder !== client.accountId) await client.block(adder);
    await client.deleteConversation(conversation);
  } else {
    await client.block(conversation);
  }
  await messenger.settled();
}

export async function unblock(messenger: Messenger, accountId: string): Promise<void> {
  await messenger.client.unblock(accountId);
  await messenger.settled();
}
