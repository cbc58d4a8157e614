/**
 * patches/ts-mls+1.6.4.patch (applied by patch-package at install): ts-mls 1.6.4 crashed at ~10,000 members with
 * "RangeError: Maximum call stack size exceeded" in removeOldHistoricalReceiverData, which collected a dropped
 * epoch's secrets with `toBeDeleted.push(...allSecretTreeValues(tree))` — one call argument per secret-tree value
 * (and allSecretTreeValues returned twice the values it should: `new Array(n)` holes, then push). At 10,000 members
 * the secret tree has 32,767 nodes, so the spread passed ~131,000 arguments. This drives the patched function
 * (through the exported addHistoricalReceiverData) with a secret tree of that size, without building a group.
 */
import { describe, expect, it } from 'vitest';
import type { ClientState } from 'ts-mls';
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
