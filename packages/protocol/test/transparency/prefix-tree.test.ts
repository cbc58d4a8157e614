/**
 * The key-transparency prefix tree (draft-ietf-keytrans-protocol-06 "Tree Construction" → "Prefix Tree",
 * "Cryptographic Computations" → "Prefix Tree", "Tree Proofs" → "Prefix Tree"): roots against a naive recursive
 * reference written from the draft's definition with node:crypto's SHA-256, batch proofs, tampering and forgery,
 * the encodings, and a 10^5-leaf scale run (figures printed with SAMIZDAT_VERBOSE=1).
 */
import { createHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import {
  PREFIX_MAX_DEPTH,
  PrefixTree,
  decodeCompactPrefixProof,
  decodePrefixProof,
  encodeCompactPrefixProof,
  encodePrefixProof,
  prefixLeafValue,
  prefixParentValue,
  readPrefixProof,
  verifyPrefixProof,
  writePrefixProof,
} from '../../src/transparency/prefix-tree.js';
import type { PrefixHashFunction, PrefixLeaf, PrefixProof, PrefixSearchResult } from '../../src/transparency/prefix-tree.js';
import { TlsReader, TlsWriter } from '../../src/transparency/tls.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const nodeSha256 = (data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const ZERO = new Uint8Array(32);
const verbose = process.env.SAMIZDAT_VERBOSE !== undefined;
const report = (line: string) => {
  if (verbose) process.stdout.write(`${line}\n`);
};

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return ProtocolError.is(err) ? err.code : `not a ProtocolError: ${String(err)}`;
  }
  return 'no error';
};

const bitOf = (key: Uint8Array, depth: number) => ((key[depth >>> 3] as number) >>> (7 - (depth & 7))) & 1;
const flipBit = (bytes: Uint8Array, bit: number) => {
  const out = bytes.slice();
  out[bit >>> 3] = (out[bit >>> 3] as number) ^ (0x80 >>> (bit & 7));
  return out;
};
const commitmentFor = (key: Uint8Array) => nodeSha256(Uint8Array.of(0x63, ...key));
const entry = (vrfOutput: Uint8Array): PrefixLeaf => ({ vrfOutput, commitment: commitmentFor(vrfOutput) });

/** Deterministic pseudo-random keys (xorshift32), fast enough for 10^5. */
function randomKeys(count: number, seed: number): Uint8Array[] {
  let s = seed >>> 0 || 1;
  const bytes = new Uint8Array(count * 32);
  for (let i = 0; i < bytes.length; i += 4) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    bytes[i] = s & 0xff;
    bytes[i + 1] = (s >>> 8) & 0xff;
    bytes[i + 2] = (s >>> 16) & 0xff;
    bytes[i + 3] = s >>> 24;
  }
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * 32, i * 32 + 32));
}

// --- The reference: the draft's definition, recursively, over a set of leaves ---------------------------------------

function split(leaves: readonly PrefixLeaf[], depth: number): [PrefixLeaf[], PrefixLeaf[]] {
  return [leaves.filter((l) => bitOf(l.vrfOutput, depth) === 0), leaves.filter((l) => bitOf(l.vrfOutput, depth) === 1)];
}

/** The value of the node holding exactly `leaves` at `depth`: none, the one leaf (its prefix is unique), or a parent. */
function refValue(leaves: readonly PrefixLeaf[], depth = 0, hash: PrefixHashFunction = nodeSha256): Uint8Array {
  if (leaves.length === 0) return ZERO;
  if (leaves.length === 1) {
    const leaf = leaves[0] as PrefixLeaf;
    return hash(Uint8Array.of(0x02, ...leaf.vrfOutput, ...leaf.commitment));
  }
  const [left, right] = split(leaves, depth);
  return hash(Uint8Array.of(0x03, ...refValue(left, depth + 1, hash), ...refValue(right, depth + 1, hash)));
}

/** The depth of `key`'s terminal node in the reference tree. */
function refDepth(leaves: readonly PrefixLeaf[], key: Uint8Array): number {
  let set = leaves;
  let depth = 0;
  while (set.length > 1) {
    set = split(set, depth)[bitOf(key, depth)] as PrefixLeaf[];
    depth++;
  }
  return depth;
}

/** The copath of one search ending at `terminalDepth`, left to right, from the reference's node values. */
function pathElements(leaves: readonly PrefixLeaf[], key: Uint8Array, terminalDepth: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (depth: number, set: readonly PrefixLeaf[]) => {
    if (depth === terminalDepth) return;
    const [left, right] = split(set, depth);
    if (bitOf(key, depth) === 1) {
      out.push(refValue(left, depth + 1));
      walk(depth + 1, right);
    } else {
      walk(depth + 1, left);
      out.push(refValue(right, depth + 1));
    }
  };
  walk(0, leaves);
  return out;
}

function dedupe(keys: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const key of keys) seen.set(hex(key), key);
  return [...seen.values()];
}

function buildTree(leaves: readonly PrefixLeaf[], hash?: PrefixHashFunction): PrefixTree {
  const tree = new PrefixTree(hash === undefined ? {} : { hash });
  tree.insertMany(leaves);
  return tree;
}

// --- Arbitraries -----------------------------------------------------------------------------------------------------

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Random keys, plus a base key and variants of it that differ in a few bits (last bit included): long shared prefixes. */
const leavesArb = fc
  .record({
    randoms: fc.array(key32, { maxLength: 24 }),
    base: key32,
    flips: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
    lastBit: fc.boolean(),
  })
  .map(({ randoms, base, flips, lastBit }) => {
    const keys = [...randoms];
    if (flips.length > 0 || lastBit) keys.push(base, ...flips.map((b) => flipBit(base, b)));
    if (lastBit) keys.push(flipBit(base, 255), ...flips.map((b) => flipBit(flipBit(base, b), 255)));
    return dedupe(keys).map(entry);
  });

interface Scenario {
  readonly leaves: PrefixLeaf[];
  readonly tree: PrefixTree;
  readonly keys: Uint8Array[];
  readonly commitments: (Uint8Array | undefined)[];
  readonly proof: PrefixProof;
  readonly root: Uint8Array;
}

/** A tree and a batch of searches: some present keys, random absent ones and near misses (a present key, one bit off). */
const scenarioArb = fc
  .record({
    leaves: leavesArb,
    picks: fc.array(fc.nat(), { maxLength: 4 }),
    absent: fc.array(key32, { maxLength: 2 }),
    nearMisses: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    fallback: key32,
  })
  .map(({ leaves, picks, absent, nearMisses, fallback }): Scenario => {
    const tree = buildTree(leaves);
    const present = leaves.length === 0 ? [] : picks.map((p) => (leaves[p % leaves.length] as PrefixLeaf).vrfOutput);
    const misses = leaves.length === 0 ? [] : nearMisses.map(([p, b]) => flipBit((leaves[p % leaves.length] as PrefixLeaf).vrfOutput, b));
    let keys = dedupe([...present, ...absent, ...misses]);
    if (keys.length === 0) keys = [fallback];
    const commitments = keys.map((k) => tree.get(k));
    return { leaves, tree, keys, commitments, proof: tree.prove(keys), root: tree.root() };
  });

/** The outcome of verifying something that must not verify to the true root. */
function rejected(s: Pick<Scenario, 'keys' | 'root'>, commitments: readonly (Uint8Array | undefined)[], proof: PrefixProof): boolean {
  try {
    return hex(verifyPrefixProof(s.keys, commitments, proof)) !== hex(s.root);
  } catch (err) {
    if (ProtocolError.is(err, ProtocolErrorCode.InvalidProof)) return true;
    throw err;
  }
}

// --- Tests -----------------------------------------------------------------------------------------------------------

describe('prefix tree values', () => {
  it('hashes leaves and parents as the draft defines, with noble SHA-256 matching node:crypto', () => {
    const [k, c] = randomKeys(2, 7) as [Uint8Array, Uint8Array];
    expect(hex(prefixLeafValue({ vrfOutput: k, commitment: c }))).toBe(hex(nodeSha256(Uint8Array.of(0x02, ...k, ...c))));
    expect(hex(prefixParentValue(k, ZERO))).toBe(hex(nodeSha256(Uint8Array.of(0x03, ...k, ...ZERO))));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => hex(sha256(data)) === hex(nodeSha256(data))),
      { numRuns: 100 },
    );
  });

  it('has an all-zero root when empty, the leaf value with one key, and a parent above with two', () => {
    const tree = new PrefixTree();
    expect(hex(tree.root())).toBe(hex(ZERO));
    const [a, b] = randomKeys(2, 3).map(entry) as [PrefixLeaf, PrefixLeaf];
    tree.insert(a.vrfOutput, a.commitment);
    expect(hex(tree.root())).toBe(hex(prefixLeafValue(a)));
    tree.insert(b.vrfOutput, b.commitment);
    expect(hex(tree.root())).toBe(hex(refValue([a, b])));
  });

  it('matches the naive recursive reference for random trees, long shared prefixes included', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const tree = buildTree(leaves);
        expect(tree.size).toBe(leaves.length);
        expect(hex(tree.root())).toBe(hex(refValue(leaves)));
        for (const leaf of leaves) expect(hex(tree.get(leaf.vrfOutput) as Uint8Array)).toBe(hex(leaf.commitment));
      }),
      { numRuns: 150 },
    );
  });

  it('places two keys that differ only in the last bit at depth 256, under a chain of 255 parents', () => {
    const [base] = randomKeys(1, 11) as [Uint8Array];
    const leaves = [entry(base), entry(flipBit(base, 255))];
    const tree = buildTree(leaves);
    expect(hex(tree.root())).toBe(hex(refValue(leaves)));
    const proof = tree.prove([base, flipBit(base, 254)]);
    expect(proof.results).toEqual([
      { type: 'inclusion', depth: 256 },
      { type: 'nonInclusionParent', depth: 255 },
    ]);
    // The 254 copath nodes of the first chain nodes are missing, and so is the one beside the second key's stand-in.
    expect(proof.elements.filter((e) => hex(e) === hex(ZERO))).toHaveLength(proof.elements.length - 1);
    expect(hex(verifyPrefixProof([base, flipBit(base, 254)], [commitmentFor(base), undefined], proof))).toBe(hex(tree.root()));
    expect(codeOf(() => encodePrefixProof(proof))).toBe(ProtocolErrorCode.InvalidArgument);
  });

  it('builds the trees of the draft\'s figures ("Tree Construction" → "Prefix Tree")', () => {
    // Keys whose first five bits are the figure's; the rest are random.
    const withPrefix = (bits: string, seed: number) => {
      const key = randomKeys(1, seed)[0] as Uint8Array;
      for (let i = 0; i < bits.length; i++) if (bitOf(key, i) !== Number(bits[i])) key.set(flipBit(key, i));
      return key;
    };
    const A = withPrefix('00010', 100);
    const B = withPrefix('00101', 101);
    const C = withPrefix('10001', 102);
    const D = withPrefix('10111', 103);
    const E = withPrefix('11011', 104);
    const F = withPrefix('01101', 105);
    const tree = buildTree([A, B, C, D, E].map(entry));
    const depths = (keys: Uint8Array[]) => tree.prove(keys).results.map((r) => `${r.type}@${r.depth}`);
    expect(depths([A, B, C, D, E])).toEqual(['inclusion@3', 'inclusion@3', 'inclusion@3', 'inclusion@3', 'inclusion@2']);
    // "01..." ends at the stand-in right child of the one-child parent "0".
    expect(depths([F])).toEqual(['nonInclusionParent@2']);
    tree.insert(F, commitmentFor(F));
    expect(depths([A, B, F, E])).toEqual(['inclusion@3', 'inclusion@3', 'inclusion@2', 'inclusion@2']);
    expect(hex(tree.root())).toBe(hex(refValue([A, B, C, D, E, F].map(entry))));
  });
});

describe('prefix tree insertion', () => {
  it('gives the same root for one batch, one-by-one inserts and any order or split into batches', () => {
    fc.assert(
      fc.property(leavesArb, fc.array(fc.nat()), fc.nat({ max: 5 }), (leaves, order, batches) => {
        const batch = buildTree(leaves);
        const single = new PrefixTree();
        for (const leaf of leaves) single.insert(leaf.vrfOutput, leaf.commitment);
        const shuffled = leaves.map((l, i) => ({ l, r: order[i] ?? i })).sort((x, y) => x.r - y.r).map(({ l }) => l);
        const chunked = new PrefixTree();
        const step = Math.max(1, Math.ceil(shuffled.length / (batches + 1)));
        for (let i = 0; i < shuffled.length; i += step) chunked.insertMany(shuffled.slice(i, i + step));
        expect(hex(single.root())).toBe(hex(batch.root()));
        expect(hex(chunked.root())).toBe(hex(batch.root()));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a key already present, in the tree or twice in a batch, and leaves the tree as it was', () => {
    const leaves = randomKeys(40, 5).map(entry);
    const tree = buildTree(leaves.slice(0, 30));
    const root = hex(tree.root());
    const fresh = leaves.slice(30);
    const dup = { vrfOutput: (leaves[3] as PrefixLeaf).vrfOutput, commitment: new Uint8Array(32).fill(9) };
    expect(codeOf(() => tree.insertMany([...fresh.slice(0, 5), dup, ...fresh.slice(5)]))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => tree.insertMany([...fresh, fresh[2] as PrefixLeaf]))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(tree.size).toBe(30);
    expect(hex(tree.root())).toBe(root);
    expect(tree.has((fresh[0] as PrefixLeaf).vrfOutput)).toBe(false);
    expect(hex(tree.get((leaves[3] as PrefixLeaf).vrfOutput) as Uint8Array)).toBe(hex((leaves[3] as PrefixLeaf).commitment));
    // The undone batch left nothing behind: the same leaves now go in and give the reference root.
    tree.insertMany(fresh);
    expect(hex(tree.root())).toBe(hex(refValue(leaves)));
  });

  it('refuses malformed keys and commitments', () => {
    const tree = new PrefixTree();
    expect(codeOf(() => tree.insert(new Uint8Array(31), new Uint8Array(32)))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => tree.insert(new Uint8Array(32), new Uint8Array(33)))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => tree.has(new Uint8Array(64)))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => tree.prove([]))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => tree.prove([new Uint8Array(32), new Uint8Array(32)]))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(tree.size).toBe(0);
  });

  it('rehashes only the parents a batch touched', () => {
    let calls = 0;
    const counting: PrefixHashFunction = (data) => {
      calls++;
      return sha256(data);
    };
    const keys = randomKeys(10_001, 21);
    const tree = new PrefixTree({ hash: counting });
    tree.insertMany(keys.slice(0, 10_000).map(entry));
    calls = 0;
    tree.insertMany([entry(keys[10_000] as Uint8Array)]);
    const depth = (tree.prove([keys[10_000] as Uint8Array]).results[0] as PrefixSearchResult).depth;
    // One value per parent on the path, plus the leaves beside it (at most one per parent).
    expect(calls).toBeLessThanOrEqual(2 * depth + 1);
    expect(hex(tree.root())).toBe(hex(buildTree(keys.map(entry)).root()));
  });
});

describe('prefix tree proofs', () => {
  it('verify to the root for random trees and batches of present and absent keys', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(hex(verifyPrefixProof(s.keys, s.commitments, s.proof))).toBe(hex(s.root));
        s.keys.forEach((key, i) => {
          const result = s.proof.results[i] as PrefixSearchResult;
          expect(result.type === 'inclusion').toBe(s.commitments[i] !== undefined);
          expect(result.depth).toBe(refDepth(s.leaves, key));
        });
        // A single search's copath is the reference's, left to right.
        const key = s.keys[0] as Uint8Array;
        const single = s.tree.prove([key]);
        expect(single.elements.map(hex)).toEqual(pathElements(s.leaves, key, refDepth(s.leaves, key)).map(hex));
      }),
      { numRuns: 150 },
    );
  });

  it('shares upper path nodes among keys instead of repeating them', () => {
    const leaves = randomKeys(1000, 31).map(entry);
    const tree = buildTree(leaves);
    const keys = [0, 1, 2].map((i) => (leaves[i] as PrefixLeaf).vrfOutput);
    const batch = tree.prove(keys);
    const separately = keys.reduce((n, k) => n + tree.prove([k]).elements.length, 0);
    // Three paths share at least the root: at least two copath values fewer than three separate proofs.
    expect(batch.elements.length).toBeLessThanOrEqual(separately - 2);
    expect(hex(verifyPrefixProof(keys, keys.map((k) => tree.get(k)), batch))).toBe(hex(tree.root()));
  });

  const tamperKinds = [
    'element-bit',
    'leaf-bit',
    'depth-bit',
    'depth-step',
    'type',
    'commitment',
    'drop-element',
    'extra-element',
    'swap-results',
    'swap-results-and-commitments',
  ] as const;
  const tamperArb = fc.record({
    kind: fc.constantFrom(...tamperKinds),
    a: fc.nat(),
    b: fc.nat(),
    bit: fc.integer({ min: 0, max: 511 }),
    filler: key32,
  });
  type Tamper = typeof tamperArb extends fc.Arbitrary<infer T> ? T : never;

  /** One edit of an honest proof (and of the caller's expectations where the edit needs it), or null if none applies. */
  function tamper(s: Scenario, t: Tamper): { proof: PrefixProof; commitments: (Uint8Array | undefined)[] } | null {
    const results = [...s.proof.results];
    const elements = [...s.proof.elements];
    const commitments = [...s.commitments];
    const n = results.length;
    const i = t.a % n;
    const r = results[i] as PrefixSearchResult;
    switch (t.kind) {
      case 'element-bit':
        if (elements.length === 0) return null;
        elements[t.a % elements.length] = flipBit(elements[t.a % elements.length] as Uint8Array, t.bit % 256);
        break;
      case 'leaf-bit': {
        const j = results.findIndex((x) => x.type === 'nonInclusionLeaf');
        const x = results[j];
        if (x?.type !== 'nonInclusionLeaf') return null;
        const leaf = t.bit < 256 ? { vrfOutput: flipBit(x.leaf.vrfOutput, t.bit), commitment: x.leaf.commitment } : { vrfOutput: x.leaf.vrfOutput, commitment: flipBit(x.leaf.commitment, t.bit - 256) };
        results[j] = { ...x, leaf };
        break;
      }
      case 'depth-bit': {
        const depth = r.depth ^ (1 << (t.b % 8));
        if (depth > PREFIX_MAX_DEPTH) return null;
        results[i] = { ...r, depth };
        break;
      }
      case 'depth-step': {
        const depth = r.depth + (t.b % 2 === 0 ? 1 : -1);
        if (depth < 0 || depth > PREFIX_MAX_DEPTH) return null;
        results[i] = { ...r, depth };
        break;
      }
      case 'type': {
        // Change the type, and the caller's expectation with it, so that only the tree's hashes can tell.
        const others = (['inclusion', 'nonInclusionLeaf', 'nonInclusionParent'] as const).filter((x) => x !== r.type);
        const type = others[t.b % 2] as PrefixSearchResult['type'];
        if (type === 'inclusion') {
          results[i] = { type, depth: r.depth };
          commitments[i] = s.tree.get(s.keys[i] as Uint8Array) ?? t.filler;
        } else if (type === 'nonInclusionLeaf') {
          const real = s.leaves.length > 0 ? (s.leaves[t.bit % s.leaves.length] as PrefixLeaf) : undefined;
          const leaf = real !== undefined && hex(real.vrfOutput) !== hex(s.keys[i] as Uint8Array) ? real : { vrfOutput: flipBit(s.keys[i] as Uint8Array, 255), commitment: t.filler };
          results[i] = { type, leaf, depth: r.depth };
          commitments[i] = undefined;
        } else {
          results[i] = { type, depth: r.depth };
          commitments[i] = undefined;
        }
        break;
      }
      case 'commitment': {
        const j = results.findIndex((x) => x.type === 'inclusion');
        if (j < 0) return null;
        commitments[j] = flipBit(commitments[j] as Uint8Array, t.bit % 256);
        break;
      }
      case 'drop-element':
        if (elements.length === 0) return null;
        elements.splice(t.a % elements.length, 1);
        break;
      case 'extra-element':
        elements.splice(t.a % (elements.length + 1), 0, t.b % 2 === 0 ? ZERO : t.filler);
        break;
      case 'swap-results':
      case 'swap-results-and-commitments': {
        const j = t.b % n;
        const sameResult = JSON.stringify(results[i], (_, v: unknown) => (v instanceof Uint8Array ? hex(v) : v)) === JSON.stringify(results[j], (_, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
        if (i === j || sameResult) return null;
        [results[i], results[j]] = [results[j] as PrefixSearchResult, r];
        if (t.kind === 'swap-results-and-commitments') [commitments[i], commitments[j]] = [commitments[j], commitments[i]];
        break;
      }
    }
    return { proof: { results, elements }, commitments };
  }

  it('reject any edit: a flipped bit in an element, leaf, depth or type, a wrong commitment, an element dropped or added, reordered results', () => {
    const applied = new Set<string>();
    fc.assert(
      fc.property(scenarioArb, tamperArb, (s, t) => {
        const edited = tamper(s, t);
        fc.pre(edited !== null);
        if (edited === null) return;
        applied.add(t.kind);
        expect(rejected(s, edited.commitments, edited.proof)).toBe(true);
      }),
      { numRuns: 600 },
    );
    expect([...applied].sort()).toEqual([...tamperKinds].sort());
  });

  it('reject any flipped bit of the encoded proof (DECODE_ERROR, INVALID_PROOF or another root)', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), (s, n) => {
        let bytes: Uint8Array;
        try {
          bytes = encodePrefixProof(s.proof);
        } catch {
          fc.pre(false); // Over the draft's limits (depth 256, more than 255 bytes of results).
          return;
        }
        const flipped = flipBit(bytes, n % (bytes.length * 8));
        let proof: PrefixProof;
        try {
          proof = decodePrefixProof(flipped);
        } catch (err) {
          expect(ProtocolError.is(err, ProtocolErrorCode.Decode)).toBe(true);
          return;
        }
        expect(rejected(s, s.commitments, proof)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('cannot prove a present key absent: no depth, stand-in or leaf makes it verify', () => {
    fc.assert(
      fc.property(leavesArb.filter((l) => l.length > 0), fc.nat(), key32, (leaves, pick, filler) => {
        const tree = buildTree(leaves);
        const root = tree.root();
        const key = (leaves[pick % leaves.length] as PrefixLeaf).vrfOutput;
        const honest = tree.prove([key]);
        const depth = (honest.results[0] as PrefixSearchResult).depth;
        expect(honest.results[0]?.type).toBe('inclusion');
        expect(honest.elements.map(hex)).toEqual(pathElements(leaves, key, depth).map(hex));
        const s = { keys: [key], root };
        // Terminal depths near the root, around the real one and a few between, with the true node values as the
        // copath (the most an attacker can know).
        const depths = new Set<number>();
        for (let d = 0; d <= Math.min(12, depth); d++) depths.add(d);
        for (let d = Math.max(0, depth - 3); d <= Math.min(PREFIX_MAX_DEPTH, depth + 3); d++) depths.add(d);
        for (let j = 1; j <= 8; j++) depths.add(Math.floor((depth * j) / 9));
        for (const d of depths) {
          const elements = pathElements(leaves, key, d);
          expect(rejected(s, [undefined], { results: [{ type: 'nonInclusionParent', depth: d }], elements })).toBe(true);
          const other = flipBit(key, 255); // Shares 255 bits: on the path at every depth.
          const leaf = { vrfOutput: other, commitment: tree.get(other) ?? filler };
          expect(rejected(s, [undefined], { results: [{ type: 'nonInclusionLeaf', leaf, depth: d }], elements })).toBe(true);
          // The honest elements with the result edited.
          expect(rejected(s, [undefined], { results: [{ type: 'nonInclusionParent', depth: d }], elements: honest.elements })).toBe(true);
        }
        // In a batch with an absent key, the same edit of the honest batch proof fails too.
        fc.pre(!tree.has(filler));
        const batch = tree.prove([key, filler]);
        const forged = { results: [{ type: 'nonInclusionParent', depth } as const, batch.results[1] as PrefixSearchResult], elements: batch.elements };
        expect(rejected({ keys: [key, filler], root }, [undefined, undefined], forged)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('cannot pass off a parent as a leaf: the domain bytes 0x02 / 0x03 differ', () => {
    const leaves = randomKeys(50, 41).map(entry);
    const tree = buildTree(leaves);
    const key = (leaves[0] as PrefixLeaf).vrfOutput;
    const [left, right] = split(leaves, 0);
    // A "leaf" whose vrf_output || commitment are the root's children values: it hashes like the root but for the
    // domain byte. It sits at depth 0, so it is on every key's search path.
    const forged: PrefixProof = { results: [{ type: 'nonInclusionLeaf', leaf: { vrfOutput: refValue(left, 1), commitment: refValue(right, 1) }, depth: 0 }], elements: [] };
    expect(rejected({ keys: [key], root: tree.root() }, [undefined], forged)).toBe(true);
    // Without the domain separation the forgery would go through: this is what the test guards.
    const collapsed: PrefixHashFunction = (data) => {
      const copy = data.slice();
      if (copy[0] === 0x02) copy[0] = 0x03;
      return sha256(copy);
    };
    const weak = buildTree(leaves, collapsed);
    const weakForged: PrefixProof = {
      results: [{ type: 'nonInclusionLeaf', leaf: { vrfOutput: refValue(left, 1, collapsed), commitment: refValue(right, 1, collapsed) }, depth: 0 }],
      elements: [],
    };
    expect(hex(verifyPrefixProof([key], [undefined], weakForged, collapsed))).toBe(hex(weak.root()));
  });

  it('reject malformed proofs and inputs with INVALID_PROOF or INVALID_ARGUMENT', () => {
    const leaves = randomKeys(20, 51).map(entry);
    const tree = buildTree(leaves);
    const key = (leaves[0] as PrefixLeaf).vrfOutput;
    const [absent] = randomKeys(1, 52) as [Uint8Array];
    const proof = tree.prove([key, absent]);
    const good = [tree.get(key), undefined];
    expect(hex(verifyPrefixProof([key, absent], good, proof))).toBe(hex(tree.root()));
    const bad = (commitments: (Uint8Array | undefined)[], p: PrefixProof, keys = [key, absent]) => codeOf(() => verifyPrefixProof(keys, commitments, p));
    expect(bad([undefined, undefined], proof)).toBe(ProtocolErrorCode.InvalidProof);
    expect(bad([tree.get(key), new Uint8Array(32)], proof)).toBe(ProtocolErrorCode.InvalidProof);
    expect(bad(good, { results: proof.results.slice(0, 1), elements: proof.elements })).toBe(ProtocolErrorCode.InvalidProof);
    expect(bad(good, { results: [proof.results[0] as PrefixSearchResult, { type: 'nonInclusionParent', depth: 257 }], elements: proof.elements })).toBe(ProtocolErrorCode.InvalidArgument);
    expect(bad(good, { results: proof.results, elements: [...proof.elements.slice(1), new Uint8Array(31)] })).toBe(ProtocolErrorCode.InvalidArgument);
    expect(bad([tree.get(key)], proof)).toBe(ProtocolErrorCode.InvalidArgument);
    expect(bad([tree.get(key), undefined], proof, [key, key])).toBe(ProtocolErrorCode.InvalidArgument);
    expect(bad([undefined], proof, [new Uint8Array(33)])).toBe(ProtocolErrorCode.InvalidArgument);
    // A nonInclusionLeaf naming the searched key itself, or a leaf off the search path.
    const own = { results: [{ type: 'nonInclusionLeaf', leaf: { vrfOutput: key, commitment: tree.get(key) as Uint8Array }, depth: 1 } as const], elements: [] };
    expect(codeOf(() => verifyPrefixProof([key], [undefined], own))).toBe(ProtocolErrorCode.InvalidProof);
    const offPath = { results: [{ type: 'nonInclusionLeaf', leaf: { vrfOutput: flipBit(key, 0), commitment: ZERO }, depth: 1 } as const], elements: [ZERO] };
    expect(codeOf(() => verifyPrefixProof([key], [undefined], offPath))).toBe(ProtocolErrorCode.InvalidProof);
    // Two keys whose searches meet at a node must agree on it.
    const twin = flipBit(key, 255);
    const disagree: PrefixProof = {
      results: [
        { type: 'nonInclusionParent', depth: 3 },
        { type: 'nonInclusionLeaf', leaf: { vrfOutput: flipBit(key, 200), commitment: ZERO }, depth: 3 },
      ],
      elements: [ZERO, ZERO, ZERO],
    };
    expect(codeOf(() => verifyPrefixProof([key, twin], [undefined, undefined], disagree))).toBe(ProtocolErrorCode.InvalidProof);
    const mixed: PrefixProof = { results: [{ type: 'nonInclusionParent', depth: 3 }, { type: 'nonInclusionParent', depth: 4 }], elements: [ZERO, ZERO, ZERO, ZERO] };
    expect(codeOf(() => verifyPrefixProof([key, twin], [undefined, undefined], mixed))).toBe(ProtocolErrorCode.InvalidProof);
  });

  it('prove an empty tree and a one-leaf tree at depth 0', () => {
    const [a, b] = randomKeys(2, 61) as [Uint8Array, Uint8Array];
    const empty = new PrefixTree();
    const proof = empty.prove([a]);
    expect(proof).toEqual({ results: [{ type: 'nonInclusionParent', depth: 0 }], elements: [] });
    expect(hex(verifyPrefixProof([a], [undefined], proof))).toBe(hex(ZERO));
    const one = buildTree([entry(a)]);
    const both = one.prove([a, b]);
    expect(both.results).toEqual([
      { type: 'inclusion', depth: 0 },
      { type: 'nonInclusionLeaf', leaf: entry(a), depth: 0 },
    ]);
    expect(hex(verifyPrefixProof([a, b], [commitmentFor(a), undefined], both))).toBe(hex(one.root()));
  });
});

describe('prefix proof encoding', () => {
  const resultArb: fc.Arbitrary<PrefixSearchResult> = fc.oneof(
    fc.record({ type: fc.constant('inclusion' as const), depth: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ type: fc.constant('nonInclusionParent' as const), depth: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ type: fc.constant('nonInclusionLeaf' as const), leaf: fc.record({ vrfOutput: key32, commitment: key32 }), depth: fc.integer({ min: 0, max: 255 }) }),
  );
  const proofArb: fc.Arbitrary<PrefixProof> = fc.record({
    results: fc.array(resultArb, { maxLength: 6 }).filter((rs) => rs.reduce((n, r) => n + (r.type === 'nonInclusionLeaf' ? 66 : 2), 0) <= 255),
    elements: fc.array(fc.oneof(key32, fc.constant(ZERO)), { maxLength: 40 }),
  });

  it('round-trips the draft\'s PrefixProof and the compact form', () => {
    fc.assert(
      fc.property(proofArb, (proof) => {
        const bytes = encodePrefixProof(proof);
        expect(decodePrefixProof(bytes)).toEqual(proof);
        const compact = encodeCompactPrefixProof(proof);
        expect(decodeCompactPrefixProof(compact)).toEqual(proof);
        const zeros = proof.elements.filter((e) => hex(e) === hex(ZERO)).length;
        expect(bytes.length - compact.length).toBe(32 * zeros - Math.ceil(proof.elements.length / 8) - 1); // its results length takes 2 bytes
        // Inside a larger structure.
        const w = new TlsWriter().u8(7);
        writePrefixProof(w, proof);
        const r = new TlsReader(w.u8(9).finish());
        expect(r.u8('before')).toBe(7);
        expect(readPrefixProof(r)).toEqual(proof);
        expect(r.u8('after')).toBe(9);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes exactly the draft\'s TLS structure', () => {
    const leaf = { vrfOutput: new Uint8Array(32).fill(0xaa), commitment: new Uint8Array(32).fill(0xbb) };
    const proof: PrefixProof = {
      results: [
        { type: 'inclusion', depth: 5 },
        { type: 'nonInclusionLeaf', leaf, depth: 6 },
        { type: 'nonInclusionParent', depth: 7 },
      ],
      elements: [new Uint8Array(32).fill(0xcc), ZERO],
    };
    const expected = '46' + '0105' + '02' + 'aa'.repeat(32) + 'bb'.repeat(32) + '06' + '0307' + '0040' + 'cc'.repeat(32) + '00'.repeat(32);
    expect(hex(encodePrefixProof(proof))).toBe(expected);
    // Compact: the same results (a 2-byte length), 2 elements, bitmap 01000000, the non-zero element.
    expect(hex(encodeCompactPrefixProof(proof))).toBe('00' + expected.slice(0, 2 * (1 + 70)) + '0002' + '40' + 'cc'.repeat(32));
  });

  it('rejects truncation, trailing bytes, unknown result types and ragged elements (DECODE_ERROR)', () => {
    fc.assert(
      fc.property(proofArb, fc.nat(), (proof, n) => {
        for (const [encode, decode] of [
          [encodePrefixProof, decodePrefixProof],
          [encodeCompactPrefixProof, decodeCompactPrefixProof],
        ] as const) {
          const bytes = encode(proof);
          expect(codeOf(() => decode(bytes.subarray(0, n % bytes.length)))).toBe(ProtocolErrorCode.Decode);
          expect(codeOf(() => decode(Uint8Array.of(...bytes, 0)))).toBe(ProtocolErrorCode.Decode);
        }
      }),
      { numRuns: 100 },
    );
    for (const type of [0, 4, 255]) expect(codeOf(() => decodePrefixProof(Uint8Array.of(2, type, 1, 0, 0)))).toBe(ProtocolErrorCode.Decode);
    expect(codeOf(() => decodePrefixProof(Uint8Array.of(0, 0, 31, ...new Uint8Array(31))))).toBe(ProtocolErrorCode.Decode);
    expect(codeOf(() => decodePrefixProof(Uint8Array.of(3, 1, 1, 2, 0, 0)))).toBe(ProtocolErrorCode.Decode); // A result cut inside results.
    // Compact: padding bits set, an all-zero element sent in full, more elements than the draft's form can hold.
    expect(codeOf(() => decodeCompactPrefixProof(Uint8Array.of(0, 0, 0, 1, 0x40, ...new Uint8Array(32).fill(1))))).toBe(ProtocolErrorCode.Decode);
    expect(codeOf(() => decodeCompactPrefixProof(Uint8Array.of(0, 0, 0, 1, 0, ...ZERO)))).toBe(ProtocolErrorCode.Decode);
    expect(codeOf(() => decodeCompactPrefixProof(Uint8Array.of(0, 0, 0x08, 0x00, ...new Uint8Array(256).fill(0xff))))).toBe(ProtocolErrorCode.Decode);
    expect(decodeCompactPrefixProof(Uint8Array.of(0, 0, 0, 1, 0x80))).toEqual({ results: [], elements: [ZERO] });
  });

  it('refuses to encode past the draft\'s limits (INVALID_ARGUMENT)', () => {
    const leaf = { vrfOutput: ZERO, commitment: ZERO };
    const fourLeaves: PrefixProof = { results: Array.from({ length: 4 }, () => ({ type: 'nonInclusionLeaf', leaf, depth: 1 }) as const), elements: [] };
    expect(codeOf(() => encodePrefixProof(fourLeaves))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => encodePrefixProof({ results: [], elements: Array.from({ length: 2048 }, () => ZERO) }))).toBe(ProtocolErrorCode.InvalidArgument);
    expect(codeOf(() => encodeCompactPrefixProof({ results: [{ type: 'inclusion', depth: 256 }], elements: [] }))).toBe(ProtocolErrorCode.InvalidArgument);
  });
});

describe('prefix tree at scale', () => {
  it('builds 10^5 leaves, takes an epoch of 10^3, and proves 2 keys in about 1 KB', { timeout: 30_000 }, () => {
    const n = 100_000;
    const keys = randomKeys(n + 1000 + 400, 77);
    const leaves = keys.slice(0, n).map(entry);
    const before = process.memoryUsage();
    let t = performance.now();
    const tree = buildTree(leaves);
    const buildMs = performance.now() - t;
    const after = process.memoryUsage();
    expect(tree.size).toBe(n);
    const epoch = keys.slice(n, n + 1000).map(entry);
    t = performance.now();
    tree.insertMany(epoch);
    const epochMs = performance.now() - t;

    // 2-key proofs: one present and one absent key, 200 times.
    let standard = 0;
    let compact = 0;
    let zeros = 0;
    let elements = 0;
    t = performance.now();
    for (let i = 0; i < 200; i++) {
      const present = (leaves[(i * 7919) % n] as PrefixLeaf).vrfOutput;
      const absent = keys[n + 1000 + i] as Uint8Array;
      const proof = tree.prove([present, absent]);
      expect(hex(verifyPrefixProof([present, absent], [tree.get(present), undefined], proof))).toBe(hex(tree.root()));
      const bytes = encodePrefixProof(proof);
      const small = encodeCompactPrefixProof(proof);
      expect(decodeCompactPrefixProof(small)).toEqual(decodePrefixProof(bytes));
      standard += bytes.length;
      compact += small.length;
      elements += proof.elements.length;
      zeros += proof.elements.filter((e) => hex(e) === hex(ZERO)).length;
    }
    const proveMs = (performance.now() - t) / 200;
    // Two absent keys and two present keys, 200 times each, for the compact saving.
    let savedAbsent = 0;
    let savedPresent = 0;
    for (let i = 0; i < 200; i++) {
      const absent = tree.prove([keys[n + 1000 + i] as Uint8Array, keys[n + 1200 + i] as Uint8Array]);
      savedAbsent += encodePrefixProof(absent).length - encodeCompactPrefixProof(absent).length;
      const present = tree.prove([(leaves[i] as PrefixLeaf).vrfOutput, (leaves[n - 1 - i] as PrefixLeaf).vrfOutput]);
      savedPresent += encodePrefixProof(present).length - encodeCompactPrefixProof(present).length;
    }
    report(
      `prefix tree 10^5: build ${buildMs.toFixed(0)} ms, +10^3 epoch ${epochMs.toFixed(1)} ms, ${(tree.allocatedBytes / 2 ** 20).toFixed(1)} MiB typed arrays, ` +
        `arrayBuffers +${((after.arrayBuffers - before.arrayBuffers) / 2 ** 20).toFixed(1)} MiB; 2-key proof (present + absent): ${(standard / 200).toFixed(1)} B, ` +
        `compact ${(compact / 200).toFixed(1)} B, ${(elements / 200).toFixed(1)} elements of which ${(zeros / 200).toFixed(2)} zero, prove+verify ${proveMs.toFixed(2)} ms; ` +
        `compact saves ${(savedAbsent / 200).toFixed(1)} B (2 absent), ${(savedPresent / 200).toFixed(1)} B (2 present)`,
    );
    expect(tree.allocatedBytes / tree.size).toBeLessThan(200);
    expect(standard / 200).toBeLessThan(1200);
    expect(compact).toBeLessThanOrEqual(standard);
    // The epoch went in incrementally to the same root as a fresh build (the 10^5 + 10^3 reference is too slow here).
    expect(hex(tree.root())).toBe(hex(buildTree([...leaves, ...epoch].reverse()).root()));
  });
});
