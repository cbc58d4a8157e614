/**
 * Encrypted profiles (contacts/profiles.ts; docs/protocol.md "Profiles") through a real server on SQLite: a profile
 * set on one device reaches a contact (the key travels in a message, the ciphertext comes from the server) and a
 * group member; the server's row holds no plaintext; a change is seen on refresh; bad input is refused and stores
 * nothing; blocking someone rotates the profile key — the blocked person's key opens nothing new and lets no sealed
 * send in, the user's other device adopts the new key, and a contact who keeps talking gets it with the next message.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../src/errors.js';
import { linkClient, onlinePerson, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();
const avatar = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256);

async function talk(a: TestClient & { username: string }, b: TestClient & { username: string }): Promise<void> {
  await a.client.sendText(b.username, `hi ${b.username}`);
  await waitFor(async () => (await b.client.history(a.client.accountId)).length > 0, 'the first message');
  await b.client.sendText(a.client.accountId, `hi ${a.username}`);
  await waitFor(async () => (await a.client.history(b.client.accountId)).some((m) => m.direction === 'incoming'), 'the reply');
}

const nameOf = async (t: TestClient, accountId: string) => (await t.client.contacts()).find((c) => c.accountId === accountId)?.name;

describe('encrypted profiles', () => {
  it("reaches a contact and a group member, and the server's row holds only ciphertext", async () => {
    const [alice, bob, carol] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob'), await onlinePerson(env, 'carol')];
    const secretName = 'Alice Liddell-Wonderland';
    await alice.client.setProfile({ name: secretName, about: 'Curiouser and curiouser', avatar });
    expect(await alice.client.profile()).toEqual({ name: secretName, about: 'Curiouser and curiouser', avatar });
    await talk(alice, bob);
    await waitFor(async () => (await nameOf(bob, alice.client.accountId)) === secretName, "bob sees alice's name");
    const seen = (await bob.client.contacts()).find((c) => c.accountId === alice.client.accountId);
    expect(seen?.about).toBe('Curiouser and curiouser');
    expect(await bob.client.avatarOf(alice.client.accountId)).toEqual(avatar);

    // Carol only shares a group with alice.
    const { groupId } = await alice.client.groups.create('Tea party', [carol.username]);
    await waitFor(async () => (await carol.client.groups.list()).some((g) => g.groupId === groupId), 'carol joins');
    await alice.client.sendText(groupId, 'tea?');
    await waitFor(async () => (await nameOf(carol, alice.client.accountId)) === secretName, "carol sees alice's name");

    const db = new Database(join(env.server().dataDir, 'samizdat.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT * FROM profiles WHERE account_id = ?').get(alice.client.accountId) as Record<string, unknown>;
      expect(row).toBeDefined();
      const everything = Buffer.concat(Object.values(row).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)))));
      for (const plain of [secretName, 'Curiouser']) expect(everything.includes(Buffer.from(plain))).toBe(false);
      expect(everything.includes(Buffer.from(avatar.subarray(0, 64)))).toBe(false);
    } finally {
      db.close();
    }

    // A change reaches bob with alice's next message (it announces when her profile changed); a cleared field is gone.
    await alice.client.setProfile({ name: 'Alice', about: null });
    await alice.client.sendText(bob.username, 'I changed my name');
    await waitFor(async () => (await nameOf(bob, alice.client.accountId)) === 'Alice', 'the new name');
    const after = (await bob.client.contacts()).find((c) => c.accountId === alice.client.accountId);
    expect(after?.about).toBeUndefined();
    // An explicit refresh finds the same.
    expect((await bob.client.refreshProfile(alice.client.accountId))?.name).toBe('Alice');
    // A new picture too.
    await alice.client.setProfile({ avatar: Uint8Array.of(1, 2, 3) });
    await alice.client.sendText(bob.username, 'a new picture');
    await waitFor(async () => (await bob.client.avatarOf(alice.client.accountId))?.length === 3, 'the new picture');
  });

  it('refuses what a profile cannot hold, and keeps what was set', async () => {
    const dora = await onlinePerson(env, 'dora');
    await dora.client.setProfile({ name: 'Dora' });
    for (const change of [{ name: 'x'.repeat(101) }, { about: 'y'.repeat(501) }, { name: 'a\u0007bell' }, { avatar: new Uint8Array(256 * 1024 + 1) }, { avatar: new Uint8Array(0) }]) {
      const err = await dora.client.setProfile(change).then(() => undefined, (e: unknown) => e);
      expect(ClientError.is(err, 'INVALID_ARGUMENT'), JSON.stringify(Object.keys(change))).toBe(true);
    }
    expect(await dora.client.profile()).toEqual({ name: 'Dora' });
    // The largest avatar allowed is carried (encrypted and put on the server), and can be cleared again.
    const largest = new Uint8Array(256 * 1024).fill(7);
    expect((await dora.client.setProfile({ avatar: largest })).avatar).toEqual(largest);
    expect(await dora.client.setProfile({ avatar: null })).toEqual({ name: 'Dora' });
  });

  it("rotates the profile key on a block: the blocked person's key opens nothing new, the other device adopts the new one", async () => {
    const [alice, bob, mallory] = [await onlinePerson(env, 'alice'), await onlinePerson(env, 'bob'), await onlinePerson(env, 'mallory')];
    const laptop = env.keep(await linkClient(env.server().url, alice.client));
    await laptop.client.start();
    await alice.client.setProfile({ name: 'Alice' });
    // Sealed from contacts only: the access key (from the profile key) is what lets a sealed send in.
    await alice.client.setSealedSenderSettings({ mode: 'contacts' });
    await talk(alice, bob);
    await talk(alice, mallory);
    for (const t of [bob, mallory]) await waitFor(async () => (await nameOf(t, alice.client.accountId)) === 'Alice', 'the name');
    const keyOf = async (t: TestClient) => (await t.client.contacts()).find((c) => c.accountId === alice.client.accountId)?.profileKey;
    const oldKey = await keyOf(mallory);

    await alice.client.block(mallory.client.accountId);
    await alice.client.setProfile({ name: 'Alice (new)' });
    // Mallory's key finds no profile any more: what she saw stays, nothing new.
    await mallory.client.refreshProfile(alice.client.accountId);
    expect(await nameOf(mallory, alice.client.accountId)).toBe('Alice');
    expect(await keyOf(mallory)).toBe(oldKey);
    // And her sealed sends are refused (alice takes them from contacts only): it goes identified, and alice drops it.
    const sent = await mallory.client.sendText(alice.client.accountId, 'let me in');
    expect(sent.sealed).toBeUndefined();

    // The laptop learned the new key from the block's sync copy; bob gets it with alice's next message.
    await waitFor(async () => (await laptop.client.contacts()).some((c) => c.accountId === mallory.client.accountId && c.blocked), 'the block reaches the laptop');
    // The laptop reads the account's profile from the server with the key it adopted (the old one finds none).
    await waitFor(async () => (await laptop.client.profile()).name === 'Alice (new)', "the laptop reads the profile under the new key");
    await alice.client.sendText(bob.username, 'still friends');
    await waitFor(async () => (await nameOf(bob, alice.client.accountId)) === 'Alice (new)', 'bob sees the new name');
    expect(await keyOf(bob)).not.toBe(oldKey);
    // A message from the laptop carries the same (new) key: bob's record does not go back.
    await laptop.client.sendText(bob.client.accountId, 'from the laptop');
    await waitFor(async () => (await bob.client.history(alice.client.accountId)).some((m) => m.body === 'from the laptop'), 'the laptop message');
    expect(await keyOf(bob)).not.toBe(oldKey);
    const sealedFromBob = await bob.client.sendText(alice.client.accountId, 'sealed with the new key');
    expect(sealedFromBob.sealed).toBe(true);
  });
});
