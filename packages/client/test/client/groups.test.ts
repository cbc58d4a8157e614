import { join } from 'node:path';
import { needsRekey } from '@samizdat/protocol';
import { describe, expect, it } from 'vitest';
import { encodeGroupStateV2 } from '../../../protocol/src/groups/group-state-codec.js';
import { METRICS_AUTH } from '../../../server/test/helpers/server.js';
import { ClientError } from '../../src/errors.js';
import { SqliteClientStore } from '../../src/storage/sqlite/sqlite-store.js';
import { bodies, linkClient, registerClient, reopen, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

async function person(base: string): Promise<TestClient & { username: string }> {
  const username = env.uniqueName(base);
  const t = await registerClient(env.server().url, username);
  env.keep(t);
  await t.client.start();
  await t.client.whenQueueEmpty();
  await t.client.groups.maintainKeyPackages();
  return { ...t, username };
}

async function device(of: TestClient): Promise<TestClient> {
  const t = await linkClient(env.server().url, of.client);
  env.keep(t);
  await t.client.start();
  await t.client.whenQueueEmpty();
  await t.client.groups.maintainKeyPackages();
  return t;
}

/** How many commits the server has refused as made in an old epoch. */
async function staleEpochAnswers(): Promise<number> {
  const text = await (await fetch(`${env.server().url}/metrics`, { headers: METRICS_AUTH })).text();
  const line = text.split('\n').find((l) => l.startsWith('samizdat_errors_total{') && l.includes('code="STALE_EPOCH"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Waits until every client has processed its queue up to now. */
async function settle(...clients: TestClient[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 150));
  for (const c of clients) await c.client.whenQueueEmpty().catch(() => undefined);
}

/**
 * Closes `t` and stores its groups as the build with the broken ts-mls patch left them (state version 2, which says
 * nothing of the secret tree), then opens the profile again, not started: an upgraded client's first run.
 */
async function upgrade(t: TestClient): Promise<TestClient> {
  const engine = t.client.groups.engine;
  await t.client.close();
  const store = SqliteClientStore.open(join(t.dir, 'samizdat.db'));
  const groups = await store.listGroups();
  const asStored = (state: Uint8Array) => encodeGroupStateV2(engine.decodeGroupState(state) as unknown as Parameters<typeof encodeGroupStateV2>[0]);
  await store.write((tx) => groups.forEach((g) => tx.putGroup({ ...g, state: asStored(g.state) })));
  await store.close();
  return env.keep(await reopen(t.dir));
}

/** The group's epoch on `t`, and whether its stored state says the epoch's secret tree may be derived from zeros. */
async function epochAndFlag(t: TestClient, groupId: string): Promise<[number, boolean]> {
  const group = await t.client.groups.find(groupId);
  return [group.epoch, needsRekey(t.client.groups.engine.decodeGroupState(group.state))];
}

/** A group `creator` made with `others`, its name known everywhere and one message read; the epoch it is in. */
async function talkingGroup(name: string, creator: TestClient, ...others: (TestClient & { username: string })[]): Promise<{ groupId: string; epoch: number }> {
  const people = [creator, ...others];
  const { groupId } = await creator.client.groups.create(name, others.map((p) => p.username));
  for (const t of others) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId && g.name === name), 'every member joins');
  await creator.client.sendText(groupId, 'before the upgrade');
  for (const t of others) await waitFor(async () => (await bodies(t.client, groupId)).includes('before the upgrade'), 'the message');
  await settle(...people);
  const { epoch } = await creator.client.groups.find(groupId);
  expect(epoch).toBeGreaterThanOrEqual(1);
  return { groupId, epoch };
}

describe('groups whose secret tree the broken ts-mls patch derived from zeros', () => {
  it('an upgraded device rotates the epoch before its first send; the others follow its commit and rotate nothing', async () => {
    const people = [await person('alice'), await person('bob'), await person('carol')] as const;
    const { groupId, epoch } = await talkingGroup('Upgrade', ...people);
    const [alice, bob, carol] = [await upgrade(people[0]), await upgrade(people[1]), await upgrade(people[2])];
    for (const t of [alice, bob, carol]) expect(await epochAndFlag(t, groupId)).toEqual([epoch, true]);

    // Bob sends before anything else runs (not started: no maintenance): an update commit goes first.
    await bob.client.sendText(groupId, 'first after the upgrade');
    expect(await epochAndFlag(bob, groupId)).toEqual([epoch + 1, false]);

    // The others process his commit (a new, sound epoch: nothing of theirs to rotate) and read the message.
    for (const t of [alice, carol]) {
      await t.client.start();
      await waitFor(async () => (await bodies(t.client, groupId)).includes('first after the upgrade'), 'the message sent in the new epoch');
    }
    await bob.client.start();
    await carol.client.sendText(groupId, 'and on');
    for (const t of [alice, bob]) await waitFor(async () => (await bodies(t.client, groupId)).includes('and on'), 'a reply');
    // Stopping waits for each device's maintenance: one commit in all, no flag left.
    for (const t of [alice, bob, carol]) {
      await t.client.stop();
      expect(await epochAndFlag(t, groupId)).toEqual([epoch + 1, false]);
    }
  });

  it('an upgraded device rotates the epoch on maintain(), before any message', async () => {
    const people = [await person('alice'), await person('bob'), await person('carol')] as const;
    const { groupId, epoch } = await talkingGroup('Maintained', ...people);
    const [alice, bob, carol] = [await upgrade(people[0]), await upgrade(people[1]), await upgrade(people[2])];

    await alice.client.groups.maintain();
    expect(await epochAndFlag(alice, groupId)).toEqual([epoch + 1, false]);
    for (const t of [alice, bob, carol]) await t.client.start();
    await waitFor(async () => (await epochAndFlag(bob, groupId))[0] === epoch + 1, 'bob processes the commit');
    await bob.client.sendText(groupId, 'after the rotation');
    for (const t of [alice, carol]) await waitFor(async () => (await bodies(t.client, groupId)).includes('after the rotation'), 'the message');
    for (const t of [alice, bob, carol]) {
      await t.client.stop();
      expect(await epochAndFlag(t, groupId)).toEqual([epoch + 1, false]);
    }
  });

  it('an upgraded device that leaves rotates the epoch before it proposes its removal', async () => {
    const people = [await person('alice'), await person('bob'), await person('carol')] as const;
    const { groupId, epoch } = await talkingGroup('Leaving', ...people);
    const [alice, bob, carol] = [await upgrade(people[0]), await upgrade(people[1]), await upgrade(people[2])];

    await carol.client.groups.leave(groupId);
    const left = await carol.client.groups.find(groupId);
    expect([left.epoch, left.active]).toEqual([epoch + 1, false]);
    // Alice (the admin) processes the rotation, then the proposal, and commits the removal.
    for (const t of [alice, bob]) await t.client.start();
    for (const t of [alice, bob]) {
      await waitFor(async () => t.client.groups.view(await t.client.groups.find(groupId)).members.length === 2, 'carol is removed');
    }
    for (const t of [alice, bob]) {
      await t.client.stop();
      expect(await epochAndFlag(t, groupId)).toEqual([epoch + 2, false]);
    }
  });
});

describe('groups (MLS) through the SDK', () => {
  it('three people with two devices each: create, talk, add a fourth, remove one, an offline device catches up', async () => {
    const alice = await person('alice');
    const alice2 = await device(alice);
    const bob = await person('bob');
    const bob2 = await device(bob);
    const carol = await person('carol');
    const carol2 = await device(carol);
    const group = await alice.client.groups.create('Book club', [bob.username, carol.username]);
    const id = group.groupId;
    for (const t of [alice2, bob, bob2, carol, carol2]) {
      await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === id && g.name === 'Book club'), 'every device joins and learns the name');
    }
    const view = alice.client.groups.view(await alice.client.groups.find(id));
    expect(view.members.map((m) => m.devices.length)).toEqual([2, 2, 2]);

    await alice.client.sendText(id, 'hello group');
    await bob2.client.sendText(id, 'hi all');
    for (const t of [alice, alice2, bob, bob2, carol, carol2]) {
      await waitFor(async () => (await bodies(t.client, id)).length === 2, 'both messages on every device');
      expect((await bodies(t.client, id)).sort()).toEqual(['hello group', 'hi all']);
    }

    // Carol's second device goes offline across several epochs.
    await settle(carol2);
    await carol2.client.stop();

    // Dave joins later and cannot read what was said before.
    const dave = await person('dave');
    await alice.client.groups.add(id, [dave.username]);
    await waitFor(async () => (await dave.client.groups.list()).some((g) => g.groupId === id), 'dave joins');
    await alice.client.sendText(id, 'welcome dave');
    await waitFor(async () => (await bodies(dave.client, id)).includes('welcome dave'), 'dave reads new messages');
    expect(await bodies(dave.client, id)).toEqual(['welcome dave']);

    // A self-update and a rename: two more epochs while carol2 is away.
    await settle(alice, bob, bob2, carol, dave);
    await bob.client.groups.selfUpdate(id);
    await alice.client.groups.rename(id, 'Book club (Fridays)');
    await bob.client.sendText(id, 'see you friday');

    // carol2 comes back: it processes the commits in order and reads on.
    await carol2.client.start();
    await waitFor(async () => (await bodies(carol2.client, id)).includes('see you friday'), 'the offline device catches up');
    expect((await carol2.client.groups.find(id)).epoch).toBe((await alice.client.groups.find(id)).epoch);
    expect((await carol2.client.groups.find(id)).name).toBe('Book club (Fridays)');
    // Changes are lines of the conversation on every device — stored, the acting device's own included.
    for (const t of [alice, carol2]) {
      const events = (await t.client.history(id)).filter((m) => m.kind === 'system').map((m) => m.event);
      expect(events).toContain('group-members');
      expect(events).toContain('group-updated');
    }

    // Carol is removed (both devices): they learn it, and nothing sent afterwards reaches them.
    await settle(alice, alice2, bob, bob2, carol, carol2, dave);
    await alice.client.groups.remove(id, [carol.username]);
    for (const t of [carol, carol2]) await waitFor(async () => (await t.client.groups.find(id)).active === false, 'carol learns she was removed');
    await waitFor(async () => (await bob.client.groups.find(id)).epoch === (await alice.client.groups.find(id)).epoch, 'bob catches up');
    await bob.client.sendText(id, 'after carol left');
    await waitFor(async () => (await bodies(alice2.client, id)).includes('after carol left'), 'members read on');
    await settle(carol, carol2);
    for (const t of [carol, carol2]) expect(await bodies(t.client, id)).not.toContain('after carol left');
    await expect(carol.client.sendText(id, 'still here?')).rejects.toThrow(ClientError);
  });

  it('orders concurrent commits: one wins, the other rebases, all end in the same epoch', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const carol = await person('carol');
    const dave = await person('dave');
    const { groupId } = await alice.client.groups.create('Race', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === groupId && g.admins.length > 0), 'bob joins');
    // Alice makes Bob an admin too, so that both may add.
    await alice.client.groups.setAdmins(groupId, [alice.username, bob.username]);
    await waitFor(async () => (await bob.client.groups.find(groupId)).admins.includes(bob.client.accountId), 'bob is admin');
    expect((await bob.client.groups.find(groupId)).epoch).toBe((await alice.client.groups.find(groupId)).epoch);
    const staleBefore = await staleEpochAnswers();
    await Promise.all([alice.client.groups.add(groupId, [carol.username]), bob.client.groups.add(groupId, [dave.username])]);
    await settle(alice, bob, carol, dave);
    // The two commits were made in the same epoch: the server refused one, whose client caught up and made it again.
    expect(await staleEpochAnswers()).toBe(staleBefore + 1);
    const epochs = await Promise.all([alice, bob].map(async (t) => (await t.client.groups.find(groupId)).epoch));
    expect(epochs[0]).toBe(epochs[1]);
    for (const t of [carol, dave]) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId), 'both added');
    const members = alice.client.groups.view(await alice.client.groups.find(groupId)).members.map((m) => m.accountId).sort();
    expect(members).toEqual([alice, bob, carol, dave].map((t) => t.client.accountId).sort());
  });

  it('carries replies, edits, deletes, reactions, read receipts, attachments and timers like 1:1 chats', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const { groupId } = await alice.client.groups.create('Photos', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Photos'), 'bob joins');
    const photo = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const first = await alice.client.sendText(groupId, 'look', { attachments: [{ data: photo, contentType: 'image/png', fileName: 'p.png' }] });
    const second = await alice.client.sendText(groupId, 'typo');
    await alice.client.editMessage(groupId, second.id, 'fixed');
    const third = await alice.client.sendText(groupId, 'oops');
    await alice.client.deleteForEveryone(groupId, third.id);
    await waitFor(async () => (await bob.client.history(groupId)).find((m) => m.id === third.id)?.deleted === true, 'the delete');
    const history = await bob.client.history(groupId);
    expect(history.find((m) => m.id === second.id)?.body).toBe('fixed');
    const pointer = history.find((m) => m.id === first.id)?.attachments?.[0];
    expect(Buffer.from(await bob.client.downloadAttachment(pointer as NonNullable<typeof pointer>)).equals(Buffer.from(photo))).toBe(true);

    await bob.client.react(groupId, { id: first.id, author: alice.client.accountId }, '❤️');
    await bob.client.sendText(groupId, 'nice', { quote: { id: first.id, author: alice.client.accountId } });
    await bob.client.markRead(groupId);
    await waitFor(async () => (await alice.client.history(groupId)).find((m) => m.id === first.id)?.status === 'read', 'read receipt');
    const mine = (await alice.client.history(groupId)).find((m) => m.id === first.id);
    expect(mine?.reactions?.map((r) => r.emoji)).toEqual(['❤️']);
    expect((await alice.client.history(groupId)).find((m) => m.body === 'nice')?.quote?.id).toBe(first.id);

    await bob.client.setExpireTimer(groupId, 1);
    await waitFor(async () => (await alice.client.groups.find(groupId)).expireTimer === 1, 'the group timer');
    const fleeting = await alice.client.sendText(groupId, 'gone soon');
    expect(fleeting.expireTimer).toBe(1);
    await waitFor(async () => !(await bodies(alice.client, groupId)).includes('gone soon'), 'it disappears');
  });

  it("joins a linked device to all of its account's groups", async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const { groupId } = await alice.client.groups.create('Family', [bob.username]);
    await waitFor(async () => (await bob.client.groups.list()).some((g) => g.groupId === groupId), 'bob joins');
    const bob2 = await device(bob);
    await waitFor(async () => (await bob2.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Family'), 'the new device joins and learns the name');
    await alice.client.sendText(groupId, 'hello both devices');
    await waitFor(async () => (await bodies(bob2.client, groupId)).includes('hello both devices'), 'the new device reads');
    await bob2.client.sendText(groupId, 'from the new device');
    await waitFor(async () => (await bodies(alice.client, groupId)).includes('from the new device'), 'the new device writes');
  });

  it('remove a device, link another: the removed one leaves every group, the new one (a new id) joins them all and sends', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const bob2 = await device(bob);
    const groups = [await alice.client.groups.create('One', [bob.username]), await bob.client.groups.create('Two', [alice.username])];
    for (const { groupId } of groups) {
      for (const t of [bob, bob2]) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId && g.active), 'both devices join');
    }
    const devicesOf = async (t: TestClient, groupId: string, accountId: string) =>
      t.client.groups.view(await t.client.groups.find(groupId)).members.find((m) => m.accountId === accountId)?.devices ?? [];
    expect(await devicesOf(alice, groups[0]!.groupId, bob.client.accountId)).toEqual([1, 2]);

    await bob.client.removeDevice(2);
    for (const { groupId } of groups) {
      // The removal commit reaches alice: Group info counts one device of bob's.
      await waitFor(async () => (await devicesOf(alice, groupId, bob.client.accountId)).join() === '1', "bob's removed device leaves the group");
      expect(await devicesOf(bob, groupId, bob.client.accountId)).toEqual([1]);
    }

    const bob3 = await device(bob);
    expect(bob3.client.deviceId).toBe(3);
    for (const { groupId } of groups) {
      await waitFor(async () => (await bob3.client.groups.list()).some((g) => g.groupId === groupId && g.active), 'the new device joins every group');
      await waitFor(async () => (await devicesOf(alice, groupId, bob.client.accountId)).join() === '1,3', 'alice sees the new device');
      await bob3.client.sendText(groupId, `bob3 in ${groupId.slice(0, 4)}`);
      await waitFor(async () => (await bodies(alice.client, groupId)).includes(`bob3 in ${groupId.slice(0, 4)}`), 'the new device is read');
      await alice.client.sendText(groupId, `to bob3 ${groupId.slice(0, 4)}`);
      await waitFor(async () => (await bodies(bob3.client, groupId)).includes(`to bob3 ${groupId.slice(0, 4)}`), 'the new device reads');
    }
    // None of it made an account-level line: bob stayed a member throughout.
    const lines = (await alice.client.history(groups[0]!.groupId)).filter((m) => m.event === 'group-members').map((m) => JSON.parse(m.body ?? '{}') as unknown);
    expect(lines).toEqual([{ added: [bob.client.accountId], removed: [], left: [], byAdmin: true }]);
  });

  it('group lines say what happened: who added you, who left, who removed whom, nothing for a linked device', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const carol = await person('carol');
    const dave = await person('dave');
    const { groupId } = await alice.client.groups.create('Book club', [bob.username, carol.username, dave.username]);
    for (const t of [bob, carol, dave]) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Book club'), 'all join');
    await alice.client.groups.rename(groupId, 'Readers');
    await waitFor(async () => (await bob.client.groups.find(groupId)).name === 'Readers', 'renamed');
    const linesOf = async (t: TestClient) =>
      (await t.client.history(groupId)).filter((m) => m.kind === 'system').map((m) => ({ event: m.event, author: m.author, ...(JSON.parse(m.body ?? '{}') as object) }));

    // Bob: "alice added you", then alice named it, then renamed it.
    const bobs = await linesOf(bob);
    expect(bobs[0]).toEqual({ event: 'group-members', author: alice.client.accountId, added: [bob.client.accountId], removed: [], left: [], byAdmin: true });
    expect(bobs.slice(1).map((l) => [l.event, (l as { name?: string }).name])).toEqual([
      ['group-updated', 'Book club'],
      ['group-updated', 'Readers'],
    ]);

    // Alice links a device: no line on alice's or bob's devices; the new device says what it lacks, and gets the
    // current settings as such (not "You named the group Readers").
    const aliceLinesBefore = (await linesOf(alice)).length;
    const alice2 = await device(alice);
    await waitFor(async () => (await alice2.client.groups.list()).some((g) => g.groupId === groupId && g.name === 'Readers'), 'the linked device learns the name');
    await settle(alice, bob, alice2);
    expect((await linesOf(alice)).length).toBe(aliceLinesBefore);
    expect((await linesOf(bob)).length).toBe(bobs.length);
    const news = await linesOf(alice2);
    expect(news.map((l) => l.event)).toEqual(['history-unavailable', 'group-updated']);
    expect(news[1]).toMatchObject({ name: 'Readers', current: true });

    // Carol leaves (an admin's device commits it): everyone records that carol left, not that alice removed her.
    await carol.client.groups.leave(groupId);
    await waitFor(async () => !(await bob.client.groups.view(await bob.client.groups.find(groupId))).members.some((m) => m.accountId === carol.client.accountId), 'carol is out');
    // Alice removes dave.
    await settle(alice, alice2, bob, dave);
    await alice.client.groups.remove(groupId, [dave.username]);
    await waitFor(async () => (await dave.client.groups.find(groupId)).active === false, 'dave is out');
    await settle(alice, alice2, bob);
    for (const t of [bob, alice2, alice]) {
      const members = (await linesOf(t)).filter((l) => l.event === 'group-members').slice(-2);
      expect(members).toEqual([
        { event: 'group-members', author: alice.client.accountId, added: [], removed: [], left: [carol.client.accountId], byAdmin: true },
        { event: 'group-members', author: alice.client.accountId, added: [], removed: [dave.client.accountId], left: [], byAdmin: true },
      ]);
    }
    const daves = (await linesOf(dave)).filter((l) => l.event === 'group-members').at(-1);
    expect(daves).toEqual({ event: 'group-members', author: alice.client.accountId, added: [], removed: [dave.client.accountId], left: [], byAdmin: true });
  });
});
