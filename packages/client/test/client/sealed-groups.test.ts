/**
 * Sealed group sends (issue 16; docs/protocol.md "Group send keys") through a real server on SQLite: application
 * messages go out with no credentials, let in by the epoch's group send key (MLS exporter, RFC 9420 §8.5) whose hash
 * the epoch's committer registered; the server stores them naming nobody, for every member device, and the sender
 * drops its own copy. A member that missed a commit is refused, catches up and sends in the new epoch; a group with
 * no key registered gets one from an update commit; a removed member's keys stop working; a wrong, missing or
 * credentialed request is refused with one stable code, the same as for a group that does not exist.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EnvelopeType, encodeEnvelope } from '@samizdat/protocol';
import { describe, expect, it } from 'vitest';
import { METRICS_AUTH } from '../../../server/test/helpers/server.js';
import { bodies, isEncryptedGroupMessage, onlinePerson, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

/** How many sealed group sends the server has refused for their key. */
async function refusedKeys(): Promise<number> {
  const text = await (await fetch(`${env.server().url}/metrics`, { headers: METRICS_AUTH })).text();
  const line = text.split('\n').find((l) => l.startsWith('samizdat_errors_total{') && l.includes('code="INVALID_GROUP_SEND_KEY"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function everyoneHas(people: readonly TestClient[], groupId: string, body: string): Promise<void> {
  for (const t of people) {
    await waitFor(async () => (await bodies(t.client, groupId)).includes(body), `"${body}" everywhere`);
  }
}

async function group(name: string, creator: TestClient, ...others: (TestClient & { username: string })[]): Promise<string> {
  const { groupId } = await creator.client.groups.create(name, others.map((p) => p.username));
  for (const t of others) await waitFor(async () => (await t.client.groups.list()).some((g) => g.groupId === groupId && g.name === name), 'every member joins');
  return groupId;
}

function database(): Database.Database {
  return new Database(join(env.server().dataDir, 'samizdat.db'), { fileMustExist: true });
}

const sealedPut = (groupId: string, headers: Record<string, string>, envelope: Uint8Array) =>
  fetch(`${env.server().url}/v1/sealed/groups/${groupId}/messages`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ envelope: Buffer.from(envelope).toString('base64') }),
  });

describe('sealed group sends', () => {
  it('stores application messages naming no sender, for every member device; each shows once, its sender drops its own copy', async () => {
    const [alice, bob, carol] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob'), await onlinePerson(env, 'carol')];
    const groupId = await group('Sealed', alice, bob, carol);
    const refusedBefore = await refusedKeys();
    await alice.client.sendText(groupId, 'from alice');
    await bob.client.sendText(groupId, 'from bob');
    await everyoneHas([alice, bob, carol], groupId, 'from alice');
    await everyoneHas([alice, bob, carol], groupId, 'from bob');
    // Carol is away: her copies stay queued, to be examined.
    await carol.client.stop();
    await bob.client.sendText(groupId, 'queued for carol');
    await everyoneHas([alice], groupId, 'queued for carol');
    for (const t of [alice, bob]) {
      await t.client.whenQueueEmpty();
      expect(await bodies(t.client, groupId)).toEqual(['from alice', 'from bob', 'queued for carol']);
      // Its own copies came back and were recognised (none left waiting).
      await waitFor(async () => (await t.client.groups.find(groupId)).sentEnvelopes?.length === 0, 'own copies dropped');
    }
    expect(await refusedKeys()).toBe(refusedBefore);

    const db = database();
    try {
      const rows = db
        .prepare('SELECT account_id, source_account_id, envelope FROM envelopes WHERE account_id = ?')
        .all(carol.client.accountId) as { account_id: string; source_account_id: string | null; envelope: Uint8Array }[];
      const application = rows.filter((r) => isEncryptedGroupMessage(r.envelope));
      expect(application.length).toBeGreaterThan(0);
      expect(application.map((r) => r.source_account_id)).toEqual(application.map(() => null));
    } finally {
      db.close();
    }
    await carol.client.start();
    await everyoneHas([carol], groupId, 'queued for carol');
    expect(await bodies(carol.client, groupId)).toEqual(['from alice', 'from bob', 'queued for carol']);
  });

  it('a member that missed a commit is refused, catches up, and sends in the new epoch', async () => {
    const [alice, bob, carol] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob'), await onlinePerson(env, 'carol')];
    const groupId = await group('Moving', alice, bob, carol);
    await bob.client.whenQueueEmpty();
    const before = (await bob.client.groups.find(groupId)).epoch;
    await bob.client.stop();
    await alice.client.groups.selfUpdate(groupId);
    const refusedBefore = await refusedKeys();
    // Bob still holds the old epoch: his send is refused, and waits for his queue to bring the commit.
    const sending = bob.client.sendText(groupId, 'after catching up');
    await waitFor(async () => (await refusedKeys()) > refusedBefore, 'the old epoch key is refused');
    await bob.client.start();
    await sending;
    expect((await bob.client.groups.find(groupId)).epoch).toBe(before + 1);
    await everyoneHas([alice, carol], groupId, 'after catching up');
  });

  it('a group with no send key registered gets one from an update commit, and the message goes through', async () => {
    const [alice, bob] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob')];
    const groupId = await group('Legacy', alice, bob);
    const db = database();
    try {
      // As a group made before sealed group sends: no hash for its epoch.
      db.prepare('UPDATE groups SET send_key_hash = NULL WHERE id = ?').run(groupId);
    } finally {
      db.close();
    }
    const before = (await alice.client.groups.find(groupId)).epoch;
    const refusedBefore = await refusedKeys();
    await alice.client.sendText(groupId, 'through the update');
    expect(await refusedKeys()).toBe(refusedBefore + 1);
    expect((await alice.client.groups.find(groupId)).epoch).toBe(before + 1);
    await everyoneHas([bob], groupId, 'through the update');
  });

  it("refuses a removed member's key, a wrong or missing key and a credentialed request, with the answer a missing group gets", async () => {
    const [alice, bob, carol] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob'), await onlinePerson(env, 'carol')];
    const groupId = await group('Removal', alice, bob, carol);
    const engine = carol.client.groups.engine;
    const carolState = engine.decodeGroupState((await carol.client.groups.find(groupId)).state);
    const oldKey = await engine.groupSendKey(carolState);
    const sealedEnvelope = (content: Uint8Array) => encodeEnvelope({ type: EnvelopeType.GroupMessage, timestamp: Date.now(), content });
    // Raw MLS application messages of carol's epoch (the test reaches below the client, as an attacker would).
    const first = await engine.encrypt(carolState, new TextEncoder().encode('not content'));
    const { message } = await engine.encrypt(first.state, new TextEncoder().encode('from a removed member'));
    const envelope = sealedEnvelope(message);
    // Before the removal her key works...
    const ok = await sealedPut(groupId, { 'group-send-key': Buffer.from(oldKey).toString('base64') }, sealedEnvelope(first.message));
    expect(ok.status).toBe(200);
    await alice.client.groups.remove(groupId, [carol.username]);
    // ...and after it, it does not.
    const refused = await sealedPut(groupId, { 'group-send-key': Buffer.from(oldKey).toString('base64') }, envelope);
    expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([401, 'INVALID_GROUP_SEND_KEY']);
    const missingGroup = await sealedPut('ab'.repeat(32), { 'group-send-key': Buffer.from(oldKey).toString('base64') }, envelope);
    const wrong = await sealedPut(groupId, { 'group-send-key': Buffer.alloc(32, 7).toString('base64') }, envelope);
    const none = await sealedPut(groupId, {}, envelope);
    const short = await sealedPut(groupId, { 'group-send-key': Buffer.alloc(16, 7).toString('base64') }, envelope);
    const answers = await Promise.all([missingGroup, wrong, none, short].map(async (r) => [r.status, ((await r.json()) as { code: string }).code]));
    expect(answers).toEqual([
      [401, 'INVALID_GROUP_SEND_KEY'],
      [401, 'INVALID_GROUP_SEND_KEY'],
      [401, 'INVALID_GROUP_SEND_KEY'],
      [401, 'INVALID_GROUP_SEND_KEY'],
    ]);
    // The same body with credentials would name its sender: refused before anything is stored.
    const aliceKey = await alice.client.groups.engine.groupSendKey(alice.client.groups.engine.decodeGroupState((await alice.client.groups.find(groupId)).state));
    const credentialed = await sealedPut(groupId, { 'group-send-key': Buffer.from(aliceKey).toString('base64'), authorization: 'Basic eDp5' }, envelope);
    expect([credentialed.status, ((await credentialed.json()) as { code: string }).code]).toEqual([400, 'BAD_REQUEST']);
    // The members who stay keep talking, and nobody shows the removed member's late message.
    await bob.client.sendText(groupId, 'still here');
    await everyoneHas([alice], groupId, 'still here');
    expect(await bodies(alice.client, groupId)).not.toContain('from a removed member');
  });
});
