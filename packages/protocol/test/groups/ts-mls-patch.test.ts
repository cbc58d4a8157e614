/**
 * patches/ts-mls+1.6.4.patch (applied by patch-package at install): ts-mls 1.6.4 crashed at ~10,000 members with
 * "RangeError: Maximum call stack size exceeded" in removeOldHistoricalReceiverData, which collected a dropped
 * epoch's secrets with `toBeDeleted.push(...allSecretTreeValues(tree))` — one call argument per secret-tree value
 * (and allSecretTreeValues returned twice the values it should: `new Array(n)` holes, then push). At 10,000 members
 * the secret tree has 32,767 nodes, so the spread passed ~131,000 arguments. This drives the patched function
 * (through the exported addHistoricalReceiverData) with a secret tree of that size, without building a group.
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { CiphersuiteImpl, ClientState, CryptoProvider } from 'ts-mls';
import { defaultKeyPackageEqualityConfig, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import { ProtocolErrorCode } from '../../src/errors.js';
import type { GroupState } from '../../src/groups/engine/types.js';
import { DEFAULT_GROUP_CIPHER_SUITE } from '../../src/groups/engine/types.js';
import { membersOfGroup, treeHashOf } from '../../src/groups/engine/inspect.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import { Directory, errorCode, keyPackage, makeAccount, makeDevice } from './fixtures.js';
import { addHistoricalReceiverData } from 'ts-mls/clientState.js';
import {
  allSecretTreeValues,
  consumeRatchet,
  createSecretTree,
  decodeSecretTree,
  deriveKey,
  ratchetToGeneration,
  secretTreeEncoder,
  secretTreeNodeEncoder,
} from 'ts-mls/secretTree.js';
import type { SecretTree } from 'ts-mls/secretTree.js';
import { treeHash } from 'ts-mls/treeHash.js';
import type { RatchetTree } from 'ts-mls/ratchetTree.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import { leafToNodeIndex, root, toLeafIndex } from 'ts-mls/treemath.js';
import { varLenTypeEncoder } from 'ts-mls/codec/variableLength.js';
import { uint8Encoder } from 'ts-mls/codec/number.js';
import { encode } from 'ts-mls/codec/tlsEncoder.js';

/**
 * The secret tree of a 16,384-leaf tree (the width a 10,000-member group rounds up to) in which every leaf has sent
 * (the lazy tree of §5 then holds every leaf's ratchets and no intermediate secret).
 */
function secretTree(leaves: number): SecretTree {
  const node = {
    application: { secret: new Uint8Array(32), generation: 0, unusedGenerations: {} },
    handshake: { secret: new Uint8Array(32), generation: 0, unusedGenerations: {} },
  };
  const leafNodes: SecretTree['leafNodes'] = {};
  for (let i = 0; i < leaves; i++) leafNodes[2 * i] = node;
  return { leafWidth: leaves, intermediateNodes: {}, leafNodes };
}

describe('ts-mls patch: dropping old epochs of a 10,000-member group', () => {
  const tree = secretTree(16_384);

  it('collects each secret once (no holes)', () => {
    expect(allSecretTreeValues(tree)).toHaveLength(2 * 16_384);
    const partial = { ...tree, intermediateNodes: { 1: new Uint8Array(64), 5: new Uint8Array(64) } };
    expect(allSecretTreeValues(partial)).toHaveLength(2 * 16_384 + 2);
  });

  it('drops the oldest epoch without overflowing the stack', () => {
    const receiverData = (epoch: bigint) => ({
      secretTree: tree,
      ratchetTree: [],
      senderDataSecret: new Uint8Array(32),
      groupContext: { epoch },
      resumptionPsk: new Uint8Array(32),
    });
    const state = {
      groupContext: { epoch: 5n },
      secretTree: tree,
      ratchetTree: [],
      keySchedule: { senderDataSecret: new Uint8Array(32), resumptionPsk: new Uint8Array(32) },
      historicalReceiverData: new Map([1n, 2n, 3n, 4n].map((e) => [e, receiverData(e)])),
      clientConfig: { keyRetentionConfig: { retainKeysForEpochs: 4, retainKeysForGenerations: 10, maximumForwardRatchetSteps: 200 } },
    } as unknown as ClientState;
    const [kept] = addHistoricalReceiverData(state);
    expect([...kept.keys()]).toEqual([2n, 3n, 4n, 5n]);
  });
});

/**
 * Same patch, second bug: the TLS vector encoder (codec/variableLength.js, varLenTypeEncoder) chained one closure
 * per element, so writing a vector of ~10,000 elements (a 10,000-member batch add's proposals, a Welcome's secrets,
 * a ratchet tree) recursed once per element and overflowed the stack.
 */
describe('ts-mls patch: encoding long vectors', () => {
  it('encodes a 100,000-element vector', () => {
    const encoder = varLenTypeEncoder(uint8Encoder);
    const data = Array.from({ length: 100_000 }, (_, i) => i & 0xff);
    const bytes = encode(encoder)(data);
    expect(bytes.length).toBe(100_000 + 4);
    expect(bytes[4 + 99_999]).toBe(99_999 & 0xff);
  });
});

/**
 * Same patch, third change: validateProposals compared every pair of a commit's adds (O(k²)) and every add with every
 * leaf (O(k·n)) through keyPackageEqualityConfig — most of a 10,000-member batch add's time. With the default config
 * (equality = same signature key, what MlsEngine uses) the patched checks use sets of keys. Same answers, and the
 * pairwise comparison is no longer called (the spy counts its calls: ~k² without the patch).
 */
describe('ts-mls patch: duplicate checks of a batch add', () => {
  it('refuses the same device twice or a device already in the group, without comparing every pair', async () => {
    const directory = new Directory();
    const alice = await makeDevice(await makeAccount('alice', directory), 1, directory);
    const others = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => makeDevice(await makeAccount(`m${i}`, directory), 1, directory)),
    );
    const packages = await Promise.all(others.map((d) => keyPackage(d)));
    const compare = vi.spyOn(defaultKeyPackageEqualityConfig, 'compareKeyPackages');
    const toLeaf = vi.spyOn(defaultKeyPackageEqualityConfig, 'compareKeyPackageToLeafNode');
    try {
      const state = await alice.engine.createGroup(alice.mls);
      // Two key packages of one device share its signature key: the same client twice.
      const [second] = await alice.engine.generateKeyPackages(others[0]!.mls, 1);
      const twice = alice.engine.addMembers(state, [...packages.map((p) => p.publicKeyPackage), second!.publicKeyPackage]);
      expect(await errorCode(twice)).toBe(ProtocolErrorCode.InvalidMessage);
      const added = await alice.engine.addMembers(state, packages.map((p) => p.publicKeyPackage));
      expect(membersOfGroup(added.state)).toHaveLength(13);
      const again = alice.engine.addMembers(added.state, [second!.publicKeyPackage]);
      expect(await errorCode(again)).toBe(ProtocolErrorCode.InvalidMessage);
      expect(compare).not.toHaveBeenCalled();
      expect(toLeaf).not.toHaveBeenCalled();
    } finally {
      compare.mockRestore();
      toLeaf.mockRestore();
    }
  });
});

/**
 * Same patch, fourth change: a commit started one HPKE encryption per new member (Welcome) and per resolution node
 * (UpdatePath) all at once (`Promise.all(all.map(...))`); at 10,000 members the default provider's concurrent
 * encryptions held over 24 GB and the process was killed. Now at most 64 are in flight. The provider below counts
 * concurrent `seal` calls (~k without the patch).
 */
describe('ts-mls patch: encryptions of one commit in batches', () => {
  it('keeps at most 64 HPKE encryptions in flight for a batch add and for the path of the next commit', async () => {
    let inFlight = 0;
    let most = 0;
    const counting: CryptoProvider = {
      async getCiphersuiteImpl(cs) {
        const impl = await nodeMlsCryptoProvider.getCiphersuiteImpl(cs);
        return {
          ...impl,
          hpke: {
            ...impl.hpke,
            async seal(...args: Parameters<typeof impl.hpke.seal>) {
              inFlight++;
              most = Math.max(most, inFlight);
              try {
                await new Promise((resolve) => setImmediate(resolve));
                return await impl.hpke.seal(...args);
              } finally {
                inFlight--;
              }
            },
          },
        };
      },
    };
    const directory = new Directory();
    const alice = await makeDevice(await makeAccount('alice', directory), 1, directory, { mlsCryptoProvider: counting });
    const others = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => makeDevice(await makeAccount(`m${i}`, directory), 1, directory)),
    );
    const packages = await Promise.all(others.map((d) => keyPackage(d)));
    const added = await alice.engine.addMembers(await alice.engine.createGroup(alice.mls), packages.map((p) => p.publicKeyPackage));
    expect(membersOfGroup(added.state)).toHaveLength(151);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(64);
    // A remove right after the batch add encrypts the path secret to ~150 leaves (blank parents).
    most = 0;
    const removed = await alice.engine.removeMembers(added.state, [{ accountId: others[0]!.account.accountId, deviceId: 1 }]);
    expect(membersOfGroup(removed.state)).toHaveLength(150);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(64);
  });
});

async function suiteImpl(): Promise<CiphersuiteImpl> {
  return getCiphersuiteImpl(getCiphersuiteFromName(DEFAULT_GROUP_CIPHER_SUITE), nodeMlsCryptoProvider);
}

/**
 * Same patch, fifth change (§5): the secret tree (RFC 9420 §9) was derived whole for every new epoch — about six HKDF
 * expansions per leaf, ~100,000 at 10,000 members, for every commit created or processed — and kept whole. Now it is
 * derived on demand: a leaf's ratchets when it first sends or is received from, from the nearest stored ancestor,
 * deleting each secret it consumes. Without the patch createSecretTree expands ~3 times per node and the tree is an
 * array.
 */
describe('ts-mls patch: the secret tree is derived lazily', () => {
  const width = 16_384;

  async function countingKdf() {
    const impl = await suiteImpl();
    const counter = { expansions: 0 };
    const kdf = {
      ...impl.kdf,
      async expand(prk: Uint8Array, info: Uint8Array, len: number) {
        counter.expansions++;
        return impl.kdf.expand(prk, info, len);
      },
    };
    return { impl: { ...impl, kdf }, counter };
  }

  it('starts an epoch without deriving anything and derives one path when a leaf first sends', async () => {
    const { impl, counter } = await countingKdf();
    const encryptionSecret = impl.rng.randomBytes(impl.kdf.size);
    const tree = await createSecretTree(width, encryptionSecret, impl.kdf);
    expect(counter.expansions).toBe(0);
    expect(tree.intermediateNodes).toEqual({ [root(width)]: encryptionSecret });
    // A copy (§7): ts-mls wipes encryption_secret as soon as the tree is built.
    const rootSecret = tree.intermediateNodes[root(width)]!;
    expect(rootSecret).not.toBe(encryptionSecret);

    const leaf = leafToNodeIndex(toLeafIndex(1234));
    const first = await consumeRatchet(tree, leaf, 'application', impl);
    // 14 levels × 2 children, 2 ratchet roots, then this message's next secret, key and nonce.
    expect(counter.expansions).toBe(14 * 2 + 2 + 3);
    // §9: the consumed secrets are gone; the siblings met on the way (one per level) are kept for other leaves.
    const stored = Object.keys(first.newTree.intermediateNodes).map(Number);
    expect(stored).toHaveLength(14);
    expect(stored).not.toContain(root(width));
    expect(stored).not.toContain(leaf);
    expect(first.consumed).toContain(rootSecret);
    expect(Object.keys(first.newTree.leafNodes)).toEqual([String(leaf)]);
    expect(first.newTree.leafNodes[leaf]!.application.generation).toBe(1);
    // The input tree is untouched (ts-mls states are values).
    expect(tree.intermediateNodes).toEqual({ [root(width)]: encryptionSecret });

    // The neighbour's secret was stored on the way: its ratchets cost two expansions (plus this message's three).
    counter.expansions = 0;
    const neighbour = await consumeRatchet(first.newTree, leaf + 2, 'commit', impl);
    expect(counter.expansions).toBe(2 + 3);
    expect(Object.keys(neighbour.newTree.intermediateNodes)).toHaveLength(13);
  });

  it('gives sender and receiver the same keys, in any order of leaves and generations', async () => {
    const impl = await suiteImpl();
    const secret = impl.rng.randomBytes(impl.kdf.size);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(31), fc.nat(5)), { minLength: 1, maxLength: 12 }), async (sends) => {
        let sender = await createSecretTree(32, secret, impl.kdf);
        let receiver = await createSecretTree(32, secret, impl.kdf);
        for (const [leafIndex, extra] of sends) {
          // The sender skips `extra` generations (messages the receiver never sees).
          let out;
          for (let i = 0; i <= extra; i++) {
            out = await consumeRatchet(sender, leafToNodeIndex(toLeafIndex(leafIndex)), 'application', impl);
            sender = out.newTree;
          }
          const senderData = { leafIndex, generation: out!.generation, reuseGuard: out!.reuseGuard };
          const got = await ratchetToGeneration(receiver, senderData, 'application', defaultKeyRetentionConfig, impl);
          receiver = got.newTree;
          expect(got.key).toStrictEqual(out!.key);
          expect(got.nonce).toStrictEqual(out!.nonce);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('encodes and decodes the lazy tree, and still reads the old (whole) encoding', async () => {
    const impl = await suiteImpl();
    const tree = await createSecretTree(8, impl.rng.randomBytes(impl.kdf.size), impl.kdf);
    const used = (await consumeRatchet(tree, 6, 'application', impl)).newTree;
    const bytes = encode(secretTreeEncoder)(used);
    expect(bytes[0]).toBe(0xff);
    const decoded = decodeSecretTree(bytes, 0);
    expect(decoded).toEqual([used, bytes.length]);

    // The 1.6.4 encoding: one node (handshake + application ratchets) per node of the tree, leaves at even indices.
    const node = (i: number) => ({
      handshake: { secret: new Uint8Array(64).fill(i), generation: i, unusedGenerations: {} },
      application: { secret: new Uint8Array(64).fill(100 + i), generation: 0, unusedGenerations: { 3: new Uint8Array(64) } },
    });
    const old = Array.from({ length: 15 }, (_, i) => node(i));
    const oldBytes = encode(varLenTypeEncoder(secretTreeNodeEncoder))(old);
    const [converted, length] = decodeSecretTree(oldBytes, 0)!;
    expect(length).toBe(oldBytes.length);
    expect(converted.leafWidth).toBe(8);
    expect(converted.intermediateNodes).toEqual({});
    expect(Object.keys(converted.leafNodes).map(Number)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(converted.leafNodes[4]).toEqual(old[4]);
    // A converted tree keeps ratcheting from where the old one was.
    const next = await consumeRatchet(converted, 4, 'application', impl);
    expect(next.key).toStrictEqual(await deriveKey(old[4]!.application.secret, 0, impl));
  });

  it('refuses an index outside the tree or on a parent', async () => {
    const impl = await suiteImpl();
    const tree = await createSecretTree(8, impl.rng.randomBytes(impl.kdf.size), impl.kdf);
    for (const bad of [15, 16, 3, -2]) {
      await expect(consumeRatchet(tree, bad, 'application', impl)).rejects.toThrow('Bad node index');
    }
  });
});

/**
 * Same patch, sixth change (§6): ts-mls hashed the whole ratchet tree (RFC 9420 §7.8) for every commit it created or
 * processed. Now subtree hashes are remembered by node identity, so only the nodes a commit changed (and their
 * ancestors) are hashed again. Checked against hashing from scratch (a hash object with an empty memo).
 */
describe('ts-mls patch: tree hashes are remembered', () => {
  function ratchetTreeOf(state: GroupState): RatchetTree {
    return (state as unknown as ClientState).ratchetTree;
  }

  function countingHash(impl: CiphersuiteImpl) {
    const counter = { digests: 0 };
    const hash = {
      ...impl.hash,
      async digest(data: Uint8Array) {
        counter.digests++;
        return impl.hash.digest(data);
      },
    };
    return { hash, counter };
  }

  async function group(members: number) {
    const directory = new Directory();
    const alice = await makeDevice(await makeAccount('alice', directory), 1, directory);
    const others = await Promise.all(
      Array.from({ length: members - 1 }, async (_, i) => makeDevice(await makeAccount(`m${i}`, directory), 1, directory)),
    );
    const packages = await Promise.all(others.map((d) => keyPackage(d)));
    const added = await alice.engine.addMembers(await alice.engine.createGroup(alice.mls), packages.map((p) => p.publicKeyPackage));
    return { alice, others, packages, state: added.state, welcome: added.welcome! };
  }

  it('hashes again only what changed, with the same result as hashing from scratch', async () => {
    const impl = await suiteImpl();
    const { state } = await group(40);
    const tree = ratchetTreeOf(state);
    const top = root((tree.length + 1) / 2);
    const { hash, counter } = countingHash(impl);

    const cold = await treeHash(tree, top, hash);
    expect(cold).toStrictEqual(treeHashOf(state));
    expect(counter.digests).toBe(tree.length); // 127 nodes for 40 members (64 leaves wide)
    counter.digests = 0;
    expect(await treeHash(tree, top, hash)).toStrictEqual(cold);
    expect(counter.digests).toBe(0);

    // One leaf replaced by an equal copy (a new object): that leaf and its 6 ancestors are hashed again.
    const changed = tree.slice();
    const leafNode = changed[10];
    if (leafNode?.nodeType !== 'leaf') throw new Error('leaf 5 is not a member');
    changed[10] = { nodeType: 'leaf', leaf: { ...leafNode.leaf } };
    counter.digests = 0;
    expect(await treeHash(changed, top, hash)).toStrictEqual(cold);
    expect(counter.digests).toBe(7);
  });

  it('agrees with hashing from scratch for any edit of the tree', async () => {
    const impl = await suiteImpl();
    const { state } = await group(12);
    const base = ratchetTreeOf(state);
    const top = root((base.length + 1) / 2);
    const leaves = base.filter((n, i) => i % 2 === 0 && n !== undefined);
    const parents = base.filter((n, i) => i % 2 === 1 && n !== undefined);
    const memoHash = { ...impl.hash }; // one memo across every run
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(100)), { minLength: 1, maxLength: 8 }),
        async (edits) => {
          const tree = base.slice();
          for (const [index, pick] of edits) {
            const pool = index % 2 === 0 ? leaves : parents;
            tree[index] = pick % 3 === 0 ? undefined : pool[pick % pool.length];
          }
          const remembered = await treeHash(tree, top, memoHash);
          const fresh = await treeHash(tree, top, { ...impl.hash });
          expect(remembered).toStrictEqual(fresh);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps creator and member on the same tree hash as hashing from scratch through commits', async () => {
    const impl = await suiteImpl();
    const { alice, others, packages, state, welcome } = await group(10);
    const bob = others[0]!;
    let stateA = state;
    let stateB = await bob.engine.joinFromWelcome(packages[0]!.privateKeyPackage, welcome);
    const steps = [
      (s: GroupState) => alice.engine.removeMembers(s, [{ accountId: others[1]!.account.accountId, deviceId: 1 }]),
      (s: GroupState) => alice.engine.update(s),
      (s: GroupState) => alice.engine.removeMembers(s, [{ accountId: others[2]!.account.accountId, deviceId: 1 }]),
    ];
    for (const step of steps) {
      const commit = await step(stateA);
      stateA = commit.state;
      stateB = (await bob.engine.processMessage(stateB, commit.commit)).state;
      const tree = ratchetTreeOf(stateA);
      const fresh = await treeHash(tree, root((tree.length + 1) / 2), { ...impl.hash });
      expect(treeHashOf(stateA)).toStrictEqual(fresh);
      expect(treeHashOf(stateB)).toStrictEqual(fresh);
    }
  });
});
