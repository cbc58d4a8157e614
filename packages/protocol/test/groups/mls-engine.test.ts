import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolErrorCode } from '../../src/errors.js';
import { paddedLength } from '../../src/wire/padding.js';
import { DEFAULT_GROUP_CIPHER_SUITE, GROUP_ID_LENGTH } from '../../src/groups/engine/types.js';
import { decodeMlsDeviceIdentity, encodeMlsDeviceIdentity } from '../../src/groups/engine/codecs.js';
import { epochOf, groupIdOf, inspectMessage, isActiveMember, membersOfGroup, ownMember } from '../../src/groups/engine/inspect.js';
import type { Account, Device } from './fixtures.js';
import {
  Directory,
  deliver,
  errorCode,
  expectConverged,
  keyPackage,
  makeAccount,
  makeDevice,
  stateOf,
  talk,
} from './fixtures.js';

/** 3 accounts × 2 devices; alice1 creates the group. */
async function world() {
  const directory = new Directory();
  const accounts: Account[] = [];
  for (const name of ['alice', 'bob', 'carol']) accounts.push(await makeAccount(name, directory));
  const devices: Device[] = [];
  for (const account of accounts) {
    for (const id of [1, 2]) devices.push(await makeDevice(account, id, directory));
  }
  const [alice1, alice2, bob1, bob2, carol1, carol2] = devices as [Device, Device, Device, Device, Device, Device];
  return { directory, accounts, devices, alice1, alice2, bob1, bob2, carol1, carol2 };
}

/** `adder` adds `joiners` in one commit; members process it, joiners join from the Welcome. */
async function add(adder: Device, members: readonly Device[], joiners: readonly Device[]): Promise<void> {
  const bundles = await Promise.all(joiners.map((j) => keyPackage(j)));
  const result = await adder.engine.addMembers(
    stateOf(adder),
    bundles.map((b) => b.publicKeyPackage),
  );
  expect(result.welcome).toBeDefined();
  adder.state = result.state;
  await deliver(
    members.filter((m) => m !== adder),
    result.commit,
  );
  for (const [i, joiner] of joiners.entries()) {
    joiner.state = await joiner.engine.joinFromWelcome(bundles[i]!.privateKeyPackage, result.welcome!);
  }
}

describe('MLS groups through MlsEngine (X-Wing + Ed25519, node provider)', () => {
  it('uses the hybrid post-quantum suite by default and a 32-byte random group id', async () => {
    const { alice1 } = await world();
    expect(alice1.engine.cipherSuite).toBe(DEFAULT_GROUP_CIPHER_SUITE);
    const state = await alice1.engine.createGroup(alice1.mls);
    expect(groupIdOf(state)).toHaveLength(GROUP_ID_LENGTH);
    expect(epochOf(state)).toBe(0n);
    expect(membersOfGroup(state).map((m) => [m.accountId, m.deviceId])).toEqual([[alice1.account.accountId, 1]]);
    expect(ownMember(state).deviceId).toBe(1);
  });

  it('3 accounts × 2 devices: create, talk, add, remove; removed and new members see only their epochs', async () => {
    const { alice1, alice2, bob1, bob2, carol1, carol2 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [alice2, bob1, bob2]);
    let members = [alice1, alice2, bob1, bob2];
    expectConverged(members);
    for (const sender of members) await talk(sender, members, `hello from ${sender.name}`);

    // Carol's devices arrive later and cannot read what was said before.
    const before = await talk(bob1, members, 'before carol');
    await add(bob2, members, [carol1, carol2]);
    members = [...members, carol1, carol2];
    expectConverged(members);
    expect(membersOfGroup(stateOf(carol1))).toHaveLength(6);
    expect(await errorCode(carol1.engine.processMessage(stateOf(carol1), before))).toBe(ProtocolErrorCode.WrongEpoch);
    for (const sender of members) await talk(sender, members, `six-way ${sender.name}`);

    // bob2 is removed (by account + device id) and cannot read anything sent afterwards.
    const removal = await carol1.engine.removeMembers(stateOf(carol1), [{ accountId: bob2.account.accountId, deviceId: 2 }]);
    carol1.state = removal.state;
    const bob2Before = stateOf(bob2);
    const seen = await bob2.engine.processMessage(bob2Before, removal.commit);
    expect(seen.kind === 'commit' && seen.removedSelf).toBe(true);
    expect(isActiveMember(seen.state)).toBe(false);
    members = members.filter((d) => d !== bob2);
    for (const d of members.filter((m) => m !== carol1)) {
      const result = await d.engine.processMessage(stateOf(d), removal.commit);
      expect(result.kind).toBe('commit');
      if (result.kind === 'commit') {
        expect(result.removed.map((m) => [m.accountId, m.deviceId])).toEqual([[bob2.account.accountId, 2]]);
      }
      d.state = result.state;
    }
    expectConverged(members);
    const after = await talk(alice2, members, 'bob2 is gone');
    expect(await errorCode(bob2.engine.processMessage(seen.state, after))).toBe(ProtocolErrorCode.WrongEpoch);
    expect(await errorCode(bob2.engine.processMessage(bob2Before, after))).toBe(ProtocolErrorCode.WrongEpoch);
  });

  it('derives one group send key per epoch on every member (RFC 9420 §8.5 exporter); a removed member keeps only the old one', async () => {
    const { alice1, bob1, carol1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    const keyOf = (d: Device, state = stateOf(d)) => d.engine.groupSendKey(state);
    const epoch0 = await keyOf(alice1);
    expect(epoch0).toHaveLength(32);
    expect(await keyOf(alice1)).toEqual(epoch0);
    await add(alice1, [alice1], [bob1, carol1]);
    const members = [alice1, bob1, carol1];
    const epoch1 = await keyOf(alice1);
    expect(epoch1).not.toEqual(epoch0);
    for (const d of members) expect(await keyOf(d)).toEqual(epoch1);
    // Sending does not change it (same epoch).
    await talk(bob1, members, 'same epoch');
    for (const d of members) expect(await keyOf(d)).toEqual(epoch1);
    const removal = await alice1.engine.removeMembers(stateOf(alice1), [{ accountId: carol1.account.accountId, deviceId: 1 }]);
    alice1.state = removal.state;
    await deliver([bob1, carol1], removal.commit);
    const epoch2 = await keyOf(alice1);
    expect(await keyOf(bob1)).toEqual(epoch2);
    expect([epoch0, epoch1]).not.toContainEqual(epoch2);
    // Carol processed her own removal: what her state still derives is the old epoch's key, never the new one.
    expect(isActiveMember(stateOf(carol1))).toBe(false);
    expect(await keyOf(carol1)).not.toEqual(epoch2);
  });

  it('two commits in one epoch: the DS takes one, the loser rebases, everyone converges', async () => {
    const { alice1, alice2, bob1, bob2, carol1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [alice2, bob1, bob2]);
    const members = [alice1, alice2, bob1, bob2];
    const epoch = epochOf(stateOf(alice1));

    // Both commit against the same epoch.
    const aliceCommit = await alice1.engine.update(stateOf(alice1));
    const carolPackage = await keyPackage(carol1);
    const bobCommit = await bob1.engine.addMembers(stateOf(bob1), [carolPackage.publicKeyPackage]);
    expect(inspectMessage(aliceCommit.commit)).toMatchObject({ kind: 'commit', epoch });
    expect(inspectMessage(bobCommit.commit)).toMatchObject({ kind: 'commit', epoch });

    // The DS orders alice's first. Everyone but alice applies it; bob drops his pending commit (keeps his old state).
    alice1.state = aliceCommit.state;
    await deliver([alice2, bob1, bob2], aliceCommit.commit);
    // bob's commit is now stale for every member: a typed error, never a silent fork.
    for (const d of members) {
      expect(await errorCode(d.engine.processMessage(stateOf(d), bobCommit.commit))).toBe(ProtocolErrorCode.WrongEpoch);
    }
    // bob retries on the new epoch.
    const retry = await bob1.engine.addMembers(stateOf(bob1), [carolPackage.publicKeyPackage]);
    bob1.state = retry.state;
    await deliver([alice1, alice2, bob2], retry.commit);
    carol1.state = await carol1.engine.joinFromWelcome(carolPackage.privateKeyPackage, retry.welcome!);
    const all = [...members, carol1];
    expectConverged(all);
    expect(epochOf(stateOf(carol1))).toBe(epoch + 2n);
    for (const sender of all) await talk(sender, all, `after the race ${sender.name}`);
  });

  it('a member offline for several epochs catches up in order (and refuses to skip ahead)', async () => {
    const { alice1, alice2, bob1, bob2, carol1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [alice2, bob1, bob2]);
    const online = [alice1, alice2, bob1];
    const queue: Uint8Array[] = []; // bob2's queue at the DS, in order

    for (const committer of [alice1, bob1, alice2]) {
      const { state, commit } = await committer.engine.update(stateOf(committer));
      committer.state = state;
      await deliver(
        online.filter((d) => d !== committer),
        commit,
      );
      queue.push(commit);
      queue.push(await talk(committer, online, `epoch message from ${committer.name}`));
    }
    const carolPackage = await keyPackage(carol1);
    const addCarol = await bob1.engine.addMembers(stateOf(bob1), [carolPackage.publicKeyPackage]);
    bob1.state = addCarol.state;
    await deliver([alice1, alice2], addCarol.commit);
    queue.push(addCarol.commit);
    carol1.state = await carol1.engine.joinFromWelcome(carolPackage.privateKeyPackage, addCarol.welcome!);

    // Skipping ahead is refused with a typed error and leaves the state usable.
    expect(await errorCode(bob2.engine.processMessage(stateOf(bob2), queue[2]!))).toBe(ProtocolErrorCode.WrongEpoch);
    const texts: string[] = [];
    for (const message of queue) {
      const result = await bob2.engine.processMessage(stateOf(bob2), message);
      if (result.kind === 'application') texts.push(new TextDecoder().decode(result.plaintext));
      bob2.state = result.state;
    }
    expect(texts).toEqual(['epoch message from alice1', 'epoch message from bob1', 'epoch message from alice2']);
    const all = [...online, bob2, carol1];
    expectConverged(all);
    await talk(bob2, all, 'back online');
  });

  it('a member leaves by proposing its own removal; the next commit applies it', async () => {
    const { alice1, alice2, bob1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [alice2, bob1]);
    const { state, proposal } = await bob1.engine.leave(stateOf(bob1));
    bob1.state = state;
    expect(inspectMessage(proposal)).toMatchObject({ kind: 'proposal' });
    for (const d of [alice1, alice2]) {
      const result = await d.engine.processMessage(stateOf(d), proposal);
      expect(result.kind).toBe('proposal');
      if (result.kind === 'proposal') {
        expect(result.proposal.type).toBe('remove');
        expect(result.sender?.accountId).toBe(bob1.account.accountId);
      }
      d.state = result.state;
    }
    const commit = await alice2.engine.update(stateOf(alice2));
    alice2.state = commit.state;
    await deliver([alice1], commit.commit);
    const seen = await bob1.engine.processMessage(stateOf(bob1), commit.commit);
    expect(seen.kind === 'commit' && seen.removedSelf).toBe(true);
    expect(membersOfGroup(stateOf(alice1)).map((m) => m.accountId)).not.toContain(bob1.account.accountId);
    expectConverged([alice1, alice2]);
  });

  it('names who committed, who left and who was removed from the authenticated proposals, not from any claim', async () => {
    const { alice1, alice2, bob1, bob2, carol1, carol2 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [alice2, bob1, bob2, carol1, carol2]);
    const everyone = [alice1, alice2, bob1, bob2, carol1, carol2];
    // Bob leaves with both devices: bob1 proposes its own removal and bob2's.
    const own = await bob1.engine.leave(stateOf(bob1));
    const other = await bob1.engine.proposeRemoval(own.state, { accountId: bob2.account.accountId, deviceId: 2 });
    bob1.state = other.state;
    for (const proposal of [own.proposal, ...other.proposals]) await deliver(everyone.filter((d) => d !== bob1), proposal);
    // Carol's devices are removed by alice2 (inline proposals) in the same commit that applies bob's leave.
    const commit = await alice2.engine.removeMembers(stateOf(alice2), [
      { accountId: carol1.account.accountId, deviceId: 1 },
      { accountId: carol2.account.accountId, deviceId: 2 },
    ]);
    alice2.state = commit.state;
    const seen = await alice1.engine.processMessage(stateOf(alice1), commit.commit);
    expect(seen.kind).toBe('commit');
    if (seen.kind !== 'commit') return;
    const addr = (ms: readonly { accountId: string; deviceId: number }[]) => ms.map((m) => `${m.accountId.slice(0, 4)}.${m.deviceId}`).sort();
    expect(addr([seen.committer])).toEqual(addr([alice2.mls]));
    expect(addr(seen.removed)).toEqual(addr([bob1.mls, bob2.mls, carol1.mls, carol2.mls]));
    expect(addr(seen.left)).toEqual(addr([bob1.mls, bob2.mls]));
    // The committer's own result says the same.
    expect(addr(commit.left)).toEqual(addr([bob1.mls, bob2.mls]));
    expect(await errorCode(bob1.engine.proposeRemoval(stateOf(bob1), { accountId: bob1.account.accountId, deviceId: 9 }))).toBe(
      ProtocolErrorCode.InvalidArgument,
    );
  });

  it('a Welcome names the member that added us (the GroupInfo signer), and an external commit its joiner', async () => {
    const { directory, accounts, alice1, bob1, carol1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1]);
    const carolPackage = await keyPackage(carol1);
    const result = await bob1.engine.addMembers(stateOf(bob1), [carolPackage.publicKeyPackage]);
    bob1.state = result.state;
    const joined = await carol1.engine.joinFromWelcomeWithInviter(carolPackage.privateKeyPackage, result.welcome!);
    expect([joined.inviter.accountId, joined.inviter.deviceId]).toEqual([bob1.account.accountId, 1]);
    expect(membersOfGroup(joined.state)).toHaveLength(3);
    const alice3 = await makeDevice(accounts[0]!, 3, directory);
    const external = await alice3.engine.joinExternal(alice3.mls, await bob1.engine.exportGroupInfo(stateOf(bob1)));
    const seen = await bob1.engine.processMessage(stateOf(bob1), external.commit);
    expect(seen.kind === 'commit' && [seen.committer.accountId, seen.committer.deviceId]).toEqual([alice3.account.accountId, 3]);
    expect(seen.kind === 'commit' && seen.left).toEqual([]);
  });

  it("pads application messages with 1:1's Padmé buckets: bodies of one bucket are the same length on the wire", async () => {
    const { alice1, bob1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1]);
    const lengthOf = async (n: number) => (await talk(alice1, [bob1], 'x'.repeat(n))).length; // bob1 reads exactly the text
    // ts-mls alone pads only up to 256 bytes, so above that every byte of the body showed (608 vs 618 bytes for 300
    // and 310). Padmé: 290..303 bytes (+ marker) share the 304-byte bucket; 310 is in the next one (320).
    const inBucket = [await lengthOf(290), await lengthOf(296), await lengthOf(303)];
    expect(new Set(inBucket).size).toBe(1);
    expect((await lengthOf(310)) - inBucket[0]!).toBe(paddedLength(310) - paddedLength(300));
    expect((await lengthOf(2000)) - inBucket[0]!).toBe(paddedLength(2000) - paddedLength(300));
    expect(await lengthOf(0)).toBe(await lengthOf(100));
  });

  it('a new device of a member account joins by external commit from the GroupInfo', async () => {
    const { directory, accounts, alice1, bob1, bob2 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1, bob2]);
    const groupInfo = await bob1.engine.exportGroupInfo(stateOf(bob1));
    expect(inspectMessage(groupInfo)).toMatchObject({ kind: 'group-info', epoch: epochOf(stateOf(bob1)) });
    const alice3 = await makeDevice(accounts[0]!, 3, directory);
    const { state, commit } = await alice3.engine.joinExternal(alice3.mls, groupInfo);
    alice3.state = state;
    for (const d of [alice1, bob1, bob2]) {
      const result = await d.engine.processMessage(stateOf(d), commit);
      expect(result.kind === 'commit' && result.added.map((m) => m.deviceId)).toEqual([3]);
      d.state = result.state;
    }
    const all = [alice1, bob1, bob2, alice3];
    expectConverged(all);
    for (const sender of all) await talk(sender, all, `with alice3 ${sender.name}`);
  });

  it('refuses an external join by a device of an account that is not in the group', async () => {
    const { alice1, bob1, carol1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1]);
    const groupInfo = await alice1.engine.exportGroupInfo(stateOf(alice1));
    const { commit } = await carol1.engine.joinExternal(carol1.mls, groupInfo);
    for (const d of [alice1, bob1]) {
      expect(await errorCode(d.engine.processMessage(stateOf(d), commit))).toBe(ProtocolErrorCode.UntrustedIdentity);
    }
  });

  it('encodes and decodes states and device identities, and keeps going', async () => {
    const { alice1, bob1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1]);
    await talk(alice1, [alice1, bob1], 'before storage');
    for (const d of [alice1, bob1]) d.state = d.engine.decodeGroupState(d.engine.encodeGroupState(stateOf(d)));
    const restored = decodeMlsDeviceIdentity(encodeMlsDeviceIdentity(bob1.mls));
    expect(restored).toEqual(bob1.mls);
    await talk(bob1, [alice1, bob1], 'after storage');
    const update = await bob1.engine.update(stateOf(bob1));
    bob1.state = update.state;
    await deliver([alice1], update.commit);
    expectConverged([alice1, bob1]);
    expect(await errorCode(Promise.resolve().then(() => alice1.engine.decodeGroupState(new Uint8Array([1, 2, 3]))))).toBe(
      ProtocolErrorCode.Decode,
    );
  });

  it('a failed message leaves the state usable (tampered ciphertext)', async () => {
    const { alice1, bob1 } = await world();
    alice1.state = await alice1.engine.createGroup(alice1.mls);
    await add(alice1, [alice1], [bob1]);
    const { state, message } = await alice1.engine.encrypt(stateOf(alice1), new TextEncoder().encode('hi'));
    alice1.state = state;
    const tampered = message.slice();
    tampered[tampered.length - 3]! ^= 1;
    const code = await errorCode(bob1.engine.processMessage(stateOf(bob1), tampered));
    expect([ProtocolErrorCode.BadMac, ProtocolErrorCode.InvalidMessage, ProtocolErrorCode.Decode]).toContain(code);
    const result = await bob1.engine.processMessage(stateOf(bob1), message);
    expect(result.kind === 'application' && new TextDecoder().decode(result.plaintext)).toBe('hi');
  });
});

describe('a 200-device group', () => {
  let devices: Device[];
  beforeAll(async () => {
    const directory = new Directory();
    devices = [];
    for (let a = 0; a < 20; a++) {
      const account = await makeAccount(`acct${a}`, directory);
      for (let d = 1; d <= 10; d++) devices.push(await makeDevice(account, d, directory));
    }
  }, 120_000);

  it('is created by one batch add and processes an add within CI time', async () => {
    const [creator, second, ...rest] = devices as [Device, Device, ...Device[]];
    const started = performance.now();
    creator.state = await creator.engine.createGroup(creator.mls);
    const bundles = await Promise.all([second, ...rest].map((d) => keyPackage(d)));
    const batch = await creator.engine.addMembers(
      stateOf(creator),
      bundles.slice(0, -1).map((b) => b.publicKeyPackage),
    );
    creator.state = batch.state;
    second.state = await second.engine.joinFromWelcome(bundles[0]!.privateKeyPackage, batch.welcome!);
    expect(membersOfGroup(stateOf(second))).toHaveLength(199);

    const last = devices[199]!;
    const addOne = await second.engine.addMembers(stateOf(second), [bundles[198]!.publicKeyPackage]);
    second.state = addOne.state;
    const processed = await creator.engine.processMessage(stateOf(creator), addOne.commit);
    creator.state = processed.state;
    last.state = await last.engine.joinFromWelcome(bundles[198]!.privateKeyPackage, addOne.welcome!);
    expect(membersOfGroup(stateOf(creator))).toHaveLength(200);
    expectConverged([creator, second, last]);
    await talk(last, [creator, second, last], 'member 200');
    expect(performance.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
