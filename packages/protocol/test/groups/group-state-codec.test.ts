/**
 * Stored group states (src/groups/group-state-codec.ts): version 2 writes the ratchet tree once (past epochs as the
 * nodes that differ), reuses a tree's encoding, and decodes a tree once per engine. Checked: the decoded state keeps
 * working — late messages of past epochs, the next commits — with a warm and with a cold engine; re-encoding is
 * byte-identical; the old encodings still decode; bad bytes give DECODE_ERROR / UNKNOWN_VERSION and nothing else.
 * Version 3 adds the zero-keyed-epoch flag (docs/protocol.md "Secret trees derived from zeros"): set on version 1 and
 * 2 states past epoch 0, kept within an epoch and through storage, gone with the next epoch.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeGroupState as mlsEncodeGroupState } from 'ts-mls';
import type { ClientState } from 'ts-mls';
import { ProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import type { GroupState } from '../../src/groups/engine/types.js';
import { GROUP_STATE_V3, encodeGroupStateV2 } from '../../src/groups/group-state-codec.js';
import { epochOf, inspectMessage, needsRekey } from '../../src/groups/engine/inspect.js';
import { MlsEngine } from '../../src/groups/mls-engine.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import type { Device } from './fixtures.js';
import { Directory, crypto, deliver, errorCode, expectConverged, keyPackage, makeAccount, makeDevice, stateOf, talk } from './fixtures.js';

function clientState(state: GroupState): ClientState {
  return state as unknown as ClientState;
}

/** The version 1 encoding: a version byte, then ts-mls's own. */
function encodeV1(state: GroupState): Uint8Array {
  const encoded = mlsEncodeGroupState(clientState(state));
  const out = new Uint8Array(1 + encoded.length);
  out[0] = 1;
  out.set(encoded, 1);
  return out;
}

/** What a client upgraded from a build with the broken patch holds: its state as that build stored it (version 2). */
function upgraded(device: Device): GroupState {
  return device.engine.decodeGroupState(encodeGroupStateV2(clientState(stateOf(device))));
}

/** A group of `size` one-device accounts that has gone through several epochs; returns messages held back. */
async function busyGroup(size: number) {
  const directory = new Directory();
  const devices: Device[] = [];
  for (let i = 0; i < size; i++) devices.push(await makeDevice(await makeAccount(`m${i}`, directory), 1, directory));
  const [alice, bob, ...others] = devices as [Device, Device, ...Device[]];
  alice.state = await alice.engine.createGroup(alice.mls);
  const bundles = await Promise.all([bob, ...others].map((d) => keyPackage(d)));
  const added = await alice.engine.addMembers(stateOf(alice), bundles.map((b) => b.publicKeyPackage));
  alice.state = added.state;
  for (const [i, d] of [bob, ...others].entries()) d.state = await d.engine.joinFromWelcome(bundles[i]!.privateKeyPackage, added.welcome!);
  // Three more epochs; in each, alice sends a message bob reads only at the end (kept for past epochs).
  const late: Uint8Array[] = [];
  for (const committer of [alice, others[0]!, alice]) {
    const sent = await alice.engine.encrypt(stateOf(alice), new TextEncoder().encode(`late ${late.length}`));
    alice.state = sent.state;
    late.push(sent.message);
    const update = await committer.engine.update(stateOf(committer));
    committer.state = update.state;
    await deliver(devices.filter((d) => d !== committer), update.commit);
  }
  return { devices, alice, bob, late };
}

describe('group state storage', () => {
  it('stores the tree once, round-trips byte for byte, and keeps working warm or cold', async () => {
    const { devices, alice, bob, late } = await busyGroup(24);
    const state = stateOf(bob);
    expect(clientState(state).historicalReceiverData.size).toBe(3);

    const bytes = bob.engine.encodeGroupState(state);
    const v1 = encodeV1(state);
    // Four trees in version 1 (the current one and three past epochs'); here one, and the nodes the three commits
    // changed (each a leaf and its path, 1.2 KB X-Wing keys: a large share of a tree this small).
    expect(bytes.length).toBeLessThan(v1.length * 0.5);

    const warm = bob.engine.decodeGroupState(bytes);
    const cold = new MlsEngine({ crypto, isTrustedIdentity: () => true, mlsCryptoProvider: nodeMlsCryptoProvider });
    const fromCold = cold.decodeGroupState(bytes);
    expect(bob.engine.encodeGroupState(warm)).toStrictEqual(bytes);
    expect(cold.encodeGroupState(fromCold)).toStrictEqual(bytes);
    expect(clientState(fromCold).ratchetTree).toEqual(clientState(state).ratchetTree);
    expect(clientState(fromCold).ratchetTree).not.toBe(clientState(warm).ratchetTree);
    for (const [epoch, data] of clientState(state).historicalReceiverData) {
      expect(clientState(fromCold).historicalReceiverData.get(epoch)).toEqual(data);
    }

    for (const restored of [warm, fromCold]) {
      // The late messages of past epochs decrypt from the restored state.
      let s = restored;
      for (const [i, message] of late.entries()) {
        const result = await bob.engine.processMessage(s, message);
        expect(result.kind).toBe('application');
        if (result.kind === 'application') expect(new TextDecoder().decode(result.plaintext)).toBe(`late ${i}`);
        s = result.state;
      }
    }
    // And the group goes on from the restored state.
    bob.state = warm;
    await talk(bob, devices, 'after storage');
    const update = await bob.engine.update(stateOf(bob));
    bob.state = update.state;
    await deliver(devices.filter((d) => d !== bob), update.commit);
    expectConverged(devices);
    expect(epochOf(stateOf(alice))).toBe(5n);
  });

  it('still reads the version 1 encoding', async () => {
    const { devices, bob, late } = await busyGroup(4);
    bob.state = bob.engine.decodeGroupState(encodeV1(stateOf(bob)));
    const result = await bob.engine.processMessage(stateOf(bob), late[0]!);
    expect(result.kind).toBe('application');
    bob.state = result.state;
    await talk(bob, devices, 'after a version 1 state');
  });

  it('answers bad bytes with DECODE_ERROR or UNKNOWN_VERSION, never anything else', async () => {
    const { bob } = await busyGroup(3);
    const bytes = bob.engine.encodeGroupState(stateOf(bob));
    const decode = (b: Uint8Array) => Promise.resolve().then(() => bob.engine.decodeGroupState(b));
    expect(await errorCode(decode(new Uint8Array()))).toBe(ProtocolErrorCode.UnknownVersion);
    expect(await errorCode(decode(Uint8Array.of(9, ...bytes.subarray(1))))).toBe(ProtocolErrorCode.UnknownVersion);
    for (const cut of [1, 2, 10, 100, bytes.length >> 1, bytes.length - 1]) {
      expect(await errorCode(decode(bytes.subarray(0, cut)))).toBe(ProtocolErrorCode.Decode);
    }
    expect(await errorCode(decode(Uint8Array.of(...bytes, 0)))).toBe(ProtocolErrorCode.Decode);
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
        const bad = bytes.slice();
        bad[at]! ^= flip;
        try {
          bob.engine.decodeGroupState(bad);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('secret trees derived from zeros: the version 3 flag', () => {
  it('takes a version 1 or 2 state past epoch 0 as zero-keyed, and one at epoch 0 or written as version 3 as sound', async () => {
    const directory = new Directory();
    const solo = await makeDevice(await makeAccount('solo', directory), 1, directory);
    solo.state = await solo.engine.createGroup(solo.mls);
    // A created group's epoch 0 was keyed soundly by every build.
    expect(needsRekey(stateOf(solo))).toBe(false);
    expect(needsRekey(upgraded(solo))).toBe(false);
    expect(needsRekey(solo.engine.decodeGroupState(encodeV1(stateOf(solo))))).toBe(false);

    const { bob } = await busyGroup(3);
    expect(epochOf(stateOf(bob))).toBe(4n);
    expect(needsRekey(stateOf(bob))).toBe(false); // made by this build
    const bytes = bob.engine.encodeGroupState(stateOf(bob));
    expect([bytes[0], bytes[1]]).toEqual([GROUP_STATE_V3, 0]);
    expect(needsRekey(bob.engine.decodeGroupState(bytes))).toBe(false);
    expect(needsRekey(upgraded(bob))).toBe(true);
    expect(needsRekey(bob.engine.decodeGroupState(encodeV1(stateOf(bob))))).toBe(true);
  });

  it('keeps the flag within the epoch and through storage, and drops it with the next epoch, ours or another member’s', async () => {
    const { devices, alice, bob } = await busyGroup(3);
    const carol = devices[2]!;
    for (const d of devices) d.state = upgraded(d);
    expect(devices.map((d) => needsRekey(stateOf(d)))).toEqual([true, true, true]);

    // Stored as version 3 with the flag, read back flagged by a warm and a cold engine.
    const bytes = bob.engine.encodeGroupState(stateOf(bob));
    expect([bytes[0], bytes[1]]).toEqual([GROUP_STATE_V3, 1]);
    expect(needsRekey(bob.engine.decodeGroupState(bytes))).toBe(true);
    const cold = new MlsEngine({ crypto, isTrustedIdentity: () => true, mlsCryptoProvider: nodeMlsCryptoProvider });
    expect(needsRekey(cold.decodeGroupState(bytes))).toBe(true);
    expect(cold.encodeGroupState(cold.decodeGroupState(bytes))).toStrictEqual(bytes);

    // Within the epoch: sending, receiving and a proposal keep it (the secret tree is the same one).
    await talk(alice, devices, 'still in the old epoch');
    expect(devices.map((d) => needsRekey(stateOf(d)))).toEqual([true, true, true]);
    const leaving = await carol.engine.leave(stateOf(carol));
    carol.state = leaving.state;
    await deliver([alice, bob], leaving.proposal);
    expect(devices.map((d) => needsRekey(stateOf(d)))).toEqual([true, true, true]);

    // Bob's commit starts a new epoch: not flagged for him, nor for those who process it. It travels as a
    // PublicMessage, since the zero-derived handshake keys of the old epoch protect nothing.
    const update = await bob.engine.update(stateOf(bob));
    expect(inspectMessage(update.commit)).toMatchObject({ kind: 'commit', encrypted: false });
    bob.state = update.state;
    expect(needsRekey(stateOf(bob))).toBe(false);
    const seen = await alice.engine.processMessage(stateOf(alice), update.commit);
    alice.state = seen.state;
    expect(needsRekey(stateOf(alice))).toBe(false);
    // Carol, removed, never learns the new epoch: her state stays in the old one, flag and all, and cannot send.
    const removed = await carol.engine.processMessage(stateOf(carol), update.commit);
    expect(removed.kind === 'commit' && removed.removedSelf).toBe(true);
    expect([epochOf(removed.state), needsRekey(removed.state)]).toEqual([epochOf(stateOf(carol)), true]);
    expect(bob.engine.encodeGroupState(stateOf(bob))[1]).toBe(0);

    // The group talks on in the new epoch; commits stay PublicMessages, for the Delivery Service to verify.
    await talk(bob, [alice, bob], 'in the new epoch');
    await talk(alice, [alice, bob], 'and back');
    const next = await alice.engine.update(stateOf(alice));
    expect(inspectMessage(next.commit)).toMatchObject({ kind: 'commit', encrypted: false });
    expect([needsRekey(stateOf(alice)), needsRekey(stateOf(bob))]).toEqual([false, false]);
  });

  it('answers a flags byte with undefined bits with DECODE_ERROR', async () => {
    const { bob } = await busyGroup(3);
    const bytes = bob.engine.encodeGroupState(upgraded(bob));
    const decode = (b: Uint8Array) => Promise.resolve().then(() => bob.engine.decodeGroupState(b));
    for (const flags of [0x02, 0x80, 0x81, 0xff]) {
      const bad = bytes.slice();
      bad[1] = flags;
      expect(await errorCode(decode(bad))).toBe(ProtocolErrorCode.Decode);
    }
  });
});
