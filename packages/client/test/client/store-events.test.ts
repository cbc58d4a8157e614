/** 'group-changed' and 'contact-changed' (storage/observed-store.ts): announced when what a UI shows of a group or a contact changes, not per message. */
import { describe, expect, it } from 'vitest';
import { onlinePerson, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

const person = (base: string) => onlinePerson(env, base);

const changesOf = (t: TestClient, groupId: string) => t.events['group-changed'].filter(([e]) => e.groupId === groupId).length;

describe("'group-changed'", () => {
  it('comes when a group is joined, renamed or changes members, and not for its messages', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const carol = await person('carol');
    await bob.client.sendText(alice.username, 'hi'); // Bob talks with Alice: her group is no request.
    const { groupId } = await alice.client.groups.create('Club', [bob.username]);
    expect(changesOf(alice, groupId)).toBeGreaterThan(0);
    await waitFor(() => changesOf(bob, groupId) > 0, 'bob joins');
    await waitFor(async () => (await bob.client.groups.find(groupId)).name === 'Club', 'the name arrives');
    await new Promise((r) => setTimeout(r, 300));
    await bob.client.whenQueueEmpty();
    const settled = changesOf(bob, groupId);

    for (const text of ['one', 'two', 'three']) await alice.client.sendText(groupId, text);
    await waitFor(async () => (await bob.client.history(groupId)).filter((m) => m.kind === 'message').length === 3, 'the messages');
    expect(changesOf(bob, groupId)).toBe(settled);

    await alice.client.groups.rename(groupId, 'Book club');
    await waitFor(() => changesOf(bob, groupId) > settled, 'the rename is announced');
    const renamed = changesOf(bob, groupId);
    await alice.client.groups.add(groupId, [carol.username]);
    await waitFor(() => changesOf(bob, groupId) > renamed, 'the new member is announced');
  });
});

const contactChangesOf = (t: TestClient, accountId: string) => t.events['contact-changed'].filter(([e]) => e.accountId === accountId).length;

describe("'contact-changed'", () => {
  it('comes when a contact is looked up, writes first, is verified or blocked, and not for every message', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const bobId = bob.client.accountId;
    const aliceId = alice.client.accountId;

    // A username looked up is stored: announced.
    await alice.client.resolve(bob.username);
    expect(contactChangesOf(alice, bobId)).toBe(1);

    // Bob learns of Alice from her first message (a message request on his side).
    await alice.client.sendText(bob.username, 'one');
    await waitFor(() => contactChangesOf(bob, aliceId) > 0, 'bob stores alice');
    await waitFor(async () => (await bob.client.history(aliceId)).length === 1, 'the first message');
    await bob.client.whenQueueEmpty();
    const known = contactChangesOf(bob, aliceId);
    for (const text of ['two', 'three']) await alice.client.sendText(bob.username, text);
    await waitFor(async () => (await bob.client.history(aliceId)).length === 3, 'the next messages');
    expect(contactChangesOf(bob, aliceId)).toBe(known);

    await bob.client.markVerified(aliceId);
    expect(contactChangesOf(bob, aliceId)).toBe(known + 1);
    expect((await bob.client.contacts()).find((c) => c.accountId === aliceId)?.verified).toBe(true);
    await bob.client.block(aliceId);
    expect(contactChangesOf(bob, aliceId)).toBe(known + 2);
  });
});
