import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { decodeSessionRecord } from '../../src/sessions/session-record.js';
import { CiphertextType, ratchetKeyOf } from '../../src/sessions/session-cipher.js';
import type { CiphertextMessage, DecryptResult } from '../../src/sessions/session-cipher.js';
import { toHex } from '../../src/crypto/bytes.js';
import { InMemoryProtocolStore } from '../../src/sessions/in-memory-store.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import type { TestDevice } from '../helpers.js';
import { makeDevice, providers, text, utf8 } from '../helpers.js';

function plain(result: DecryptResult): string {
  if (result.kind !== 'message') throw new Error(`expected a message, got ${result.kind}`);
  return text(result.plaintext);
}

async function rejection(promise: Promise<unknown>): Promise<string | undefined> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return ProtocolError.is(err) ? err.code : `not a ProtocolError: ${String(err)}`;
}

async function activeBaseKey(device: TestDevice, peer: TestDevice): Promise<string> {
  const bytes = await device.store.loadSession(peer.address);
  return toHex(decodeSessionRecord(bytes!).active!.baseKey);
}

describe.each(providers)('Sessions (%s provider)', (_name, provider) => {
  const dev = (account: string, device = 1, options = {}) => makeDevice(provider, { account, device }, options);

  it('sends prekey messages until the responder answers, then ratchet messages', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const m1 = await alice.manager.encrypt(bob.address, utf8('one'));
    const m2 = await alice.manager.encrypt(bob.address, utf8('two'));
    expect([m1.type, m2.type]).toEqual([CiphertextType.PreKey, CiphertextType.PreKey]);
    expect(plain(await bob.manager.decrypt(alice.address, m2))).toBe('two');
    expect(plain(await bob.manager.decrypt(alice.address, m1))).toBe('one');
    const reply = await bob.manager.encrypt(alice.address, utf8('three'));
    expect(reply.type).toBe(CiphertextType.Ratchet);
    expect(plain(await alice.manager.decrypt(bob.address, reply))).toBe('three');
    expect((await alice.manager.encrypt(bob.address, utf8('four'))).type).toBe(CiphertextType.Ratchet);
  });

  it('consumes a one-time prekey once: a second initiator naming it is refused', async () => {
    const [alice, carol, bob] = [await dev('alice'), await dev('carol'), await dev('bob', 1, { oneTimePreKeys: 1 })];
    const bundle = bob.bundle();
    expect(bundle.oneTimePreKey).toBeDefined();
    await alice.manager.processPreKeyBundle(bob.address, bundle);
    await carol.manager.processPreKeyBundle(bob.address, bundle); // a misbehaving server hands out the same key twice
    expect(plain(await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, utf8('hi'))))).toBe('hi');
    expect(bob.store.oneTimePreKeys.has(bundle.oneTimePreKey!.id)).toBe(false);
    const fromCarol = await carol.manager.encrypt(bob.address, utf8('me too'));
    expect(await rejection(bob.manager.decrypt(carol.address, fromCarol))).toBe('PREKEY_NOT_FOUND');
  });

  it('treats a replayed initial message as a duplicate, also after its session is gone (last-resort key)', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob', 1, { oneTimePreKeys: 0, oneTimeKyberPreKeys: 0 })];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const m = await alice.manager.encrypt(bob.address, utf8('once'));
    expect(plain(await bob.manager.decrypt(alice.address, m))).toBe('once');
    expect(await bob.manager.decrypt(alice.address, m)).toEqual({ kind: 'duplicate' });
    await bob.manager.removeDevice(alice.address);
    expect(await bob.manager.decrypt(alice.address, m)).toEqual({ kind: 'duplicate' });
  });

  it('rejects a later prekey message of an existing session whose PQXDH fields were altered', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const first = await alice.manager.encrypt(bob.address, utf8('first'));
    const second = await alice.manager.encrypt(bob.address, utf8('second'));
    expect(plain(await bob.manager.decrypt(alice.address, first))).toBe('first');
    // Offsets: 1 version + 65 identity + 32 base key, then the prekey ids and the ML-KEM ciphertext.
    for (const at of [1 + 65 + 32, 1 + 65 + 32 + 3, 200, 1000]) {
      const body = second.body.slice();
      body[at]! ^= 0x01;
      expect(await rejection(bob.manager.decrypt(alice.address, { type: second.type, body }))).toMatch(/BAD_MAC|PREKEY_NOT_FOUND|DECODE_ERROR/);
    }
    expect(plain(await bob.manager.decrypt(alice.address, second))).toBe('second');
  });

  it('refuses a ratchet message from a device it has no session with', async () => {
    const [alice, bob, eve] = [await dev('alice'), await dev('bob'), await dev('eve')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, utf8('x')));
    const ratchet = await bob.manager.encrypt(alice.address, utf8('y'));
    expect(await rejection(eve.manager.decrypt(bob.address, ratchet))).toBe('NO_SESSION');
  });

  it('converges on one session after a simultaneous initiation', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    await bob.manager.processPreKeyBundle(alice.address, alice.bundle());
    const fromAlice = await alice.manager.encrypt(bob.address, utf8('hi from alice'));
    const fromBob = await bob.manager.encrypt(alice.address, utf8('hi from bob'));
    expect(plain(await bob.manager.decrypt(alice.address, fromAlice))).toBe('hi from alice');
    expect(plain(await alice.manager.decrypt(bob.address, fromBob))).toBe('hi from bob');
    // Each side now has both sessions; the first answered message settles which one both use (Sesame §3).
    for (let i = 0; i < 4; i++) {
      const [from, to] = i % 2 ? [alice, bob] : [bob, alice];
      expect(plain(await to.manager.decrypt(from.address, await from.manager.encrypt(to.address, utf8(`m${i}`))))).toBe(`m${i}`);
    }
    expect(await activeBaseKey(alice, bob)).toBe(await activeBaseKey(bob, alice));
  });

  it('decrypts messages still in flight on the session that lost a simultaneous initiation', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    await bob.manager.processPreKeyBundle(alice.address, alice.bundle());
    const a = [await alice.manager.encrypt(bob.address, utf8('a0')), await alice.manager.encrypt(bob.address, utf8('a1'))];
    const b = [await bob.manager.encrypt(alice.address, utf8('b0')), await bob.manager.encrypt(alice.address, utf8('b1'))];
    expect(plain(await bob.manager.decrypt(alice.address, a[0]!))).toBe('a0');
    expect(plain(await alice.manager.decrypt(bob.address, b[0]!))).toBe('b0');
    expect(plain(await bob.manager.decrypt(alice.address, a[1]!))).toBe('a1');
    expect(plain(await alice.manager.decrypt(bob.address, b[1]!))).toBe('b1');
    expect(plain(await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, utf8('a2'))))).toBe('a2');
    expect(plain(await alice.manager.decrypt(bob.address, await bob.manager.encrypt(alice.address, utf8('b2'))))).toBe('b2');
    expect(await activeBaseKey(alice, bob)).toBe(await activeBaseKey(bob, alice));
  });

  it('encrypts one plaintext to every device of an account and the sender’s other devices', async () => {
    const aliceIdentityDevice = await dev('alice', 1);
    const alice2 = await makeDevice(provider, { account: 'alice', device: 2 }, { identity: aliceIdentityDevice.identity });
    const bobs = [await dev('bob', 1), await dev('bob', 2), await dev('bob', 3)];
    const targets = [...bobs, alice2];
    const addresses = targets.map((d) => d.address);
    expect(await aliceIdentityDevice.manager.missingSessions(addresses)).toHaveLength(4);
    expect(await rejection(aliceIdentityDevice.manager.encryptForDevices(addresses, utf8('x')))).toBe('NO_SESSION');
    for (const t of targets) await aliceIdentityDevice.manager.processPreKeyBundle(t.address, t.bundle());
    const out = await aliceIdentityDevice.manager.encryptForDevices(addresses, utf8('to everyone'));
    expect(out).toHaveLength(4);
    for (const [i, t] of targets.entries()) {
      expect(plain(await t.manager.decrypt(aliceIdentityDevice.address, out[i]!.message))).toBe('to everyone');
    }
  });

  it('follows the device list: a new device gets a session, a removed one gets nothing more', async () => {
    const alice = await dev('alice');
    const bob1 = await dev('bob', 1);
    await alice.manager.processPreKeyBundle(bob1.address, bob1.bundle());
    const bob2 = await makeDevice(provider, { account: 'bob', device: 2 }, { identity: bob1.identity });
    let plan = await alice.manager.reconcileDevices('bob', [1, 2]);
    expect(plan).toEqual({ removed: [], missing: [2] });
    await alice.manager.processPreKeyBundle(bob2.address, bob2.bundle());
    const both = await alice.manager.encryptForDevices([bob1.address, bob2.address], utf8('two devices'));
    expect(plain(await bob2.manager.decrypt(alice.address, both[1]!.message))).toBe('two devices');
    plan = await alice.manager.reconcileDevices('bob', [2]);
    expect(plan).toEqual({ removed: [1], missing: [] });
    expect(await alice.manager.devices('bob')).toEqual([2]);
    expect(await rejection(alice.manager.encrypt(bob1.address, utf8('gone')))).toBe('NO_SESSION');
  });

  it('reports a changed identity key of a re-registered contact, and messages still flow', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, utf8('x')));
    const newBob = await dev('bob'); // re-installed: new identity, same account and device id
    const fromNewBob = await (async () => {
      await newBob.manager.processPreKeyBundle(alice.address, alice.bundle());
      return newBob.manager.encrypt(alice.address, utf8('it is me, new phone'));
    })();
    const result = await alice.manager.decrypt(bob.address, fromNewBob);
    expect(result.kind === 'message' && result.identityChanged).toBe(true);
    expect(plain(result)).toBe('it is me, new phone');
    const answer = await alice.manager.encrypt(bob.address, utf8('welcome back'));
    expect(plain(await newBob.manager.decrypt(alice.address, answer))).toBe('welcome back');
  });

  it('refuses an identity the trust policy rejects, with UNTRUSTED_IDENTITY', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    const strict = new InMemoryProtocolStore(alice.identity, (_a, key, known) => known === undefined || toHex(key) === toHex(known));
    const manager = new SessionManager(provider, strict);
    strict.identities.set('bob', new Uint8Array(65).fill(1));
    expect(await rejection(manager.processPreKeyBundle(bob.address, bob.bundle()))).toBe('UNTRUSTED_IDENTITY');
  });

  it('rejects malformed ciphertext with typed errors and keeps the session working', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const first = await alice.manager.encrypt(bob.address, utf8('first'));
    const junk: CiphertextMessage[] = [
      { type: CiphertextType.Ratchet, body: new Uint8Array(0) },
      { type: CiphertextType.PreKey, body: first.body.subarray(0, 100) },
      { type: CiphertextType.PreKey, body: Uint8Array.of(9, ...first.body.subarray(1)) },
      { type: 7 as CiphertextType, body: first.body },
    ];
    for (const m of junk) expect(['DECODE_ERROR', 'UNKNOWN_VERSION']).toContain(await rejection(bob.manager.decrypt(alice.address, m)));
    const tampered = first.body.slice();
    tampered[tampered.length - 3]! ^= 1;
    expect(await rejection(bob.manager.decrypt(alice.address, { type: first.type, body: tampered }))).toBe('BAD_MAC');
    expect(bob.store.oneTimePreKeys.size).toBe(2); // a failed initial message consumes nothing
    expect(plain(await bob.manager.decrypt(alice.address, first))).toBe('first');
  });

  it('retires the active session only for a retry request naming its current ratchet key', async () => {
    const [alice, bob] = [await dev('alice'), await dev('bob')];
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const first = await alice.manager.encrypt(bob.address, utf8('first'));
    expect(plain(await bob.manager.decrypt(alice.address, first))).toBe('first');
    expect(plain(await alice.manager.decrypt(bob.address, await bob.manager.encrypt(alice.address, utf8('ack'))))).toBe('ack');
    const failed = await alice.manager.encrypt(bob.address, utf8('lost')); // a ratchet message now
    expect(failed.type).toBe(CiphertextType.Ratchet);
    const current = ratchetKeyOf(failed)!;
    expect(current).toHaveLength(32);
    // The prekey message carries the ratchet key of its inner message.
    expect(toHex(ratchetKeyOf(first)!)).toHaveLength(64);
    expect(ratchetKeyOf({ type: CiphertextType.Ratchet, body: new Uint8Array([1, 2, 3]) })).toBeUndefined();
    expect(ratchetKeyOf({ type: CiphertextType.PreKey, body: new Uint8Array(0) })).toBeUndefined();

    // A key the session never sent with (forged, or an older session's) names no session.
    const other = current.slice();
    other[0]! ^= 0x01;
    expect(await alice.manager.sessionSendingWith(bob.address, other)).toBeUndefined();
    expect(await alice.manager.sessionSendingWith(bob.address, ratchetKeyOf(first)!)).toBeUndefined();
    // The current one names the active session; retiring it needs that session's base key.
    const failedSession = await alice.manager.sessionSendingWith(bob.address, current);
    expect(failedSession && toHex(failedSession)).toBe(await activeBaseKey(alice, bob));
    expect(await alice.manager.retireSession(bob.address, other)).toBe(false);
    expect(await alice.manager.hasSession(bob.address)).toBe(true);
    expect(await alice.manager.retireSession(bob.address, failedSession!)).toBe(true);
    expect(await alice.manager.hasSession(bob.address)).toBe(false);
    expect(await alice.manager.retireSession(bob.address, failedSession!)).toBe(false);
    const record = decodeSessionRecord((await alice.store.loadSession(bob.address))!);
    expect(record.inactive).toHaveLength(1);
    // A message still in flight on the retired session decrypts (it is kept, inactive) and makes it active again.
    expect(plain(await alice.manager.decrypt(bob.address, await bob.manager.encrypt(alice.address, utf8('late'))))).toBe('late');
    expect(await alice.manager.hasSession(bob.address)).toBe(true);
    expect(await alice.manager.retireSession(bob.address, failedSession!)).toBe(true);
    // A new session from a fresh bundle: bob decrypts its prekey message and it becomes the active one on both sides.
    await alice.manager.processPreKeyBundle(bob.address, bob.bundle());
    const fresh = await alice.manager.encrypt(bob.address, utf8('again'));
    expect(fresh.type).toBe(CiphertextType.PreKey);
    expect(plain(await bob.manager.decrypt(alice.address, fresh))).toBe('again');
  });
});
