import { createHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import {
  LOG_HASH_LENGTH,
  LogTree,
  MAX_PROOF_ELEMENTS,
  decodeInclusionProof,
  encodeInclusionProof,
  encodeLogEntry,
  evaluateBatchProof,
  fullSubtrees,
  logEntryValue,
  readInclusionProof,
  verifyBatchProof,
} from '../../src/transparency/log-tree.js';
import type { InclusionProof, ProvenLeaf, RetainedSubtrees } from '../../src/transparency/log-tree.js';
import { codeOf } from '../helpers.js';

/** The second SHA-256 implementation every value here is checked against. */
function nodeSha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

function leafValueOf(index: number): Uint8Array {
  return nodeSha256(utf8(`log entry ${index}`));
}

function buildTree(size: number): LogTree {
  const tree = new LogTree();
  for (let i = 0; i < size; i++) tree.appendLeafValue(leafValueOf(i));
  return tree;
}

// ---- A naive reference, written from the draft's text ("Tree Construction" / "Cryptographic Computations") ----

/** Left-balanced split: the left subtree holds the largest power of two strictly below n leaves. */
function leftSize(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** parent.value = Hash(hashContent(left) || hashContent(right)), 0x00 for a leaf and 0x01 for a parent. */
function naiveHead(values: readonly Uint8Array[], start: number, size: number): Uint8Array {
  if (size === 1) return values[start] as Uint8Array;
  const l = leftSize(size);
  const r = size - l;
  return nodeSha256(
    concatBytes(
      Uint8Array.of(l === 1 ? 0 : 1),
      naiveHead(values, start, l),
      Uint8Array.of(r === 1 ? 0 : 1),
      naiveHead(values, start + l, r),
    ),
  );
}

function naiveRoot(values: readonly Uint8Array[]): Uint8Array {
  return naiveHead(values, 0, values.length);
}

const LEAVES = Array.from({ length: 600 }, (_, i) => leafValueOf(i));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const at = bit % (out.length * 8);
  out[at >> 3] = (out[at >> 3] as number) ^ (1 << (at & 7));
  return out;
}

/** A proof request over the shared 600-leaf tree: size n, distinct leaves, an optional retained size m < n. */
interface Case {
  readonly n: number;
  readonly indices: number[];
  readonly m: number | undefined;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: LEAVES.length }),
    picks: fc.array(fc.nat(), { maxLength: 6 }),
    previous: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ n, picks, previous }) => ({
    n,
    indices: [...new Set(picks.map((p) => p % n))],
    m: previous === undefined || n === 1 ? undefined : 1 + (previous % (n - 1)),
  }));

describe('log tree (draft-ietf-keytrans-protocol-06 "Log Tree")', () => {
  let shared: LogTree;
  beforeAll(() => {
    shared = buildTree(LEAVES.length);
  });

  function request(c: Case): {
    proof: InclusionProof;
    leaves: ProvenLeaf[];
    retained: RetainedSubtrees | undefined;
  } {
    const proof = shared.prove(c.indices, c.m === undefined ? { size: c.n } : { size: c.n, previousSize: c.m });
    const leaves = c.indices.map((index) => ({ index, value: LEAVES[index] as Uint8Array }));
    const retained = c.m === undefined ? undefined : { size: c.m, values: shared.fullSubtreeValues(c.m) };
    return { proof, leaves, retained };
  }

  describe('structure', () => {
    it('computes the root of the left-balanced tree for 1 to 20 leaves', () => {
      for (let n = 1; n <= 20; n++) {
        expect(buildTree(n).root()).toEqual(naiveRoot(LEAVES.slice(0, n)));
      }
    });

    it('gives the root of every earlier size, across the cached levels', () => {
      for (let m = 1; m <= LEAVES.length; m++) {
        expect(shared.root(m)).toEqual(naiveRoot(LEAVES.slice(0, m)));
      }
    });

    it('gives for an earlier size the root of a tree built fresh with that many leaves', () => {
      for (const m of [1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 257, 511, 599]) {
        expect(shared.root(m)).toEqual(buildTree(m).root());
      }
    });

    it('keeps the root of a single leaf as the leaf value itself', () => {
      expect(buildTree(1).root()).toEqual(LEAVES[0]);
    });

    it('returns the leaf values it was given, as copies', () => {
      const tree = buildTree(40);
      expect(tree.size).toBe(40);
      expect(tree.leafValue(37)).toEqual(LEAVES[37]);
      tree.leafValue(37).fill(0);
      expect(tree.leafValue(37)).toEqual(LEAVES[37]);
    });

    it('lists the full subtrees as the binary digits of the size, left to right', () => {
      expect(fullSubtrees(0)).toEqual([]);
      expect(fullSubtrees(1)).toEqual([{ start: 0, size: 1 }]);
      expect(fullSubtrees(8)).toEqual([{ start: 0, size: 8 }]);
      expect(fullSubtrees(13)).toEqual([
        { start: 0, size: 8 },
        { start: 8, size: 4 },
        { start: 12, size: 1 },
      ]);
      expect(fullSubtrees(2 ** 40 + 3).map((r) => r.size)).toEqual([2 ** 40, 2, 1]);
    });

    it('gives full-subtree values that are the heads of those subtrees and fold to the root', () => {
      for (let m = 1; m <= 70; m++) {
        const values = shared.fullSubtreeValues(m);
        expect(values).toEqual(fullSubtrees(m).map((r) => naiveHead(LEAVES, r.start, r.size)));
      }
    });
  });

  describe('log entries ("Cryptographic Computations" → "Log Tree")', () => {
    it('hashes a LogEntry of a big-endian uint64 timestamp and the prefix tree root', () => {
      const prefix = nodeSha256(utf8('prefix root'));
      const encoded = encodeLogEntry(0x0102030405060708n, prefix);
      expect(encoded).toEqual(concatBytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), prefix));
      expect(logEntryValue(0x0102030405060708n, prefix)).toEqual(nodeSha256(encoded));
      expect(logEntryValue(1_700_000_000_123, prefix)).toEqual(logEntryValue(1_700_000_000_123n, prefix));
    });

    it('appends a log entry as the hash of its LogEntry', () => {
      const prefix = nodeSha256(utf8('prefix root'));
      const a = new LogTree();
      const b = new LogTree();
      expect(a.append(1234, prefix)).toBe(0);
      b.appendLeafValue(logEntryValue(1234, prefix));
      expect(a.root()).toEqual(b.root());
    });

    it('rejects timestamps outside uint64 and prefix roots of the wrong length', () => {
      const prefix = new Uint8Array(32);
      expect(codeOf(() => encodeLogEntry(-1, prefix))).toBe(ProtocolErrorCode.InvalidArgument);
      expect(codeOf(() => encodeLogEntry(1.5, prefix))).toBe(ProtocolErrorCode.InvalidArgument);
      expect(codeOf(() => encodeLogEntry(2n ** 64n, prefix))).toBe(ProtocolErrorCode.InvalidArgument);
      expect(codeOf(() => encodeLogEntry(-1n, prefix))).toBe(ProtocolErrorCode.InvalidArgument);
      expect(codeOf(() => encodeLogEntry(0, new Uint8Array(31)))).toBe(ProtocolErrorCode.InvalidArgument);
      expect(encodeLogEntry(2n ** 64n - 1n, prefix).subarray(0, 8)).toEqual(new Uint8Array(8).fill(0xff));
    });
  });

  describe('the draft\'s examples ("Tree Construction" → "Log Tree", appendix "Worked Example")', () => {
    it('proves leaf 2 of 6 with its copath: leaves 0-1, leaf 3, leaves 4-5', () => {
      const tree = buildTree(6);
      const proof = tree.prove([2]);
      expect(proof.elements).toEqual([naiveHead(LEAVES, 0, 2), LEAVES[3], naiveHead(LEAVES, 4, 2)]);
      const result = verifyBatchProof(6, [{ index: 2, value: LEAVES[2] as Uint8Array }], undefined, proof, tree.root());
      expect(result.root).toEqual(naiveRoot(LEAVES.slice(0, 6)));
    });

    it('proves 5 → 7 consistency with leaves 5 and 6 given the retained leaves 0-3 and leaf 4', () => {
      const tree = buildTree(7);
      const proof = tree.prove([], { previousSize: 5 });
      expect(proof.elements).toEqual([LEAVES[5], LEAVES[6]]);
      const retained = { size: 5, values: [naiveHead(LEAVES, 0, 4), LEAVES[4] as Uint8Array] };
      expect(tree.fullSubtreeValues(5)).toEqual(retained.values);
      expect(evaluateBatchProof(7, [], retained, proof).root).toEqual(tree.root());
    });

    it('reproduces the worked example: 13 entries, leaves 0-3 retained, leaves 7, 11 and 12 proved', () => {
      const tree = buildTree(13);
      const proof = tree.prove([12, 7, 11], { previousSize: 4 });
      expect(proof.elements).toEqual([naiveHead(LEAVES, 4, 2), LEAVES[6], naiveHead(LEAVES, 8, 2), LEAVES[10]]);
      const leaves = [7, 11, 12].map((index) => ({ index, value: LEAVES[index] as Uint8Array }));
      const result = evaluateBatchProof(13, leaves, { size: 4, values: [naiveHead(LEAVES, 0, 4)] }, proof);
      expect(result.root).toEqual(naiveRoot(LEAVES.slice(0, 13)));
      // "the user also computes the head values of the full subtrees of the new tree (leaves 0 through 7, leaves 8
      // through 11, and leaf 12)".
      expect(result.retained).toEqual({
        size: 13,
        values: [naiveHead(LEAVES, 0, 8), naiveHead(LEAVES, 8, 4), LEAVES[12]],
      });
    });
  });

  describe('batch proofs ("Tree Proofs" → "Log Tree")', () => {
    it('verify for any size, leaves and retained size, and yield the root and the new full subtrees', () => {
      fc.assert(
        fc.property(caseArb, (c) => {
          const { proof, leaves, retained } = request(c);
          const result = verifyBatchProof(c.n, leaves, retained, proof, shared.root(c.n));
          expect(result.root).toEqual(naiveRoot(LEAVES.slice(0, c.n)));
          expect(result.retained).toEqual({ size: c.n, values: shared.fullSubtreeValues(c.n) });
          // The leaves may be given in any order.
          expect(evaluateBatchProof(c.n, [...leaves].reverse(), retained, proof).root).toEqual(result.root);
        }),
        { numRuns: 300 },
      );
    });

    it('chain: the full subtrees retained after one proof verify the next consistency proof', () => {
      let retained: RetainedSubtrees | undefined;
      for (const n of [1, 2, 3, 7, 8, 13, 64, 100, 257, 600]) {
        const proof = shared.prove([], retained === undefined ? { size: n } : { size: n, previousSize: retained.size });
        retained = verifyBatchProof(n, [], retained, proof, shared.root(n)).retained;
        expect(retained.values.length).toBe(fullSubtrees(n).length);
      }
    });

    it('rejects a proof with any single bit flipped in an element', () => {
      fc.assert(
        fc.property(caseArb, fc.nat(), fc.nat(), (c, which, bit) => {
          const { proof, leaves, retained } = request(c);
          fc.pre(proof.elements.length > 0);
          const elements = [...proof.elements];
          const at = which % elements.length;
          elements[at] = flipBit(elements[at] as Uint8Array, bit);
          const code = codeOf(() => verifyBatchProof(c.n, leaves, retained, { elements }, shared.root(c.n)));
          expect(code).toBe(ProtocolErrorCode.InvalidProof);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a proof for a leaf value with any single bit flipped', () => {
      fc.assert(
        fc.property(caseArb, fc.nat(), fc.nat(), (c, which, bit) => {
          fc.pre(c.indices.length > 0);
          const { proof, leaves, retained } = request(c);
          const at = which % leaves.length;
          const tampered = leaves.map((leaf, i) => (i === at ? { ...leaf, value: flipBit(leaf.value, bit) } : leaf));
          const code = codeOf(() => verifyBatchProof(c.n, tampered, retained, proof, shared.root(c.n)));
          expect(code).toBe(ProtocolErrorCode.InvalidProof);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a proof with an element dropped or added, whatever the root', () => {
      fc.assert(
        fc.property(caseArb, fc.nat(), (c, which) => {
          const { proof, leaves, retained } = request(c);
          const extra = [...proof.elements];
          extra.splice(which % (extra.length + 1), 0, LEAVES[0] as Uint8Array);
          expect(codeOf(() => evaluateBatchProof(c.n, leaves, retained, { elements: extra }))).toBe(
            ProtocolErrorCode.InvalidProof,
          );
          if (proof.elements.length > 0) {
            const dropped = [...proof.elements];
            dropped.splice(which % dropped.length, 1);
            expect(codeOf(() => evaluateBatchProof(c.n, leaves, retained, { elements: dropped }))).toBe(
              ProtocolErrorCode.InvalidProof,
            );
          }
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a proof checked against a wrong retained value', () => {
      fc.assert(
        fc.property(caseArb, fc.nat(), fc.nat(), (c, which, bit) => {
          fc.pre(c.m !== undefined);
          const { proof, leaves, retained } = request(c);
          const values = [...(retained as RetainedSubtrees).values];
          const at = which % values.length;
          values[at] = flipBit(values[at] as Uint8Array, bit);
          const wrong = { size: c.m as number, values };
          const code = codeOf(() => verifyBatchProof(c.n, leaves, wrong, proof, shared.root(c.n)));
          expect(code).toBe(ProtocolErrorCode.InvalidProof);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a wrong retained head even when the requested leaves inside it recompute the right root', () => {
      fc.assert(
        fc.property(fc.integer({ min: 2, max: LEAVES.length }), fc.nat(), fc.nat(), fc.nat(), (n, mSeed, leaf, bit) => {
          const m = 1 + (mSeed % (n - 1));
          const index = leaf % m;
          const position = fullSubtrees(m).findIndex((r) => r.start <= index && index < r.start + r.size);
          const proof = shared.prove([index], { size: n, previousSize: m });
          const leaves = [{ index, value: LEAVES[index] as Uint8Array }];
          const values = shared.fullSubtreeValues(m);
          // The edge case: the proof alone recomputes this head, so the root comes out right whatever was retained.
          expect(evaluateBatchProof(n, leaves, { size: m, values }, proof).root).toEqual(shared.root(n));
          values[position] = flipBit(values[position] as Uint8Array, bit);
          const code = codeOf(() => evaluateBatchProof(n, leaves, { size: m, values }, proof));
          expect(code).toBe(ProtocolErrorCode.InvalidProof);
        }),
        { numRuns: 200 },
      );
    });

    it('proves a single leaf with at most ceil(log2 n) + (number of full subtrees) elements', () => {
      for (let n = 1; n <= LEAVES.length; n++) {
        const bound = Math.ceil(Math.log2(n)) + fullSubtrees(n).length;
        for (const index of [0, Math.floor(n / 2), n - 1]) {
          const count = shared.prove([index], { size: n }).elements.length;
          expect(count).toBeLessThanOrEqual(bound);
          if (Number.isInteger(Math.log2(n))) expect(count).toBe(Math.log2(n));
        }
      }
    });

    it('proves consistency alone with at most 2·ceil(log2 n) elements', () => {
      for (let n = 2; n <= 140; n++) {
        const root = shared.root(n);
        for (let m = 1; m < n; m++) {
          const proof = shared.prove([], { size: n, previousSize: m });
          expect(proof.elements.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
          const retained = { size: m, values: shared.fullSubtreeValues(m) };
          expect(evaluateBatchProof(n, [], retained, proof).root).toEqual(root);
        }
      }
    });

    it('sends nothing when the verifier already knows everything', () => {
      // Every leaf of a 5-leaf tree requested: the root follows from the leaves alone.
      expect(shared.prove([0, 1, 2, 3, 4], { size: 5 }).elements).toEqual([]);
      // Leaves 0-3 retained and leaf 4 requested.
      const proof = shared.prove([4], { size: 5, previousSize: 4 });
      expect(proof.elements).toEqual([]);
      const retained = { size: 4, values: shared.fullSubtreeValues(4) };
      expect(evaluateBatchProof(5, [{ index: 4, value: LEAVES[4] as Uint8Array }], retained, proof).root).toEqual(
        shared.root(5),
      );
    });
  });

  describe('invalid arguments', () => {
    it('rejects bad sizes and indices on the prover', () => {
      const tree = buildTree(10);
      const bad: Array<() => unknown> = [
        () => tree.prove([10]),
        () => tree.prove([-1]),
        () => tree.prove([1.5]),
        () => tree.prove([3, 3]),
        () => tree.prove([0], { previousSize: 10 }),
        () => tree.prove([0], { previousSize: 11 }),
        () => tree.prove([0], { previousSize: 0 }),
        () => tree.prove([0], { size: 11 }),
        () => tree.prove([0], { size: 0 }),
        () => tree.prove([5], { size: 5 }),
        () => tree.root(0),
        () => tree.root(11),
        () => tree.fullSubtreeValues(11),
        () => tree.leafValue(10),
        () => tree.appendLeafValue(new Uint8Array(31)),
        () => new LogTree().root(),
        () => fullSubtrees(-1),
        () => fullSubtrees(2 ** 53),
      ];
      for (const fn of bad) expect(codeOf(fn)).toBe(ProtocolErrorCode.InvalidArgument);
    });

    it('rejects bad sizes, indices and retained state on the verifier', () => {
      const proof = shared.prove([1], { size: 10, previousSize: 6 });
      const leaf = { index: 1, value: LEAVES[1] as Uint8Array };
      const retained = { size: 6, values: shared.fullSubtreeValues(6) };
      const bad: Array<() => unknown> = [
        () => evaluateBatchProof(0, [], undefined, proof),
        () => evaluateBatchProof(10, [{ index: 10, value: LEAVES[0] as Uint8Array }], retained, proof),
        () => evaluateBatchProof(10, [leaf, leaf], retained, proof),
        () => evaluateBatchProof(10, [{ index: 1, value: new Uint8Array(33) }], retained, proof),
        () => evaluateBatchProof(10, [leaf], { size: 10, values: shared.fullSubtreeValues(10) }, proof),
        () => evaluateBatchProof(10, [leaf], { size: 6, values: retained.values.slice(1) }, proof),
        () => evaluateBatchProof(10, [leaf], { size: 6, values: [new Uint8Array(32), new Uint8Array(1)] }, proof),
        () => verifyBatchProof(10, [leaf], retained, proof, new Uint8Array(16)),
      ];
      for (const fn of bad) expect(codeOf(fn)).toBe(ProtocolErrorCode.InvalidArgument);
      expect(evaluateBatchProof(10, [leaf], retained, proof).root).toEqual(shared.root(10));
    });

    it('rejects proof elements of the wrong length as an invalid proof', () => {
      const proof = shared.prove([1], { size: 10 });
      const elements = [...proof.elements];
      elements[0] = new Uint8Array(31);
      const leaves = [{ index: 1, value: LEAVES[1] as Uint8Array }];
      const code = codeOf(() => evaluateBatchProof(10, leaves, undefined, { elements }));
      expect(code).toBe(ProtocolErrorCode.InvalidProof);
    });
  });

  describe('InclusionProof encoding ("Tree Proofs" → "Log Tree")', () => {
    it('round-trips through HashValue elements<0..2^16-1>', () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: LOG_HASH_LENGTH, maxLength: LOG_HASH_LENGTH }), { maxLength: 40 }),
          (elements) => {
            const bytes = encodeInclusionProof({ elements });
            expect(bytes.length).toBe(2 + 32 * elements.length);
            expect((bytes[0] as number) * 256 + (bytes[1] as number)).toBe(32 * elements.length);
            expect(decodeInclusionProof(bytes).elements).toEqual(elements);
          },
        ),
      );
    });

    it('encodes the empty proof as a zero length and the largest one in 2^16 − 1 bytes', () => {
      expect(encodeInclusionProof({ elements: [] })).toEqual(Uint8Array.of(0, 0));
      const largest = Array.from({ length: MAX_PROOF_ELEMENTS }, () => new Uint8Array(32));
      expect(decodeInclusionProof(encodeInclusionProof({ elements: largest })).elements.length).toBe(2047);
      expect(codeOf(() => encodeInclusionProof({ elements: [...largest, new Uint8Array(32)] }))).toBe(
        ProtocolErrorCode.InvalidArgument,
      );
      expect(codeOf(() => encodeInclusionProof({ elements: [new Uint8Array(31)] }))).toBe(
        ProtocolErrorCode.InvalidArgument,
      );
    });

    it('rejects truncation, trailing bytes and a length that is not a multiple of 32', () => {
      const bytes = encodeInclusionProof(shared.prove([3], { size: 100 }));
      const bad = [
        new Uint8Array(0),
        Uint8Array.of(0),
        bytes.subarray(0, bytes.length - 1),
        concatBytes(bytes, Uint8Array.of(0)),
        concatBytes(Uint8Array.of(0, 33), new Uint8Array(33)),
        concatBytes(Uint8Array.of(0, 1), new Uint8Array(1)),
      ];
      for (const input of bad) expect(codeOf(() => decodeInclusionProof(input))).toBe(ProtocolErrorCode.Decode);
    });

    it('reads a proof embedded in a larger message and returns the offset after it', () => {
      const proof = shared.prove([3, 50], { size: 100, previousSize: 37 });
      const message = concatBytes(Uint8Array.of(9, 9, 9), encodeInclusionProof(proof), Uint8Array.of(7));
      const read = readInclusionProof(message, 3);
      expect(read.proof.elements).toEqual(proof.elements);
      expect(read.offset).toBe(message.length - 1);
    });
  });

  describe('hash function', () => {
    it('defaults to @noble/hashes SHA-256, which agrees with node:crypto', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 1000 }), (data) => {
          expect(sha256(data)).toEqual(nodeSha256(data));
        }),
        { numRuns: 500 },
      );
    });

    it('builds the same tree and proofs with the default hash as with node:crypto', () => {
      const entries = fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 32, maxLength: 32 })), {
        minLength: 1,
        maxLength: 40,
      });
      fc.assert(
        fc.property(entries, (list) => {
          const a = new LogTree();
          const b = new LogTree(nodeSha256);
          for (const [timestamp, prefix] of list) {
            a.append(timestamp, prefix);
            b.append(timestamp, prefix);
          }
          expect(a.root()).toEqual(b.root());
          expect(a.prove([0])).toEqual(b.prove([0]));
        }),
        { numRuns: 50 },
      );
    });

    it('rejects a hash function that does not return 32 bytes', () => {
      const tree = new LogTree((data) => nodeSha256(data).subarray(0, 20));
      tree.appendLeafValue(LEAVES[0] as Uint8Array);
      tree.appendLeafValue(LEAVES[1] as Uint8Array);
      expect(codeOf(() => tree.root())).toBe(ProtocolErrorCode.InvalidArgument);
      expect(codeOf(() => tree.append(0, new Uint8Array(32)))).toBe(ProtocolErrorCode.InvalidArgument);
    });
  });

  describe('scale', () => {
    it('appends 100,000 log entries quickly and proves one of them with a short proof', () => {
      const tree = new LogTree();
      const prefix = nodeSha256(utf8('prefix root'));
      const started = performance.now();
      for (let i = 0; i < 100_000; i++) tree.append(1_700_000_000_000 + i, prefix);
      const elapsed = performance.now() - started;
      expect(tree.size).toBe(100_000);
      expect(elapsed).toBeLessThan(10_000);

      const index = 61_803;
      const proof = tree.prove([index], { previousSize: 99_000 });
      expect(proof.elements.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(100_000)));
      const result = verifyBatchProof(
        100_000,
        [{ index, value: logEntryValue(1_700_000_000_000 + index, prefix) }],
        { size: 99_000, values: tree.fullSubtreeValues(99_000) },
        decodeInclusionProof(encodeInclusionProof(proof)),
        tree.root(),
      );
      expect(result.retained.values).toEqual(tree.fullSubtreeValues());
    }, 60_000);
  });
});
