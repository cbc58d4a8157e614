/**
 * Sealed sender through the real server and real sockets (sealed/sealed-delivery.ts, outbox/fan-out.ts, inbox.ts):
 * 1:1 messages, receipts and typing go as sealed envelopes submitted without credentials, so that what the server
 * stores and delivers names no sender; the recipient learns the sender from the certificate inside. Who may send
 * sealed ("anyone" or "contacts") and the identified fallback (allowed or not) as the user chose. Every envelope a
 * device is handed is recorded at its connector, and the server's own database is read, as one who seized it would.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  EnvelopeType,
  SealedInnerType,
  decodeEnvelope,
  decodeIdentityKey,
  decodeSenderCertificate,
  decodeServerFrame,
  encodeEnvelope,
  generateIdentityKeyPair,
  issueSenderCertificate,
  issueServerCertificate,
  sealedSenderEncrypt,
  verifySealedSenderKey,
} from '@samizdat/protocol';
import type { SenderCertificate } from '@samizdat/protocol';
import { describe, expect, it } from 'vitest';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import type { Connector } from '../../src/transport/connector.js';
import type { OutgoingEnvelope } from '../../src/transport/api-types.js';
import { bodies, crypto, interceptedConnector, registerClient, sync, useServer, waitFor } from './helpers.js';
import type { TestClient } from './helpers.js';

const env = useServer();

interface Handed {
  readonly source: string | undefined;
  readonly type: number;
}

/** A node connector that records, for every envelope the server hands this device, who it says sent it and its kind. */
function recordingConnector(): Connector & { readonly handed: Handed[] } {
  const handed: Handed[] = [];
  const connector = interceptedConnector({
    receive(data) {
      if (typeof data === 'string') return true;
      const frame = decodeServerFrame(data);
      if (frame.kind === 'envelope') handed.push({ source: frame.source?.accountId, type: decodeEnvelope(frame.envelope).type });
      return true;
    },
  });
  return { ...connector, handed };
}

type Person = TestClient & { readonly username: string; readonly handed: Handed[] };

/** A registered person whose upkeep has run (sealed-sender key and access key published), receiving. */
async function person(base: string): Promise<Person> {
  const username = env.uniqueName(base);
  const connector = recordingConnector();
  const t = env.keep(await registerClient(env.server().url, username, connector));
  await t.client.start();
  await t.client.whenQueueEmpty();
  await t.client.publishSealedSenderKey();
  return { ...t, username, handed: connector.handed };
}

/** The server's queue as its database file holds it (a seizure's view): every row for `accountId`. */
function queuedRows(accountId: string): { source_account_id: string | null; source_device_id: number | null }[] {
  const db = new Database(join(env.server().dataDir, 'samizdat.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT source_account_id, source_device_id FROM envelopes WHERE account_id = ?').all(accountId) as {
      source_account_id: string | null;
      source_device_id: number | null;
    }[];
  } finally {
    db.close();
  }
}

/** Envelopes handed to `p` that name `other` as their sender. */
const namedFrom = (p: Person, other: Person): Handed[] => p.handed.filter((h) => h.source === other.client.accountId);

describe('sealed sender, 1:1', () => {
  it('messages, delivery and read receipts and typing travel sealed both ways: nothing stored or handed over names the sender', async () => {
    const alice = await person('alice');
    const bob = await person('bob');

    await bob.client.stop();
    const sent = await alice.client.sendText(bob.username, 'sealed hello');
    expect(sent).toMatchObject({ status: 'sent', sealed: true });
    const rows = queuedRows(bob.client.accountId);
    expect(rows.length, 'a copy for bob waits on the server').toBeGreaterThan(0);
    expect(rows, 'and it names no sender').toEqual(rows.map(() => ({ source_account_id: null, source_device_id: null })));

    await alice.client.stop();
    await bob.client.start();
    await bob.client.whenQueueEmpty();
    const [got] = (await bob.client.history(alice.client.accountId)).filter((m) => m.kind === 'message');
    expect(got).toMatchObject({ body: 'sealed hello', author: alice.client.accountId, sealed: true });
    // Bob's delivery receipt waits for alice, sealed as well.
    await waitFor(() => queuedRows(alice.client.accountId).length > 0, 'the delivery receipt is queued for alice');
    expect(queuedRows(alice.client.accountId).every((r) => r.source_account_id === null)).toBe(true);

    await alice.client.start();
    await alice.client.whenQueueEmpty();
    await waitFor(async () => (await alice.client.message(bob.client.accountId, sent.author, sent.id))?.status === 'delivered', 'delivered');

    // Bob answers, reads alice's message and types: all of it sealed too.
    const reply = await bob.client.sendText(alice.client.accountId, 'sealed reply');
    expect(reply.sealed).toBe(true);
    await bob.client.markRead(alice.client.accountId);
    await bob.client.sendTyping(alice.client.accountId, 'started');
    await waitFor(async () => (await alice.client.message(bob.client.accountId, sent.author, sent.id))?.status === 'read', 'read receipt');
    await waitFor(() => alice.events.typing.length > 0, 'typing');
    expect(await bodies(alice.client, bob.client.accountId)).toEqual(['sealed hello', 'sealed reply']);
    const [answer] = (await alice.client.history(bob.client.accountId)).filter((m) => m.author === bob.client.accountId);
    expect(answer?.sealed).toBe(true);

    expect(namedFrom(alice, bob), 'nothing handed to alice names bob').toEqual([]);
    expect(namedFrom(bob, alice), 'nothing handed to bob names alice').toEqual([]);
    expect(alice.handed.filter((h) => h.type === EnvelopeType.SealedSender).length).toBeGreaterThanOrEqual(4);
    expect(alice.events['sealed-rejected']).toEqual([]);
    expect(bob.events['sealed-rejected']).toEqual([]);
  });

  it('"only from contacts": a stranger without the profile key is refused sealed and goes identified when allowed, or not at all', async () => {
    const bob = await person('bob');
    await bob.client.setSealedSenderSettings({ mode: 'contacts' });
    const carol = await person('carol');
    const first = await carol.client.sendText(bob.username, 'identified, since allowed');
    expect(first.status).toBe('sent');
    expect(first.sealed).toBeUndefined();
    await waitFor(async () => (await bodies(bob.client, carol.client.accountId)).length === 1, 'bob gets it');
    expect(namedFrom(bob, carol).length, 'the server named carol: that send was identified').toBeGreaterThan(0);
    const [got] = await bob.client.history(carol.client.accountId);
    expect(got?.sealed).toBeUndefined();

    const dave = await person('dave');
    await dave.client.setSealedSenderSettings({ allowIdentified: false });
    const refused = await dave.client.sendText(bob.username, 'sealed or nothing').catch((err: unknown) => err);
    expect(ClientError.is(refused, ClientErrorCode.SealedSenderUnavailable)).toBe(true);
    const [failed] = (await dave.client.history(bob.client.accountId)).filter((m) => m.kind === 'message');
    expect(failed?.status).toBe('failed');
    expect(namedFrom(bob, dave)).toEqual([]);

    // Once bob writes to carol, carol has his profile key: her sends are sealed from then on.
    await bob.client.sendText(carol.client.accountId, 'now you know my key');
    await waitFor(async () => (await bodies(carol.client, bob.client.accountId)).includes('now you know my key'), 'carol gets the key');
    const before = namedFrom(bob, carol).length;
    const sealed = await carol.client.sendText(bob.username, 'sealed now');
    expect(sealed.sealed).toBe(true);
    await waitFor(async () => (await bodies(bob.client, carol.client.accountId)).includes('sealed now'), 'bob gets it sealed');
    // Bob's read/delivery receipts and the message itself: nothing more named carol.
    expect(namedFrom(bob, carol).length).toBe(before);
  });
});

/** Records the sealed sends `p` makes (recipient, access key, copies): what one who watched the wire could replay. */
function watchSealedSends(p: Person): { accountId: string; accessKey: Uint8Array; messages: readonly OutgoingEnvelope[] }[] {
  const sends: { accountId: string; accessKey: Uint8Array; messages: readonly OutgoingEnvelope[] }[] = [];
  const original = p.client.api.sendSealedMessages.bind(p.client.api);
  p.client.api.sendSealedMessages = async (accountId, accessKey, messages) => {
    sends.push({ accountId, accessKey, messages });
    return original(accountId, accessKey, messages);
  };
  return sends;
}

/** The sender certificate `p`'s device holds (its profile's key-value table): anyone it wrote to has seen it. */
function certificateOf(p: Person): SenderCertificate {
  const db = new Database(join(p.dir, 'samizdat.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM kv WHERE key = 'sealedSender.certificate'").get() as { value: string } | undefined;
    if (!row) throw new Error('no certificate cached');
    return decodeSenderCertificate(Buffer.from(row.value, 'base64'));
  } finally {
    db.close();
  }
}

describe('sealed sender, attacks', () => {
  it('a replayed sealed envelope is shown once; forged ones (another trust root, a certificate for another identity) are refused, lose nothing, and are not delivered again', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const sends = watchSealedSends(alice);
    await alice.client.sendText(bob.username, 'the real one');
    await waitFor(async () => (await bodies(bob.client, alice.client.accountId)).length === 1, 'bob gets it');
    const [send] = sends.filter((s) => s.accountId === bob.client.accountId);
    if (!send) throw new Error('alice sent nothing sealed to bob');

    // A replay of the captured request (its access key and envelopes) is stored by the server, and dropped by bob.
    await alice.client.api.sendSealedMessages(send.accountId, send.accessKey, send.messages);

    // Mallory, who has bob's public keys like anyone, seals as alice: once under a trust root of her own, once with
    // alice's real certificate (seen by everyone alice writes to) but without alice's identity key.
    const mallory = await generateIdentityKeyPair(crypto);
    const account = await alice.client.api.getAccount(bob.client.accountId);
    const sealedKey = await verifySealedSenderKey(crypto, decodeIdentityKey(account.identityKey), account.sealedSenderKey ?? new Uint8Array());
    const root = await crypto.ed25519GenerateKeyPair();
    const signing = await crypto.ed25519GenerateKeyPair();
    const fakeServer = await issueServerCertificate(crypto, root, 1, signing.publicKey);
    const fake = await issueSenderCertificate(crypto, fakeServer, signing.privateKey, {
      accountId: alice.client.accountId,
      deviceId: alice.client.deviceId,
      identityKey: mallory.publicKey,
      expires: Date.now() + 86_400_000,
    });
    // (An honest sealer refuses a certificate that is not for its identity: a hostile one skips that check.)
    const disguised = { ...certificateOf(alice), identityKey: mallory.publicKey };
    for (const certificate of [fake, disguised]) {
      const content = await sealedSenderEncrypt(crypto, {
        recipientIdentity: decodeIdentityKey(account.identityKey),
        recipientSealedKey: sealedKey,
        senderIdentity: mallory,
        certificate,
        innerType: SealedInnerType.Message,
        inner: new Uint8Array(64),
      });
      const envelope = encodeEnvelope({ type: EnvelopeType.SealedSender, timestamp: Date.now(), content });
      await alice.client.api.sendSealedMessages(send.accountId, send.accessKey, send.messages.map((m) => ({ ...m, envelope })));
    }

    await waitFor(() => bob.events['sealed-rejected'].length === 2, 'both forgeries refused');
    await bob.client.whenQueueEmpty();
    expect(bob.events['sealed-rejected'].map(([e]) => e.reason)).toEqual(['INVALID_CERTIFICATE', 'INVALID_CERTIFICATE']);
    expect(await bodies(bob.client, alice.client.accountId)).toEqual(['the real one']);
    expect(bob.events.undecryptable).toEqual([]);
    expect((await bob.client.history(alice.client.accountId)).filter((m) => m.kind === 'system')).toEqual([]);
    // All three were acknowledged: a reconnect brings nothing back.
    await bob.client.stop();
    bob.events['sealed-rejected'].length = 0;
    bob.events.message.length = 0;
    await sync(bob);
    expect(bob.events['sealed-rejected']).toEqual([]);
    expect(bob.events.message).toEqual([]);
    expect(queuedRows(bob.client.accountId)).toEqual([]);
  });
});
