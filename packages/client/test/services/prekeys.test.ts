/**
 * This device's prekeys (src/keys/prekeys.ts) on the in-memory store, with real key generation: batches and their
 * ids (counters kept in the store, wrapping), what is staged versus stored, the rotation schedule, and the pruning
 * of replaced keys. Time is passed in explicitly (`now`), so no clock is involved.
 */
import { generateIdentityKeyPair, verifyKyberPreKey, verifySignedPreKey } from '@samizdat/protocol';
import type { KyberPreKey, SignedPreKey } from '@samizdat/protocol';
import { NodeCryptoProvider } from '@samizdat/protocol/node';
import { describe, expect, it } from 'vitest';
import { KEEP_REPLACED_MS, ROTATE_AFTER_MS, generatePreKeys, pruneReplaced, rotationDue } from '../../src/keys/prekeys.js';
import { MemoryClientStore } from '../support/memory-store.js';

const T0 = 1_700_000_000_000;
const DAY = 24 * 60 * 60 * 1000;
/** prekeys.ts's id range (private there): ids run 1…MAX_ID and wrap. */
const MAX_ID = 0xffffff;

const crypto = new NodeCryptoProvider();
const identity = await generateIdentityKeyPair(crypto);

async function generated(store: MemoryClientStore, wanted: Parameters<typeof generatePreKeys>[3], now = T0) {
  const { batch, stage } = await generatePreKeys(crypto, store, identity, wanted, now);
  await store.write(stage);
  return batch;
}

describe('generatePreKeys', () => {
  it('makes what is asked for, signed by the identity, and stores nothing until the batch is applied', async () => {
    const store = MemoryClientStore.open();
    const { batch, stage } = await generatePreKeys(crypto, store, identity, { signed: true, lastResort: true, oneTime: 3, kyberOneTime: 2 }, T0);
    expect(batch.oneTimePreKeys.map((k) => k.id)).toEqual([1, 2, 3]);
    expect(batch.signedPreKey?.id).toBe(1);
    expect(batch.kyberLastResortPreKey).toMatchObject({ id: 1, lastResort: true, createdAt: T0 });
    expect(batch.kyberPreKeys.map((k) => [k.id, k.lastResort])).toEqual([
      [2, false],
      [3, false],
    ]);
    const signed = batch.signedPreKey as SignedPreKey;
    expect(await verifySignedPreKey(crypto, identity.publicKey.signingKey, signed.keyPair.publicKey, signed.signature)).toBe(true);
    for (const k of [batch.kyberLastResortPreKey as KyberPreKey, ...batch.kyberPreKeys]) {
      expect(await verifyKyberPreKey(crypto, identity.publicKey.signingKey, k.keyPair.publicKey, k.signature)).toBe(true);
    }
    expect(await store.listSignedPreKeys()).toEqual([]);
    expect(await store.getOneTimePreKey(1)).toBeUndefined();

    await store.write(stage);
    expect(await store.listSignedPreKeys()).toEqual([signed]);
    expect((await store.listKyberPreKeys()).map((k) => k.id).sort()).toEqual([1, 2, 3]);
    expect(await store.getOneTimePreKey(3)).toEqual(batch.oneTimePreKeys[2]);
  });

  it('continues the ids of the batch before, kind by kind, so that no id is given out twice', async () => {
    const store = MemoryClientStore.open();
    await generated(store, { signed: true, lastResort: true, oneTime: 5, kyberOneTime: 2 });
    const refill = await generated(store, { oneTime: 4, kyberOneTime: 2 });
    expect(refill.oneTimePreKeys.map((k) => k.id)).toEqual([6, 7, 8, 9]);
    expect(refill.kyberPreKeys.map((k) => k.id)).toEqual([4, 5]);
    expect(refill.signedPreKey).toBeUndefined();
    const rotation = await generated(store, { signed: true, lastResort: true });
    expect(rotation.signedPreKey?.id).toBe(2);
    expect(rotation.kyberLastResortPreKey?.id).toBe(6);
    expect(rotation.oneTimePreKeys).toEqual([]);
    expect((await generated(store, { oneTime: 1 })).oneTimePreKeys.map((k) => k.id), 'a batch without one-time keys uses none').toEqual([10]);
  });

  it('a batch that is never applied gives out its ids again (nothing of it was uploaded or stored)', async () => {
    const store = MemoryClientStore.open();
    await generatePreKeys(crypto, store, identity, { oneTime: 3 }, T0);
    expect((await generated(store, { oneTime: 2 })).oneTimePreKeys.map((k) => k.id)).toEqual([1, 2]);
  });

  it('wraps its counters after MAX_ID, back to 1, without repeating an id of the batch before', async () => {
    const store = MemoryClientStore.open();
    await store.write((tx) => {
      tx.putKv('prekeys.nextKyberId', String(MAX_ID - 1));
      tx.putKv('prekeys.nextSignedId', String(MAX_ID));
      tx.putKv('prekeys.nextOneTimeId', String(MAX_ID - 1));
    });
    const batch = await generated(store, { signed: true, lastResort: true, kyberOneTime: 2, oneTime: 3 });
    expect(batch.kyberLastResortPreKey?.id).toBe(MAX_ID - 1);
    expect(batch.kyberPreKeys.map((k) => k.id)).toEqual([MAX_ID, 1]);
    expect(batch.signedPreKey?.id).toBe(MAX_ID);
    const next = await generated(store, { signed: true, kyberOneTime: 1, oneTime: 1 });
    expect(next.signedPreKey?.id).toBe(1);
    expect(next.kyberPreKeys.map((k) => k.id)).toEqual([2]);
    const oneTimeIds = [...batch.oneTimePreKeys, ...next.oneTimePreKeys].map((k) => k.id);
    expect(oneTimeIds).toEqual([MAX_ID - 1, MAX_ID, 1, 2]);
    const third = await generated(store, { oneTime: 1 });
    expect(third.oneTimePreKeys.map((k) => k.id)).toEqual([3]);
  });
});

describe('rotationDue', () => {
  it('is due for both kinds on a store with none, and for neither right after they were made', async () => {
    const store = MemoryClientStore.open();
    expect(await rotationDue(store, T0)).toEqual({ signed: true, lastResort: true });
    await generated(store, { signed: true, lastResort: true, kyberOneTime: 1 });
    expect(await rotationDue(store, T0)).toEqual({ signed: false, lastResort: false });
  });

  it('is due ROTATE_AFTER_MS after the newest key of each kind, each kind on its own; one-time ML-KEM keys do not count', async () => {
    const store = MemoryClientStore.open();
    await generated(store, { signed: true, lastResort: true }, T0);
    await generated(store, { signed: true, kyberOneTime: 2 }, T0 + DAY);
    expect(await rotationDue(store, T0 + ROTATE_AFTER_MS - 1)).toEqual({ signed: false, lastResort: false });
    expect(await rotationDue(store, T0 + ROTATE_AFTER_MS)).toEqual({ signed: false, lastResort: true });
    expect(await rotationDue(store, T0 + DAY + ROTATE_AFTER_MS)).toEqual({ signed: true, lastResort: true });
  });
});

describe('pruneReplaced', () => {
  /** Signed and last-resort keys made at T0, T0 + 2 days and T0 + 4 days (ids 1, 2, 3 of each). */
  async function rotated() {
    const store = MemoryClientStore.open();
    for (const at of [T0, T0 + 2 * DAY, T0 + 4 * DAY]) await generated(store, { signed: true, lastResort: true }, at);
    await generated(store, { kyberOneTime: 1 }, T0);
    return store;
  }
  const ids = (keys: readonly { id: number }[]) => keys.map((k) => k.id).sort((a, b) => a - b);

  it('deletes a replaced key once its replacement is more than KEEP_REPLACED_MS old, and only then', async () => {
    const store = await rotated();
    await store.write(await pruneReplaced(store, T0 + 2 * DAY + KEEP_REPLACED_MS));
    expect(ids(await store.listSignedPreKeys()), 'exactly KEEP_REPLACED_MS: kept').toEqual([1, 2, 3]);
    await store.write(await pruneReplaced(store, T0 + 2 * DAY + KEEP_REPLACED_MS + 1));
    expect(ids(await store.listSignedPreKeys())).toEqual([2, 3]);
    expect(ids((await store.listKyberPreKeys()).filter((k) => k.lastResort))).toEqual([2, 3]);
    expect((await store.listKyberPreKeys()).filter((k) => !k.lastResort), 'one-time ML-KEM keys are not its business').toHaveLength(1);
  });

  it('never deletes the newest key of a kind, however old', async () => {
    const store = await rotated();
    await store.write(await pruneReplaced(store, T0 + 1000 * DAY));
    expect(ids(await store.listSignedPreKeys())).toEqual([3]);
    expect(ids((await store.listKyberPreKeys()).filter((k) => k.lastResort))).toEqual([3]);
  });
});
