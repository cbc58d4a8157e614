/**
 * Message requests and blocking (docs/client.md "Message requests"), with real clients on a real server: a chat or a
 * group from someone the user does not talk with is held as a request; accepting, deleting and blocking apply on
 * every device of the account.
 */
import { describe, expect, it } from 'vitest';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { bodies, linkClient, onlinePerson, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

const person = (base: string) => onlinePerson(env, base);

async function device(of: TestClient): Promise<TestClient> {
  const t = env.keep(await linkClient(env.server().url, of.client));
  await t.client.start();
  await t.client.whenQueueEmpty();
  await t.client.groups.maintainKeyPackages();
  return t;
}

/** Gives what is in flight time to arrive, then waits until every client has processed its queue. */
async function settle(...clients: TestClient[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  for (const c of clients) await c.client.whenQueueEmpty();
}

describe('Message requests', () => {
  it('holds a first message from a stranger as a request: no read receipt, no typing, until accepted on any device', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const bob2 = await device(bob);
    const hi = await alice.client.sendText(bob.username, 'hi, we have not met');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).length === 1, 'the request arrives');
    expect(await bob.client.requestState(alice.client.accountId)).toBe('request');
    expect((await bob.client.conversations()).find((c) => c.conversation === alice.client.accountId)?.state).toBe('request');
    // Alice wrote to Bob: for her it is an ordinary chat.
    expect(await alice.client.requestState(bob.username)).toBe('accepted');

    await alice.client.sendTyping(bob.username, 'started');
    await bob.client.markRead(alice.client.accountId);
    await settle(alice, bob);
    expect(bob.events.typing).toHaveLength(0);
    // Delivered (✓✓), never read: a request is read without telling the sender.
    await waitFor(async () => (await alice.client.message(bob.client.accountId, alice.client.accountId, hi.id))?.status === 'delivered', 'delivered');
    await settle(alice);
    expect((await alice.client.message(bob.client.accountId, alice.client.accountId, hi.id))?.status).toBe('delivered');

    // Bob accepts on his laptop: his phone follows.
    await bob2.client.acceptRequest(alice.client.accountId);
    await waitFor(async () => (await bob.client.requestState(alice.client.accountId)) === 'accepted', 'the accept syncs');
    expect(bob.events['conversation-changed'].map(([e]) => e)).toContainEqual({ conversation: alice.client.accountId, state: 'accepted', deleted: false });
    // What Bob read while it was a request: Alice learns it now.
    await waitFor(async () => (await alice.client.message(bob.client.accountId, alice.client.accountId, hi.id))?.status === 'read', 'the held-back read receipt');
    const again = await alice.client.sendText(bob.username, 'thanks');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).includes('thanks'), 'the next message');
    await alice.client.sendTyping(bob.username, 'started');
    await waitFor(() => bob.events.typing.length > 0, 'typing shows now');
    await bob.client.markRead(alice.client.accountId);
    await waitFor(async () => (await alice.client.message(bob.client.accountId, alice.client.accountId, again.id))?.status === 'read', 'a read receipt now');
  });

  it('writing back accepts, on the account’s other devices too', async () => {
    const carol = await person('carol');
    const bob = await person('bob');
    const bob2 = await device(bob);
    await carol.client.sendText(bob.username, 'hello');
    await waitFor(async () => (await bodies(bob.client, carol.client.accountId)).length === 1, 'on the phone');
    await waitFor(async () => (await bodies(bob2.client, carol.client.accountId)).length === 1, 'on the laptop');
    expect(await bob.client.requestState(carol.client.accountId)).toBe('request');
    await bob2.client.sendText(carol.username, 'hi carol');
    expect(await bob2.client.requestState(carol.client.accountId)).toBe('accepted');
    await waitFor(async () => (await bob.client.requestState(carol.client.accountId)) === 'accepted', 'the sync copy accepts on the phone');
  });

  it('deleting a request removes it everywhere; what they send next is a request again', async () => {
    const dave = await person('dave');
    const bob = await person('bob');
    const bob2 = await device(bob);
    await dave.client.sendText(bob.username, 'buy my stuff');
    await waitFor(async () => (await bodies(bob2.client, dave.client.accountId)).length === 1, 'the request reaches the laptop');
    await bob.client.deleteConversation(dave.client.accountId);
    expect(await bob.client.history(dave.client.accountId)).toEqual([]);
    await waitFor(async () => (await bob2.client.history(dave.client.accountId)).length === 0, 'deleted on the laptop');
    await dave.client.sendText(bob.username, 'really, buy it');
    await waitFor(async () => (await bodies(bob.client, dave.client.accountId)).length === 1, 'the next one');
    expect(await bob.client.requestState(dave.client.accountId)).toBe('request');
  });

  it('holds a group from a stranger as a request; accepting keeps it, deleting leaves it', async () => {
    const carol = await person('carol');
    const bob = await person('bob');
    const friend = await person('friend');
    await bob.client.sendText(friend.username, 'hey'); // Bob talks with his friend.

    const first = await carol.client.groups.create('Strangers', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === first.groupId), 'bob is in it');
    expect(await bob.client.requestState(first.groupId)).toBe('request');
    expect((await bob.client.groups.find(first.groupId)).addedBy).toBe(carol.client.accountId);
    await bob.client.acceptRequest(first.groupId);
    expect(await bob.client.requestState(first.groupId)).toBe('accepted');

    const second = await carol.client.groups.create('More strangers', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === second.groupId), 'bob is in the second');
    expect(await bob.client.requestState(second.groupId)).toBe('request');
    await bob.client.deleteConversation(second.groupId);
    expect((await bob.client.groups.find(second.groupId)).active).toBe(false);
    expect(await bob.client.history(second.groupId)).toEqual([]);
    // Carol (the admin) commits Bob's leaving: he is gone from the group she sees.
    await waitFor(async () => !(await carol.client.groups.list()).find((g) => g.groupId === second.groupId)?.members.some((m) => m.accountId === bob.client.accountId), 'bob left');

    // A group from someone Bob talks with is no request.
    const fromFriend = await friend.client.groups.create('Friends', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === fromFriend.groupId), 'bob is in the friends group');
    expect(await bob.client.requestState(fromFriend.groupId)).toBe('accepted');
  });

  it('a blocked account’s messages and groups never arrive, on any device; unblocking lets them through again', async () => {
    const mallory = await person('mallory');
    const bob = await person('bob');
    const bob2 = await device(bob);
    await mallory.client.sendText(bob.username, 'hi');
    await waitFor(async () => (await bodies(bob2.client, mallory.client.accountId)).length === 1, 'the first message');
    await bob.client.block(mallory.username);
    expect(await bob.client.requestState(mallory.client.accountId)).toBe('blocked');
    expect((await bob.client.blocked()).map((c) => c.accountId)).toEqual([mallory.client.accountId]);
    await waitFor(async () => (await bob2.client.requestState(mallory.client.accountId)) === 'blocked', 'the block syncs');

    const unseen = await mallory.client.sendText(bob.username, 'you cannot block me');
    const group = await mallory.client.groups.create('Spam', [bob.username]);
    // The group: Bob's devices left it at once, and kept nothing of it.
    await waitFor(async () => (await bob.client.groups.list()).find((g) => g.groupId === group.groupId)?.active === false, 'bob left the group');
    await waitFor(async () => (await bob.client.history(group.groupId)).length === 0, 'nothing kept of it');
    await settle(mallory, bob, bob2);
    // The message (queued before the Welcome, so processed by now) was dropped on both devices.
    for (const t of [bob, bob2]) expect(await bodies(t.client, mallory.client.accountId)).toEqual(['hi']);
    // No delivery receipt either: Mallory cannot tell the message arrived.
    expect((await mallory.client.message(bob.client.accountId, mallory.client.accountId, unseen.id))?.status).toBe('sent');
    // Nothing can be sent to a blocked account.
    const refused = await bob.client.sendText(mallory.username, 'hello?').catch((e: unknown) => e);
    expect(ClientError.is(refused, ClientErrorCode.Blocked)).toBe(true);
    expect(await bodies(bob.client, mallory.client.accountId)).toEqual(['hi']);
    await expect(bob.client.block(group.groupId)).rejects.toMatchObject({ code: ClientErrorCode.InvalidArgument });
    await expect(bob.client.block(bob.client.accountId)).rejects.toMatchObject({ code: ClientErrorCode.InvalidArgument });

    await bob2.client.unblock(mallory.client.accountId);
    await waitFor(async () => (await bob.client.requestState(mallory.client.accountId)) === 'request', 'the unblock syncs');
    expect(await bob.client.blocked()).toEqual([]);
    await mallory.client.sendText(bob.username, 'sorry');
    await waitFor(async () => (await bodies(bob.client, mallory.client.accountId)).includes('sorry'), 'through again');
  });
});
