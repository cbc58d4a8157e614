/**
 * patches/ts-mls+1.6.4.patch (applied by patch-package at install): ts-mls 1.6.4 crashed at ~10,000 members with
 * "RangeError: Maximum call stack size exceeded" in removeOldHistoricalReceiverData, which collected a dropped
 * epoch's secrets with `toBeDeleted.push(...allSecretTreeValues(tree))` — one call argument per secret-tree value
 * (and allSecretTreeValues returned twice the values it should: `new Array(n)` holes, then push). At 10,000 members
 * the secret tree has 32,767 nodes, so the spread passed ~131,000 arguments. This drives the patched function
 * (through the exported addHistoricalReceiverData) with a secret tree of that size, without building a group.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ClientState, CryptoProvider } from 'ts-mls';
import { defaultKeyPackageEqualityConfig } from 'ts-mls';
import { ProtocolErrorCode } from '../../src/errors.js';
import { membersOfGroup } from '../../src/groups/mls-engine.js';
import { nodeMlsCryptoProvider } from '../../src/groups/node-mls-provider.js';
import { Directory, errorCode, keyPackage, makeAccount, makeDevice } from './fixtures.js';
import { addHistoricalReceiverData } from 'ts-mls/clientState.js';
import { allSecretTreeValues } from 'ts-mls/secretTree.js';
import type { SecretTree } from 'ts-mls/secretTree.js';
import { varLenTypeEncoder } from 'ts-mls/codec/variableLength.js';
import { uint8Encoder } from 'ts-mls/codec/number.js';
import { encode } from 'ts-mls/codec/tlsEncoder.js';

/** The secret tree of a 16,384-leaf tree (the width a 10,000-member group rounds up to). */
function secretTree(nodes: number): SecretTree {
  const node = {
    application: { secret: new Uint8Array(32), generation: 0, unusedGenerations: {} },
    handshake: { secret: new Uint8Array(32), generation: 0, unusedGenerations: {} },
  };
  return new Array(nodes).fill(node) as SecretTree;
}

describe('ts-mls patch: dropping old epochs of a 10,000-member group', () => {
  const tree = secretTree(2 * 16_384 - 1);

  it('collects each secret once (no holes)', () => {
    expect(allSecretTreeValues(tree)).toHaveLength(2 * tree.length);
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
