/** 'group-changed' (storage/observed-store.ts): announced when what a UI shows of a group changes, not per message. */
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
