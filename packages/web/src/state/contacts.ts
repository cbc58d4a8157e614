/** People by username: starting a chat with someone (the server answers whether the username exists, nothing more). */
import type { Messenger } from './messenger.js';

/** Looks `username` up and returns the account id to open the chat at; the contact is on the page when it resolves. */
export async function startChat(messenger: Messenger, username: string): Promise<string> {
  const contact = await messenger.client.resolve(username);
  // Storing it is announced ('contact-changed'): the chat opens with the name on the page.
  await messenger.settled();
  return contact.accountId;
}
