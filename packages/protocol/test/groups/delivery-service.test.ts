/**
 * The Delivery Service's checks (src/groups/delivery-service.ts), against real groups made with MlsEngine: what a
 * server verifies before it orders a commit, and what it derives (members, committer) from the verified tree.
 */
import { describe, expect, it } from 'vitest';
import { MlsDeliveryService } from '../../src/groups/delivery-service.js';
import type { PublicGroupView } from '../../src/groups/delivery-service.js';
import { ProtocolError } from '../../src/errors.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import type { Device } from './fixtures.js';
import { Directory, crypto, deliver, keyPackage, makeAccount, makeDevice, stateOf } from './fixtures.js';

async function setup() {
  const directory = new Directory();
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => makeAccount(n, directory)));
  const a1 = await makeDevice(alice!, 1, directory);
  const b1 = await makeDevice(bob!, 1, directory);
  const c1 = await makeDevice(carol!, 1, directory);
  const a2 = await makeDevice(alice!, 2, directory);
  // The DS trusts the identity keys the accounts registered: the same directory.
  const ds = new MlsDeliveryService({ crypto, isTrustedIdentity: directory.isTrusted, mlsCryptoProvider: nodeMlsCryptoProvider });
  a1.state = await a1.engine.createGroup(a1.mls);
  return { directory, ds, a1, b1, c1, a2 };
}

async function code(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return ProtocolError.is(err) ? err.code : `not a ProtocolError: ${String(err)}`;
}

const members = (view: PublicGroupView) => view.members.map((m) => `${m.accountId.slice(0, 4)}.${m.deviceId}`).sort();
const name = (d: Device) => `${d.account.accountId.slice(0, 4)}.${d.deviceId}`;
const who = (m: { accountId: string; deviceId: number }) => `${m.accountId.slice(0, 4)}.${m.deviceId}`;

describe('MlsDeliveryService', () => {
  it('verifies a new group and each commit, deriving members and the committer from the verified tree', async () => {
    const { ds, a1, b1, c1 } = await setup();
    const created = await ds.verifyGroupInfo(await a1.engine.exportGroupInfo(stateOf(a1)));
    expect(created.epoch).toBe(0n);
    expect(members(created)).toEqual([name(a1)]);
    let current = await a1.engine.exportGroupInfo(stateOf(a1));

    const bobPackage = await keyPackage(b1);
    const carolPackage = await keyPackage(c1);
    const add = await a1.engine.addMembers(stateOf(a1), [bobPackage.publicKeyPackage, carolPackage.publicKeyPackage]);
    expect(ds.addsOf(add.commit)).toBe(2);
    let next = await a1.engine.exportGroupInfo(add.state);
    const verified = await ds.verifyCommit(current, add.commit, next);
    expect(verified.external).toBe(false);
    expect(who(verified.committer)).toBe(name(a1));
    expect(verified.next.epoch).toBe(1n);
    expect(members(verified.next)).toEqual([name(a1), name(b1), name(c1)].sort());
    a1.state = add.state;
    b1.state = await b1.engine.joinFromWelcome(bobPackage.privateKeyPackage, add.welcome!);
    c1.state = await c1.engine.joinFromWelcome(carolPackage.privateKeyPackage, add.welcome!);
    current = next;

    // Bob (a member, not the creator) removes Carol: the DS names Bob, from the commit's signature.
    const removal = await b1.engine.removeMembers(stateOf(b1), [{ accountId: c1.account.accountId, deviceId: c1.deviceId }]);
    next = await b1.engine.exportGroupInfo(removal.state);
    const removed = await ds.verifyCommit(current, removal.commit, next);
    expect(who(removed.committer)).toBe(name(b1));
    expect(members(removed.next)).toEqual([name(a1), name(b1)].sort());
    expect(ds.addsOf(removal.commit)).toBe(0);
    // With its membership tag damaged the DS cannot tell (only members hold the key), and a member refuses it.
    const badTag = removal.commit.slice();
    badTag[badTag.length - 1]! ^= 0x01;
    await ds.verifyCommit(current, badTag, next);
    await expect(a1.engine.processMessage(stateOf(a1), badTag)).rejects.toThrow();
    // Carol's state is the old epoch's: a commit from her now is for an epoch the group left.
    const late = await c1.engine.update(stateOf(c1));
    expect(await code(ds.verifyCommit(next, late.commit, await c1.engine.exportGroupInfo(late.state)))).toBe('WRONG_EPOCH');
  });

  it('refuses what a member would refuse, and what it cannot follow', async () => {
    const { ds, a1, b1, c1 } = await setup();
    const current = await a1.engine.exportGroupInfo(stateOf(a1));
    const add = await a1.engine.addMembers(stateOf(a1), [(await keyPackage(b1)).publicKeyPackage]);
    const next = await a1.engine.exportGroupInfo(add.state);

    // A flipped bit in the commit's signed content (the middle of the added key package): the signature fails.
    const tampered = add.commit.slice();
    tampered[Math.floor(tampered.length / 2)]! ^= 0x01;
    expect(await code(ds.verifyCommit(current, tampered, next))).toBe('BAD_SIGNATURE');
    // The membership tag (the last bytes: a MAC under a key only members hold) is the one thing the DS cannot check
    // (docs/threat-model.md); members refuse such a commit (the first test).
    const badTag = add.commit.slice();
    badTag[badTag.length - 1]! ^= 0x01;
    expect(members((await ds.verifyCommit(current, badTag, next)).next)).toHaveLength(2);
    // Garbage, and an application message (a PrivateMessage) where a commit must be.
    expect(await code(ds.verifyCommit(current, new Uint8Array([0, 1, 2, 3]), next))).toMatch(/DECODE_ERROR|INVALID_MESSAGE/);
    a1.state = add.state;
    const app = await a1.engine.encrypt(stateOf(a1), new TextEncoder().encode('hello'));
    expect(await code(ds.verifyCommit(next, app.message, next))).toBe('INVALID_MESSAGE');
    // The commit again, once the group has moved on: the wrong epoch.
    expect(await code(ds.verifyCommit(next, add.commit, next))).toBe('WRONG_EPOCH');
    // The right commit with a GroupInfo that does not follow from it (the old one, or another group's).
    expect(await code(ds.verifyCommit(current, add.commit, current))).toBe('INVALID_MESSAGE');
    const other = await c1.engine.createGroup(c1.mls);
    expect(await code(ds.verifyCommit(current, add.commit, await c1.engine.exportGroupInfo(other)))).toBe('INVALID_MESSAGE');
    // And the honest pair still verifies: nothing above changed anything.
    expect(members((await ds.verifyCommit(current, add.commit, next)).next)).toHaveLength(2);
  });

  it("refuses an Add of a device whose credential is not signed by its account's registered identity key", async () => {
    const { ds, a1, directory } = await setup();
    // Mallory claims Bob's account id with her own identity key: the DS's directory says Bob registered another.
    const bob = await makeAccount('bob', directory);
    const impostor = await makeDevice({ ...bob, identity: (await makeAccount('mallory')).identity }, 1, new Directory());
    const current = await a1.engine.exportGroupInfo(stateOf(a1));
    const trusting = await makeDevice(a1.account, 1, new Directory(), { isTrustedIdentity: () => true });
    trusting.state = await trusting.engine.decodeGroupState(a1.engine.encodeGroupState(stateOf(a1)));
    const add = await trusting.engine.addMembers(stateOf(trusting), [(await keyPackage(impostor)).publicKeyPackage]);
    expect(await code(ds.verifyCommit(current, add.commit, await trusting.engine.exportGroupInfo(add.state)))).toBe('UNTRUSTED_IDENTITY');
  });

  it('verifies an external join by a new device of a member account and names it as the committer', async () => {
    const { ds, a1, b1, a2 } = await setup();
    const add = await a1.engine.addMembers(stateOf(a1), [(await keyPackage(b1)).publicKeyPackage]);
    let current = await a1.engine.exportGroupInfo(stateOf(a1));
    const next = await a1.engine.exportGroupInfo(add.state);
    await ds.verifyCommit(current, add.commit, next);
    a1.state = add.state;
    current = next;

    const join = await a2.engine.joinExternal(a2.mls, current);
    const joined = await ds.verifyCommit(current, join.commit, await a2.engine.exportGroupInfo(join.state));
    expect(joined.external).toBe(true);
    expect(who(joined.committer)).toBe(name(a2));
    expect(members(joined.next)).toEqual([name(a1), name(a2), name(b1)].sort());
    await deliver([a1], join.commit);
    expect(members(await ds.verifyGroupInfo(await a1.engine.exportGroupInfo(stateOf(a1))))).toEqual(members(joined.next));
  });
});
