/**
 * Undecryptable 1:1 envelopes against a server that damages envelopes and forges their sources (the adversary of
 * docs/threat-model.md): the recipient never drops a session on the server's word; it sends a retry request to the
 * named device, and only that device decides whether its own session broke (the ratchet key check). Identified
 * envelopes here (a sealed one names no source to forge): Bob takes sealed envelopes from contacts only and the
 * senders' sealed sends to him present a wrong access key, which the real server refuses (INVALID_ACCESS_KEY), so
 * they fall back to identified. The last test damages sealed envelopes.
 */
import { decodeServerFrame, encodeFrame } from '@samizdat/protocol';
import { describe, expect, it } from 'vitest';
import { bodies, interceptedConnector, registerClient, sync, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

/** What the "server" in front of one client does to envelopes on their way to it. */
interface Forgery {
  /** Flip the last byte (in the AEAD tag) of envelopes from this account. */
  damageFrom?: string | undefined;
  /** Flip the last byte of every sealed envelope (they carry no source). */
  damageSealed?: boolean;
  /** Deliver envelopes from `from` as if `as` (account and device) had sent them. */
  relabel?: { from: string; as: { accountId: string; deviceId: number } } | undefined;
}

async function person(base: string, forgery?: Forgery): Promise<TestClient & { username: string }> {
  const username = env.uniqueName(base);
  const connector = forgery
    ? interceptedConnector({
        receive: (data) => {
          if (typeof data === 'string') return true;
          let frame;
          try {
            frame = decodeServerFrame(data);
          } catch {
            return true;
          }
          if (frame.kind !== 'envelope') return true;
          if (!frame.source) {
            if (!forgery.damageSealed) return true;
            const envelope = frame.envelope.slice();
            envelope[envelope.length - 1]! ^= 0x01;
            return encodeFrame({ ...frame, envelope });
          }
          if (forgery.damageFrom === frame.source.accountId) {
            const envelope = frame.envelope.slice();
            envelope[envelope.length - 1]! ^= 0x01;
            return encodeFrame({ ...frame, envelope });
          }
          if (forgery.relabel?.from === frame.source.accountId) return encodeFrame({ ...frame, source: forgery.relabel.as });
          return true;
        },
      })
    : undefined;
  const t = env.keep(await registerClient(env.server().url, username, connector));
  return { ...t, username };
}

/** Bob's side of the identified tests: sealed envelopes from contacts only. */
async function contactsOnly(t: TestClient): Promise<void> {
  await t.client.setSealedSenderSettings({ mode: 'contacts' });
}

/** `t`'s sealed sends present a wrong access key: refused by a contacts-only recipient, they go identified. */
function wrongAccessKey(t: TestClient): void {
  const original = t.client.api.sendSealedMessages.bind(t.client.api);
  t.client.api.sendSealedMessages = (accountId, _accessKey, messages) => original(accountId, new Uint8Array(16), messages);
}

async function oneTimeKeys(t: TestClient): Promise<number> {
  return (await t.client.api.keyCounts()).oneTime;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Retry requests (a server that damages and forges envelopes)', () => {
  it('keeps the session on a damaged envelope; the sender rebuilds its own once and resends', async () => {
    const forgery: Forgery = {};
    const alice = await person('alice');
    const bob = await person('bob', forgery);
    await contactsOnly(bob);
    wrongAccessKey(alice);
    await alice.client.sendText(bob.username, 'hello');
    await sync(bob);
    await bob.client.sendText(alice.username, 'hi');
    await sync(alice);
    const aliceKeys = await oneTimeKeys(alice);
    const bobKeys = await oneTimeKeys(bob);

    forgery.damageFrom = alice.client.accountId;
    const damaged = await alice.client.sendText(bob.username, 'damaged on the way');
    await sync(bob);
    forgery.damageFrom = undefined;
    expect(bob.events.undecryptable).toHaveLength(1);
    // Bob asked Alice's device to resend; Alice's current session is the one that failed: she retires it, starts a
    // new one from Bob's bundle and resends the message with the same id.
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).includes('damaged on the way'), 'the resent message');
    expect((await bob.client.history(alice.client.accountId)).filter((m) => m.id === damaged.id)).toHaveLength(1);
    // Bob kept his session: he never fetched Alice's bundle. Alice fetched Bob's once.
    expect(await oneTimeKeys(alice)).toBe(aliceKeys);
    expect(await oneTimeKeys(bob)).toBe(bobKeys - 1);

    // A server that keeps damaging gets no more rebuilds, and no session is dropped.
    forgery.damageFrom = alice.client.accountId;
    for (const body of ['x1', 'x2', 'x3']) await alice.client.sendText(bob.username, body);
    await waitFor(() => bob.events.undecryptable.length === 4, 'three more failures');
    forgery.damageFrom = undefined;
    await pause(500); // Past the batching delay: a request would have gone by now if the per-device limit let it.
    await sync(alice);
    expect(await oneTimeKeys(alice)).toBe(aliceKeys);
    expect(await oneTimeKeys(bob)).toBe(bobKeys - 1);
    // The conversation goes on both ways.
    await bob.client.sendText(alice.username, 'still here');
    await waitFor(async () => (await bodies(alice.client, bob.client.accountId)).includes('still here'), 'bob to alice');
    await alice.client.sendText(bob.username, 'good');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).includes('good'), 'alice to bob');
  });

  it('a forged source makes nobody drop or rebuild a session', async () => {
    const forgery: Forgery = {};
    const alice = await person('alice');
    const carol = await person('carol');
    const bob = await person('bob', forgery);
    await contactsOnly(bob);
    wrongAccessKey(alice);
    wrongAccessKey(carol);
    for (const peer of [alice, carol]) {
      await peer.client.sendText(bob.username, `hello from ${peer.username}`);
      await sync(bob);
      await bob.client.sendText(peer.username, 'hi');
      await sync(peer);
    }
    const before = await Promise.all([alice, bob, carol].map(oneTimeKeys));

    // The server delivers Alice's message to Bob as Carol's.
    forgery.relabel = { from: alice.client.accountId, as: { accountId: carol.client.accountId, deviceId: carol.client.deviceId } };
    await alice.client.sendText(bob.username, 'from alice, labelled carol');
    await sync(bob);
    forgery.relabel = undefined;
    expect(bob.events.undecryptable).toHaveLength(1);
    expect(bob.events.undecryptable[0]?.[0].conversation).toBe(carol.client.accountId);
    // Bob's retry request reaches Carol, who never sent that message: the ratchet key is not her session's.
    await pause(500);
    await sync(carol);
    await carol.client.whenQueueEmpty();
    expect(await Promise.all([alice, bob, carol].map(oneTimeKeys))).toEqual(before);
    expect(await bodies(bob.client, carol.client.accountId)).toEqual([`hello from ${carol.username}`, 'hi']);
    // Every session still works.
    await carol.client.sendText(bob.username, 'carol again');
    await alice.client.sendText(bob.username, 'alice again');
    await waitFor(async () => (await bodies(bob.client, carol.client.accountId)).includes('carol again'), 'carol to bob');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).includes('alice again'), 'alice to bob');
    expect(await Promise.all([alice, bob, carol].map(oneTimeKeys))).toEqual(before);
  });

  it('a damaged sealed envelope is refused as sealed-rejected: nobody is asked to resend or rebuilds, and the next messages arrive', async () => {
    const forgery: Forgery = {};
    const alice = await person('alice');
    const bob = await person('bob', forgery);
    await alice.client.sendText(bob.username, 'hello');
    await sync(bob);
    await bob.client.sendText(alice.username, 'hi');
    await sync(alice);
    const before = await Promise.all([alice, bob].map(oneTimeKeys));

    forgery.damageSealed = true;
    const lost = await alice.client.sendText(bob.username, 'damaged on the way');
    expect(lost.sealed).toBe(true);
    await sync(bob);
    forgery.damageSealed = false;
    // Its sender cannot be known (the certificate is inside what failed), so nothing is recorded in a conversation and
    // no retry request goes anywhere: the server can drop a sealed message, as it can withhold any message.
    expect(bob.events['sealed-rejected']).toHaveLength(1);
    expect(bob.events.undecryptable).toEqual([]);
    await pause(500);
    await sync(alice);
    expect(await Promise.all([alice, bob].map(oneTimeKeys))).toEqual(before);
    await alice.client.sendText(bob.username, 'the next one');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).includes('the next one'), 'the next message');
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['hello', 'hi', 'the next one']);
  });
});
