import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '../../src/client.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { KYBER_ONE_TIME_BATCH } from '../../src/keys/prekeys.js';
import { SqliteClientStore } from '../../src/storage/sqlite/sqlite-store.js';
import { nodeConnector } from '../../src/transport/node-connector.js';
import { startTcpRelay } from '../transport/proxies.js';
import { bodies, crypto, interceptedConnector, linkClient, profileDir, registerClient, reopen, sync, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

const uniqueName = env.uniqueName;

async function person(base: string): Promise<TestClient & { username: string }> {
  const username = uniqueName(base);
  const t = await registerClient(env.server().url, username);
  env.keep(t);
  return { ...t, username };
}

async function device(of: TestClient): Promise<TestClient> {
  const t = await linkClient(env.server().url, of.client);
  env.keep(t);
  return t;
}

/** Blobs the server holds, by file path (the blob store keeps one file per attachment under the data dir). */
function blobFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...blobFiles(path));
    else if (/^[0-9a-f]{64}$/.test(entry.name)) out.push(path);
  }
  return out;
}

describe('Client', () => {
  it('two people and three devices each hold the whole conversation exactly once', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const alice2 = await device(alice);
    expect(alice2.client.accountId).toBe(alice.client.accountId);
    expect(alice2.client.deviceId).not.toBe(alice.client.deviceId);
    expect(alice2.client.username).toBe(alice.username);

    await alice.client.sendText(bob.username, 'hello bob');
    await sync(bob);
    await bob.client.sendText(alice.username, 'hi alice');
    await sync(alice);
    await sync(alice2);
    await alice2.client.sendText(bob.username, 'from my laptop');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).length === 3, 'bob gets the laptop message');
    await waitFor(async () => (await bodies(alice.client, bob.client.accountId)).length === 3, 'alice phone gets the sync copy');

    const expected = ['hello bob', 'hi alice', 'from my laptop'];
    expect(await bodies(alice.client, bob.client.accountId)).toEqual(expected);
    expect(await bodies(alice2.client, bob.client.accountId)).toEqual(expected);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(expected);
    // Every message event was emitted once per device.
    const shown = bob.events.message.filter(([m]) => m.direction === 'incoming').map(([m]) => m.body);
    expect(shown.sort()).toEqual(['from my laptop', 'hello bob']);
    // Bob's device reported delivery: alice's first message is ✓✓ on her phone.
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).find((m) => m.body === 'hello bob')?.status === 'delivered', 'delivery receipt');
    // The contact learned the sender's username (checked against the server).
    expect((await bob.client.contacts()).map((c) => c.username)).toContain(alice.username);
  });

  it('a device linked after the first messages gets what the first device sends next (talk, link, talk)', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.sendText(bob.username, 'before the laptop');
    await sync(bob);
    // Alice's phone knew of no other device of hers when it sent: the empty sync copy was accepted then.
    const alice2 = await device(alice);
    await sync(alice2);
    await alice.client.sendText(bob.username, 'after the laptop');
    await sync(bob);
    await waitFor(async () => (await bodies(alice2.client, bob.client.accountId)).includes('after the laptop'), 'the laptop gets the sync copy');
    await bob.client.sendText(alice.username, 'reply');
    await sync(alice);
    await waitFor(async () => (await bodies(alice2.client, bob.client.accountId)).includes('reply'), 'the laptop gets the reply');
    await waitFor(async () => (await bodies(alice.client, bob.client.accountId)).includes('reply'), 'the phone gets the reply');
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['before the laptop', 'after the laptop', 'reply']);
    // The laptop holds what was sent since it was linked, each once (earlier history is not transferred yet).
    expect(await bodies(alice2.client, bob.client.accountId)).toEqual(['after the laptop', 'reply']);
    // ...and says so: the chat starts with a line, dated at the link, that earlier messages are not on this device.
    const events = async (t: TestClient) => (await t.client.history(bob.client.accountId)).map((m) => m.event ?? m.kind);
    expect(await events(alice2)).toEqual(['history-unavailable', 'message', 'message']);
    expect(await events(alice)).toEqual(['message', 'message', 'message']);
    // Someone met after the link has no earlier history, and no such line.
    const carol = await person('carol');
    await carol.client.sendText(alice.username, 'hi from carol');
    await waitFor(async () => (await bodies(alice2.client, carol.client.accountId)).includes('hi from carol'), 'the laptop gets carol');
    expect((await alice2.client.history(carol.client.accountId)).map((m) => m.event ?? m.kind)).toEqual(['message']);
  });

  it('acknowledges a redelivered envelope silently after a lost ack, and shows it once', async () => {
    const alice = await person('alice');
    let dropAcks = true;
    // An ACK frame lost on the way.
    const lossy = interceptedConnector({ send: (data) => !(dropAcks && data[0] === 0x02) });
    const bobName = uniqueName('bob');
    const bob = await registerClient(env.server().url, bobName, lossy);
    env.keep(bob);
    await alice.client.sendText(bobName, 'once only');
    await sync(bob);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['once only']);
    await bob.client.close();

    // Restart: the server still holds the envelope (its ack was lost) and delivers it again.
    dropAcks = false;
    const again = await reopen(bob.dir, lossy);
    env.keep(again);
    await sync(again);
    expect(await bodies(again.client, alice.client.accountId)).toEqual(['once only']);
    expect(again.events.message.filter(([m]) => m.kind === 'message')).toHaveLength(0);
    expect(again.events.undecryptable).toHaveLength(0);
    // This time the ack went through: nothing is left queued.
    const third = await reopen(bob.dir);
    await again.client.close();
    env.keep(third);
    await sync(third);
    expect(third.events.message).toHaveLength(0);
  });

  it('edits, deletes for everyone, reactions, replies and read receipts reach every device', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const bob2 = await device(bob);
    const first = await alice.client.sendText(bob.username, 'tpyo');
    const second = await alice.client.sendText(bob.username, 'regret');
    await alice.client.editMessage(bob.username, first.id, 'typo fixed');
    await alice.client.deleteForEveryone(bob.username, second.id);
    await sync(bob);
    await sync(bob2);
    for (const t of [bob, bob2]) {
      const history = await t.client.history(alice.client.accountId);
      const edited = history.find((m) => m.id === first.id);
      expect(edited?.body).toBe('typo fixed');
      expect(edited?.editedAt).toBeDefined();
      const deleted = history.find((m) => m.id === second.id);
      expect(deleted?.deleted).toBe(true);
      expect(deleted?.body).toBeUndefined();
    }
    await bob.client.react(alice.username, { id: first.id, author: alice.client.accountId }, '👍');
    await bob.client.sendText(alice.username, 'quoted', { quote: { id: first.id, author: alice.client.accountId } });
    await bob.client.markRead(alice.username);
    await sync(alice);
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).find((m) => m.id === first.id)?.reactions?.length === 1, 'reaction');
    const mine = (await alice.client.history(bob.client.accountId)).find((m) => m.id === first.id);
    expect(mine?.reactions?.[0]?.emoji).toBe('👍');
    await waitFor(async () => (await alice.client.history(bob.client.accountId)).find((m) => m.id === first.id)?.status === 'read', 'read receipt');
    const reply = (await alice.client.history(bob.client.accountId)).find((m) => m.body === 'quoted');
    expect(reply?.quote?.id).toBe(first.id);
    // Bob's other device learns the reaction and that the messages were read (sync copies).
    await waitFor(async () => (await bob2.client.history(alice.client.accountId)).find((m) => m.id === first.id)?.reactions?.length === 1, 'synced reaction');
    await waitFor(async () => (await bob2.client.history(alice.client.accountId)).find((m) => m.id === first.id)?.readAt !== undefined, 'synced read');
  });

  it('sends to a device added after the sessions were made, and stops sending to a removed one', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.sendText(bob.username, 'before');
    const bob2 = await device(bob);
    await alice.client.sendText(bob.username, 'after link'); // 409 missing device → fetched → retried
    await sync(bob2);
    expect(await bodies(bob2.client, alice.client.accountId)).toEqual(['after link']);

    await bob.client.removeDevice(bob2.client.deviceId);
    await alice.client.sendText(bob.username, 'after removal'); // 409 extra device → session dropped → retried
    await bob.client.sendText(alice.username, 'still here'); // Bob's sync copy skips the removed device too.
    await sync(bob);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['before', 'after link', 'after removal', 'still here']);
    const devices = await bob.client.devices();
    expect(devices.map((d) => d.deviceId)).toEqual([bob.client.deviceId]);
  });

  it('round-trips an attachment of a few MiB byte for byte, and rejects a corrupted blob', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const data = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    let progress = 0;
    await alice.client.sendText(bob.username, 'a file', {
      attachments: [{ data, contentType: 'application/octet-stream', fileName: 'data.bin' }],
      onProgress: (done) => (progress = done),
    });
    expect(progress).toBeGreaterThanOrEqual(data.length);
    await sync(bob);
    const [message] = (await bob.client.history(alice.client.accountId)).filter((m) => m.kind === 'message');
    const pointer = message?.attachments?.[0];
    expect(pointer?.fileName).toBe('data.bin');
    expect(pointer?.size).toBe(data.length);
    const received = await bob.client.downloadAttachment(pointer as NonNullable<typeof pointer>);
    expect(Buffer.from(received).equals(Buffer.from(data))).toBe(true);

    // The server's copy is flipped in one byte: the download fails its MAC/digest check.
    const files = blobFiles(env.server().dataDir).filter((f) => statSync(f).size > data.length);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const blob = readFileSync(file);
      const i = blob.length >> 1;
      blob[i] = (blob[i] as number) ^ 0x01;
      writeFileSync(file, blob);
    }
    const err = await bob.client.downloadAttachment(pointer as NonNullable<typeof pointer>).catch((e: unknown) => e);
    expect(ClientError.is(err, ClientErrorCode.AttachmentCorrupted)).toBe(true);
  });

  it('warns and clears verification when a contact re-registers, and keeps messages flowing', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.sendText(bob.username, 'hi');
    await alice.client.markVerified(bob.username);
    expect((await alice.client.safetyNumber(bob.username)).verified).toBe(true);
    const before = (await alice.client.safetyNumber(bob.username)).digits;

    // Bob loses his phone: deletes the account and registers again under the same username.
    await bob.client.api.deleteAccount();
    await bob.client.close();
    const bobAgain = await registerClient(env.server().url, bob.username);
    env.keep(bobAgain);

    await alice.client.sendText(bob.username, 'are you there?');
    expect(alice.events['identity-changed'].map(([e]) => e.username)).toEqual([bob.username]);
    const view = await alice.client.safetyNumber(bob.username);
    expect(view.verified).toBe(false);
    expect(view.digits).not.toBe(before);
    const notices = (await alice.client.history(bobAgain.client.accountId)).filter((m) => m.event === 'identity-changed');
    expect(notices).toHaveLength(1);
    await sync(bobAgain);
    expect(await bodies(bobAgain.client, alice.client.accountId)).toEqual(['are you there?']);
  });

  it('records an undecryptable message, repairs the session, and the sender resends it', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.sendText(bob.username, 'first');
    await sync(bob);
    await bob.client.close();
    // Bob's session with Alice is lost (say, restored from an old backup).
    const store = SqliteClientStore.open(join(bob.dir, 'samizdat.db'));
    await store.write((tx) => tx.putSession({ account: alice.client.accountId, device: alice.client.deviceId }, undefined));
    await store.close();

    await alice.client.sendText(bob.username, 'second');
    const bobAgain = await reopen(bob.dir);
    env.keep(bobAgain);
    await sync(bobAgain);
    expect(bobAgain.events.undecryptable).toHaveLength(1);
    // Alice's client gets the resend request over the new session and resends "second" (same id).
    await sync(alice);
    await waitFor(async () => (await bodies(bobAgain.client, alice.client.accountId)).includes('second'), 'the resent message');
    expect(await bodies(bobAgain.client, alice.client.accountId)).toEqual(['first', 'second']);
    // And the conversation works both ways again.
    await bobAgain.client.sendText(alice.username, 'back');
    await waitFor(async () => (await bodies(alice.client, bob.client.accountId)).includes('back'), 'reply after repair');
  });

  it('enforces disappearing-message timers on every device', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.setExpireTimer(bob.username, 1);
    await alice.client.sendText(bob.username, 'self-destructs');
    await sync(bob);
    const [incoming] = (await bob.client.history(alice.client.accountId)).filter((m) => m.kind === 'message');
    expect(incoming?.expireTimer).toBe(1);
    await bob.client.markRead(alice.username); // The timer starts when read.
    await sync(alice);
    await waitFor(async () => (await bodies(alice.client, bob.client.accountId)).length === 0, 'expiry on the sender');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).length === 0, 'expiry on the recipient');
    // Bob's replies carry the timer too: it is the conversation's setting now.
    const reply = await bob.client.sendText(alice.username, 'me too');
    expect(reply.expireTimer).toBe(1);
  });

  it('continues its sessions after a restart from the SQLite file', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.client.sendText(bob.username, 'one');
    await alice.client.close();
    const aliceAgain = await reopen(alice.dir);
    env.keep(aliceAgain);
    await aliceAgain.client.sendText(bob.username, 'two');
    await sync(bob);
    expect(await bodies(bob.client, aliceAgain.client.accountId)).toEqual(['one', 'two']);
    expect(bob.events.undecryptable).toHaveLength(0);
  });

  it('refills one-time prekeys when the server runs low', async () => {
    const alice = await person('alice');
    const before = await alice.client.api.keyCounts();
    // 85 others start sessions with Alice: each takes one one-time key of each kind (the ML-KEM ones run out).
    for (let i = 0; i < 85; i++) await alice.client.api.getPreKeyBundles(alice.client.accountId, alice.client.deviceId);
    expect((await alice.client.api.keyCounts()).oneTime).toBe(before.oneTime - 85);
    await alice.client.maintainPreKeys();
    const after = await alice.client.api.keyCounts();
    expect(after.oneTime).toBe(before.oneTime - 85 + 100);
    expect(after.kyberOneTime).toBe(KYBER_ONE_TIME_BATCH);
  });

  it('keeps a message sent offline pending and sends it when the connection returns', async () => {
    const bob = await person('bob');
    const relay = await startTcpRelay(Number(new URL(env.server().url).port));
    try {
      const alice = await registerClient(relay.url, uniqueName('alice'));
      env.keep(alice);
      await alice.client.sendText(bob.username, 'online'); // Resolves bob while the server is reachable.
      relay.setTarget(9); // The server "goes away".
      relay.dropAll();
      const queued = await alice.client.sendText(bob.username, 'typed offline', { queueIfOffline: true });
      expect(queued.status).toBe('pending');
      const failed = await alice.client.sendText(bob.username, 'not queued').catch((e: unknown) => e);
      expect(ClientError.is(failed, ClientErrorCode.ServerUnreachable)).toBe(true);
      relay.setTarget(Number(new URL(env.server().url).port)); // Back.
      await sync(alice); // flushPending runs once the queue is drained.
      await waitFor(async () => (await alice.client.history(bob.client.accountId)).find((m) => m.body === 'typed offline')?.status === 'sent', 'the queued send');
      await sync(bob);
      expect(await bodies(bob.client, alice.client.accountId)).toEqual(['online', 'typed offline']);
    } finally {
      await relay.close();
    }
  });

  it('rotates the signed prekeys on schedule and prunes keys replaced more than 30 days ago', async () => {
    const alice = await person('alice');
    await alice.client.close();
    const t0 = Date.now();
    const at = async (days: number) => {
      const store = SqliteClientStore.open(join(alice.dir, 'samizdat.db'));
      const client = await Client.open({ store, crypto, connector: nodeConnector(), now: () => t0 + days * 86_400_000 });
      await client.maintainPreKeys();
      const signed = (await store.listSignedPreKeys()).map((k) => k.id).sort();
      const lastResort = (await store.listKyberPreKeys()).filter((k) => k.lastResort).length;
      await client.close();
      return { signed, lastResort };
    };
    expect(await at(1)).toEqual({ signed: [1], lastResort: 1 }); // Not due yet.
    expect(await at(3)).toEqual({ signed: [1, 2], lastResort: 2 }); // Rotated; the replaced ones kept for late messages.
    // Rotated again; the first key, replaced 37 days ago, is gone; the second, replaced just now, stays.
    expect(await at(40)).toEqual({ signed: [2, 3], lastResort: 2 });
    // The server hands out the newest signed prekey.
    const again = await reopen(alice.dir);
    env.keep(again);
    const bundle = await again.client.api.getPreKeyBundles(again.client.accountId, again.client.deviceId);
    expect(bundle.devices[0]?.bundle.signedPreKey.id).toBe(3);
  });

  it('refuses to register a profile twice and to open an empty one', async () => {
    const alice = await person('alice');
    await alice.client.close();
    const store = SqliteClientStore.open(join(alice.dir, 'samizdat.db'));
    const err = await Client.register({ store, crypto, connector: nodeConnector(), serverUrl: env.server().url }).catch((e: unknown) => e);
    expect(ClientError.is(err, ClientErrorCode.AlreadyRegistered)).toBe(true);
    await store.close();
    const empty = SqliteClientStore.open(join(profileDir(), 'samizdat.db'));
    const err2 = await Client.open({ store: empty, crypto, connector: nodeConnector() }).catch((e: unknown) => e);
    expect(ClientError.is(err2, ClientErrorCode.NotRegistered)).toBe(true);
    await empty.close();
  });

  it('names an unknown username and an unreachable server clearly', async () => {
    const alice = await person('alice');
    const err = await alice.client.sendText('nobody_here_at_all', 'x').catch((e: unknown) => e);
    expect(ClientError.is(err, ClientErrorCode.UnknownUser)).toBe(true);
    const dead = await registerClient(env.server().url, uniqueName('carol')).then(async (t) => {
      await t.client.close();
      return t.dir;
    });
    const store = SqliteClientStore.open(join(dead, 'samizdat.db'));
    const account = await store.getAccount();
    await store.write((tx) => tx.putAccount({ ...(account as NonNullable<typeof account>), serverUrl: 'http://127.0.0.1:9' }));
    await store.close();
    const carol = await reopen(dead);
    env.keep(carol);
    const err2 = await carol.client.sendText(alice.username, 'x').catch((e: unknown) => e);
    expect(ClientError.is(err2, ClientErrorCode.ServerUnreachable)).toBe(true);
  });
});
