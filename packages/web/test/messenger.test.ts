/**
 * The web's state layer (src/state/messenger.ts) over a real SDK client, its real SQLite store and a real server:
 * after the first read it follows the SDK's events and reads only what each one concerns — no polling, no re-reading
 * of every conversation, contact and group on each message. The SDK's whole-profile reads (`conversations()`,
 * `contacts()`, `groups.list()`) are spied on, only to count them.
 *
 * The Messenger runs in Node here, not in a page: `navigator` and `window` (its online/offline signal) are the only
 * browser parts it touches, and they are stood in for by a plain EventTarget (the browser tests cover the page).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { Client } from '@samizdat/client';
import { SqliteClientStore, nodeConnector } from '@samizdat/client/node';
import { nodeMlsCryptoProvider } from '@samizdat/protocol/groups-node';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { onlinePerson, useServer, waitFor } from '../../client/test/client/helpers.js';
import { Messenger } from '../src/state/messenger.js';

const env = useServer();

beforeAll(() => {
  vi.stubGlobal('navigator', { onLine: true });
  vi.stubGlobal('window', new EventTarget());
});
afterAll(() => vi.unstubAllGlobals());

/** Closed after each test, with their clients, whatever the test's outcome. */
const opened: Messenger[] = [];
afterEach(async () => {
  for (const m of opened.splice(0)) await m.close().catch(() => undefined);
});

describe('the Messenger (web state)', () => {
  it('reads the whole store once, then only what each event concerns: messages, contacts, groups', async () => {
    const alice = await onlinePerson(env, 'alice');
    const carol = await onlinePerson(env, 'carol');
    const bobOnce = await onlinePerson(env, 'bob');
    await bobOnce.client.close();

    // Bob's profile opened again as the page opens it: through the package the web imports.
    const store = SqliteClientStore.open(join(bobOnce.dir, 'samizdat.db'));
    const bob = { client: await Client.open({ store, crypto: new NodeCryptoProvider(), connector: nodeConnector(), mlsCryptoProvider: nodeMlsCryptoProvider }) };
    const reads = {
      conversations: vi.spyOn(bob.client, 'conversations'),
      contacts: vi.spyOn(bob.client, 'contacts'),
      groups: vi.spyOn(bob.client.groups, 'list'),
    };
    const messenger = new Messenger(bob.client, store);
    opened.push(messenger);
    await messenger.start();
    await bob.client.whenQueueEmpty();
    await messenger.settled();
    expect(reads.conversations).toHaveBeenCalledTimes(1);
    expect(reads.groups).toHaveBeenCalledTimes(1);

    // Bob writes first, so Alice's messages are a chat, not a request.
    await bob.client.sendText(alice.username, 'hello');
    await messenger.settled();
    const contactReads = reads.contacts.mock.calls.length;
    for (const text of ['one', 'two', 'three', 'four']) await alice.client.sendText(bobOnce.username, text);
    const aliceId = alice.client.accountId;
    await waitFor(() => messenger.getSnapshot().conversations.find((c) => c.conversation === aliceId)?.lastMessage?.body === 'four', 'the chat list shows her last message');
    await messenger.settled();
    const entry = messenger.getSnapshot().conversations.find((c) => c.conversation === aliceId);
    expect(entry?.unread).toBe(4);
    expect(entry?.state).toBe('accepted');
    expect(messenger.getSnapshot().contacts.get(aliceId)?.username).toBe(alice.username);
    // Five messages, and not one more whole-profile read of conversations or groups, nor of contacts for hers.
    expect(reads.conversations).toHaveBeenCalledTimes(1);
    expect(reads.groups).toHaveBeenCalledTimes(1);
    expect(reads.contacts.mock.calls.length).toBe(contactReads);

    // A group Bob is added to, then a member added by someone else: both arrive as events; nothing polls.
    const { groupId } = await alice.client.groups.create('Club', [bobOnce.username]);
    await waitFor(() => messenger.getSnapshot().groups.get(groupId)?.name === 'Club', 'the group reaches the page');
    await alice.client.groups.add(groupId, [carol.username]);
    await waitFor(() => messenger.getSnapshot().groups.get(groupId)?.members.length === 3, 'the new member reaches the page');
    await messenger.settled();
    expect(messenger.getSnapshot().conversations.some((c) => c.conversation === groupId)).toBe(true);
    expect(reads.conversations).toHaveBeenCalledTimes(1);
    expect(reads.groups).toHaveBeenCalledTimes(1);

    // Verifying a contact (no message involved) reaches the page by its own event.
    await bob.client.markVerified(aliceId);
    await messenger.settled();
    expect(messenger.getSnapshot().contacts.get(aliceId)?.verified).toBe(true);
  });
});
