/**
 * The key-transparency log tree of draft-ietf-keytrans-protocol-06: an append-only, left-balanced binary Merkle tree
 * of log entries, and its batch inclusion/consistency proof ("Tree Construction" → "Log Tree", "Cryptographic
 * Computations" → "Log Tree", "Tree Proofs" → "Log Tree").
 *
 * Structure. A subtree is named by its leaf range [start, start + size). The tree of n leaves splits into a left
 * subtree of the largest power of two < n leaves and a right subtree of the rest, recursively; so every subtree of a
 * power-of-two size is *balanced* and aligned (start is a multiple of size), and it is the same node in every later
 * version of the log. The *full subtrees* of n are the balanced subtrees whose sizes are the binary digits of n, left
 * to right (n = 13 → [0,8) [8,12) [12,13)): the root's left child, its right child's left child, and so on down the
 * right edge. A verifier keeps only their heads, O(log n) values, between proofs.
 *
 * Storage (LogTree). Leaf values live in fixed-size chunks of 32-byte slots (no copy on growth); the head of every
 * balanced subtree of 2^CACHED_MIN_LEVEL or more leaves is cached per level when its last leaf arrives, so a head of
 * any level costs at most 2^CACHED_MIN_LEVEL − 1 hashes and a root or a proof O(log n + 2^CACHED_MIN_LEVEL) hashes.
 * Memory is 32 bytes per leaf plus 32 / 2^(CACHED_MIN_LEVEL − 1) bytes per leaf for the cache: about 36 MB for 10^6.
 *
 * The batch proof. The verifier knows the values of the leaves it asks about and the retained full-subtree heads of
 * the previous size m. Walking down from the root, a subtree holding none of those is sent as the heads of its
 * balanced parts; one that holds some is split; a retained head with no requested leaf inside is used as is, and one
 * with requested leaves inside is recomputed from them and MUST equal the retained value ("Tree Proofs" → "Log Tree"
 * edge case). Retained heads are always used, never bypassed by a sent ancestor: that use is what makes the proof a
 * consistency proof. The prover and the verifier run the one walk (walkBatch), so they cannot disagree on the shape
 * (the strategy of appendix "CombinedTreeProof Implementation"). The appendix "Worked Example" (13 entries, 4
 * retained, leaves 7, 11, 12) is among the tests.
 *
 * Sizes are JavaScript numbers (safe integers, at most 2^53 − 1; the draft's tree sizes are uint64): all index
 * arithmetic here avoids 32-bit bitwise operators.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

/** A synchronous hash function: the cipher suite's `Hash`. */
export type HashFunction = (data: Uint8Array) => Uint8Array;

/** "Cryptographic Computations": Hash.Nh of the SHA-256 cipher suites, the length of every node value. */
export const LOG_HASH_LENGTH = 32;

/** "Cryptographic Computations" → "Log Tree": hashContent prefixes a leaf's value with 0x00 ... */
const LEAF_CONTENT_PREFIX = 0x00;
/** ... and a parent's value with 0x01. */
const PARENT_CONTENT_PREFIX = 0x01;

/** "Tree Proofs" → "Log Tree": `HashValue elements<0..2^16-1>`, a byte length in a 2-byte prefix. */
const ELEMENTS_LENGTH_PREFIX = 2;
const MAX_ELEMENTS_BYTES = 0xffff;
/** The most elements an encodable InclusionProof can hold (2047). */
export const MAX_PROOF_ELEMENTS = Math.floor(MAX_ELEMENTS_BYTES / LOG_HASH_LENGTH);

/** "Cryptographic Computations" → "Log Tree": LogEntry is uint64 timestamp || prefix_tree[Nh]. */
const TIMESTAMP_BYTES = 8;
const LOG_ENTRY_BYTES = TIMESTAMP_BYTES + LOG_HASH_LENGTH;
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/** The largest tree size we represent: index arithmetic stays exact in doubles. */
export const MAX_LOG_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * Heads of balanced subtrees of at least 2^CACHED_MIN_LEVEL leaves are cached; smaller ones are recomputed from the
 * leaves (at most 15 hashes). 4 keeps the cache at 1/8 of the leaf storage.
 */
const CACHED_MIN_LEVEL = 4;

/** Leaf values per storage chunk (128 KiB chunks). */
const CHUNK_VALUES = 4096;

/** A subtree as its leaf range [start, start + size). */
export interface SubtreeRange {
  readonly start: number;
  readonly size: number;
}

/** "Tree Proofs" → "Log Tree": the batch proof, head values of balanced subtrees in left-to-right order. */
export interface InclusionProof {
  readonly elements: readonly Uint8Array[];
}

/** A leaf the verifier wants proved included, with the value it expects there. */
export interface ProvenLeaf {
  readonly index: number;
  readonly value: Uint8Array;
}

/** What a verifier keeps between proofs: the full-subtree heads of the log at `size` ("Tree Proofs" → "Log Tree"). */
export interface RetainedSubtrees {
  readonly size: number;
  /** fullSubtreeValues(size), left to right. */
  readonly values: readonly Uint8Array[];
}

export interface BatchProofResult {
  /** The root value of the log of the proof's size; the caller compares it with the signed tree head. */
  readonly root: Uint8Array;
  /** The full-subtree heads of the new size, to retain for the next proof. */
  readonly retained: RetainedSubtrees;
}

export interface BatchProofOptions {
  /** The size of the tree to prove against (default: the current size); earlier sizes work too. */
  readonly size?: number;
  /** The size whose full-subtree heads the verifier retained, when a consistency proof is wanted (m < size). */
  readonly previousSize?: number;
}

function invalidArgument(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidArgument, message);
}

function invalidProof(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidProof, message);
}

function assertTreeSize(size: number, min: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < min || size > MAX_LOG_TREE_SIZE) {
    throw invalidArgument(`${what} must be an integer in [${min}, 2^53)`);
  }
}

function assertHashValue(value: Uint8Array, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== LOG_HASH_LENGTH) {
    throw invalidArgument(`${what} must be ${LOG_HASH_LENGTH} bytes`);
  }
}

function checkedHash(hash: HashFunction, data: Uint8Array): Uint8Array {
  const out = hash(data);
  if (!(out instanceof Uint8Array) || out.length !== LOG_HASH_LENGTH) {
    throw invalidArgument(`the hash function must return ${LOG_HASH_LENGTH} bytes`);
  }
  return out;
}

// ---- Index arithmetic ("Tree Construction" → "Log Tree": the left-balanced shape) ----

const UINT32_LIMIT = 2 ** 32;

/** The largest power of two strictly below n (n ≥ 2): the size of a non-balanced subtree's left child. */
function largestPowerOfTwoBelow(n: number): number {
  if (n <= UINT32_LIMIT) return 2 ** (31 - Math.clz32(n - 1));
  let p = UINT32_LIMIT;
  while (p * 2 < n) p *= 2;
  return p;
}

/** A balanced subtree has a power-of-two number of leaves. */
function isPowerOfTwo(n: number): boolean {
  let v = n;
  while (v >= UINT32_LIMIT) {
    if (v % 2 !== 0) return false;
    v /= 2;
  }
  return v > 0 && (v & (v - 1)) === 0;
}

/** log2 of a power of two. */
function levelOf(powerOfTwo: number): number {
  return Math.round(Math.log2(powerOfTwo));
}

/**
 * The full subtrees of a log of `size` leaves: its largest balanced subtrees, left to right, one per binary digit of
 * `size` ("Tree Construction" → "Log Tree"). Empty for size 0.
 */
export function fullSubtrees(size: number): SubtreeRange[] {
  assertTreeSize(size, 0, 'tree size');
  const out: SubtreeRange[] = [];
  let start = 0;
  let remaining = size;
  while (remaining > 0) {
    const part = largestPowerOfTwoBelow(remaining + 1);
    out.push({ start, size: part });
    start += part;
    remaining -= part;
  }
  return out;
}

// ---- Node values ("Cryptographic Computations" → "Log Tree") ----

/** The TLS encoding of `struct { uint64 timestamp; opaque prefix_tree[Nh]; } LogEntry`. */
export function encodeLogEntry(timestamp: bigint | number, prefixTree: Uint8Array): Uint8Array {
  const ts = typeof timestamp === 'number' ? timestampFromNumber(timestamp) : timestamp;
  if (typeof ts !== 'bigint' || ts < 0n || ts > MAX_UINT64) throw invalidArgument('timestamp must be a uint64');
  assertHashValue(prefixTree, 'prefix tree root');
  const out = new Uint8Array(LOG_ENTRY_BYTES);
  new DataView(out.buffer).setBigUint64(0, ts);
  out.set(prefixTree, TIMESTAMP_BYTES);
  return out;
}

function timestampFromNumber(timestamp: number): bigint {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalidArgument('timestamp must be a uint64');
  return BigInt(timestamp);
}

/**
 * The value of a log-tree leaf: Hash(LogEntry), the timestamp in milliseconds since the Unix epoch and the prefix
 * tree's root after the entry's changes.
 */
export function logEntryValue(
  timestamp: bigint | number,
  prefixTree: Uint8Array,
  hash: HashFunction = sha256,
): Uint8Array {
  return checkedHash(hash, encodeLogEntry(timestamp, prefixTree));
}

/** parent.value = Hash(hashContent(left) || hashContent(right)); a subtree of one leaf is a leaf node. */
function parentValue(
  hash: HashFunction,
  left: Uint8Array,
  leftSize: number,
  right: Uint8Array,
  rightSize: number,
): Uint8Array {
  const input = new Uint8Array(2 * (1 + LOG_HASH_LENGTH));
  input[0] = leftSize === 1 ? LEAF_CONTENT_PREFIX : PARENT_CONTENT_PREFIX;
  input.set(left, 1);
  input[1 + LOG_HASH_LENGTH] = rightSize === 1 ? LEAF_CONTENT_PREFIX : PARENT_CONTENT_PREFIX;
  input.set(right, 2 + LOG_HASH_LENGTH);
  return checkedHash(hash, input);
}

/**
 * The root of a log from the heads of its full subtrees: each full subtree is the left child of the subtree made of
 * it and everything to its right, so the root folds them from the right.
 */
function foldFullSubtrees(
  hash: HashFunction,
  ranges: readonly SubtreeRange[],
  values: readonly Uint8Array[],
): Uint8Array {
  const last = ranges.length - 1;
  let acc = values[last] as Uint8Array;
  let accSize = (ranges[last] as SubtreeRange).size;
  for (let i = last - 1; i >= 0; i--) {
    const size = (ranges[i] as SubtreeRange).size;
    acc = parentValue(hash, values[i] as Uint8Array, size, acc, accSize);
    accSize += size;
  }
  return acc;
}

// ---- Storage ----

/** An append-only array of 32-byte values in fixed chunks: growth never copies and never doubles the footprint. */
class HashValueStore {
  private readonly chunks: Uint8Array[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(value: Uint8Array): void {
    const slot = this.count % CHUNK_VALUES;
    if (slot === 0) this.chunks.push(new Uint8Array(CHUNK_VALUES * LOG_HASH_LENGTH));
    (this.chunks[this.chunks.length - 1] as Uint8Array).set(value, slot * LOG_HASH_LENGTH);
    this.count++;
  }

  /** A view of value i (the caller must not write to it). */
  get(i: number): Uint8Array {
    const chunk = this.chunks[Math.floor(i / CHUNK_VALUES)] as Uint8Array;
    const offset = (i % CHUNK_VALUES) * LOG_HASH_LENGTH;
    return chunk.subarray(offset, offset + LOG_HASH_LENGTH);
  }
}

// ---- The batch proof walk ("Tree Proofs" → "Log Tree") ----

/** What the walk does at each kind of node; the prover and the verifier differ only here. */
interface BatchVisitor<T> {
  /** A requested leaf: the verifier has its value. */
  leaf(index: number): T;
  /** A balanced subtree with nothing known inside: its head is the next proof element. */
  element(start: number, size: number): T;
  /** A retained full subtree of the previous size with no requested leaf inside. */
  retained(position: number): T;
  /** A retained full subtree recomputed from requested leaves inside it: must match what was retained. */
  checkRetained(position: number, computed: T): void;
  parent(left: T, leftSize: number, right: T, rightSize: number): T;
  /** Every node's value once known (the verifier picks the new full subtrees from these). */
  visited(start: number, size: number, value: T): void;
}

/** The first position in sorted `indices` whose value is ≥ `at`. */
function lowerBound(indices: readonly number[], at: number): number {
  let lo = 0;
  let hi = indices.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((indices[mid] as number) < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Walks the tree of `size` leaves from the root, visiting exactly the nodes the batch proof is made of:
 * `leaves` sorted and distinct, all < size; `previousSize` 0 when nothing is retained, else in [1, size).
 */
function walkBatch<T>(size: number, leaves: readonly number[], previousSize: number, visitor: BatchVisitor<T>): T {
  const retainedAt = new Map<number, { size: number; position: number }>();
  fullSubtrees(previousSize).forEach((range, position) => retainedAt.set(range.start, { size: range.size, position }));

  const visit = (start: number, count: number, insideRetained: boolean): T => {
    const first = lowerBound(leaves, start);
    const hasLeaves = first < leaves.length && (leaves[first] as number) < start + count;
    let value: T;
    const retained = insideRetained ? undefined : retainedAt.get(start);
    if (retained !== undefined && retained.size === count) {
      if (hasLeaves) {
        // The edge case of "Tree Proofs" → "Log Tree": the leaves' proof recomputes a retained head, which must be
        // checked against the retained value rather than silently replacing it.
        value = visit(start, count, true);
        visitor.checkRetained(retained.position, value);
        return value;
      }
      value = visitor.retained(retained.position);
    } else if (count === 1) {
      value = hasLeaves ? visitor.leaf(start) : visitor.element(start, 1);
    } else if (!hasLeaves && isPowerOfTwo(count) && (insideRetained || start >= previousSize)) {
      // A balanced subtree outside the retained range (or inside a retained head being recomputed) with nothing known
      // in it. A balanced subtree that starts below previousSize and is not retained contains retained heads: split.
      value = visitor.element(start, count);
    } else {
      const leftSize = largestPowerOfTwoBelow(count);
      const left = visit(start, leftSize, insideRetained);
      const right = visit(start + leftSize, count - leftSize, insideRetained);
      value = visitor.parent(left, leftSize, right, count - leftSize);
    }
    visitor.visited(start, count, value);
    return value;
  };
  return visit(0, size, false);
}

/** Sorts requested indices and rejects duplicates and indices outside the tree. */
function sortedLeafIndices(indices: readonly number[], size: number): number[] {
  const sorted = [...indices].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const index = sorted[i] as number;
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw invalidArgument('leaf index must be an integer below the tree size');
    }
    if (i > 0 && sorted[i - 1] === index) throw invalidArgument('leaf indices must be distinct');
  }
  return sorted;
}

function assertPreviousSize(previousSize: number, size: number): void {
  assertTreeSize(previousSize, 1, 'previous tree size');
  if (previousSize >= size) throw invalidArgument('previous tree size must be below the tree size');
}

// ---- The tree (prover side) ----

/**
 * An append-only log tree ("Tree Construction" → "Log Tree") holding leaf values and cached balanced-subtree heads.
 *
 * @example
 * const tree = new LogTree();
 * tree.append(Date.now(), prefixRoot);
 * const proof = tree.prove([0], { previousSize });
 */
export class LogTree {
  readonly #hash: HashFunction;
  readonly #leaves = new HashValueStore();
  /** #levels[k - CACHED_MIN_LEVEL].get(j) is the head of the balanced subtree [j·2^k, (j+1)·2^k). */
  readonly #levels: HashValueStore[] = [];

  constructor(hash: HashFunction = sha256) {
    this.#hash = hash;
  }

  /** The number of leaves (log entries). */
  get size(): number {
    return this.#leaves.length;
  }

  /** Appends the log entry (timestamp in ms since the Unix epoch, prefix tree root); returns its leaf index. */
  append(timestamp: bigint | number, prefixTree: Uint8Array): number {
    return this.appendLeafValue(logEntryValue(timestamp, prefixTree, this.#hash));
  }

  /** Appends an already computed leaf value; returns its leaf index. */
  appendLeafValue(value: Uint8Array): number {
    assertHashValue(value, 'leaf value');
    if (this.size >= MAX_LOG_TREE_SIZE) throw invalidArgument('the log tree is full');
    const index = this.size;
    this.#leaves.push(value);
    // Cache the heads of the balanced subtrees this leaf completes (their last leaf is `index`).
    const size = index + 1;
    for (let level = CACHED_MIN_LEVEL, span = 2 ** level; size % span === 0; level++, span *= 2) {
      const start = size - span;
      const half = span / 2;
      const head = parentValue(this.#hash, this.#head(start, half), half, this.#head(start + half, half), half);
      let store = this.#levels[level - CACHED_MIN_LEVEL];
      if (store === undefined) {
        store = new HashValueStore();
        this.#levels.push(store);
      }
      store.push(head);
    }
    return index;
  }

  /** The value of leaf `index` (a copy). */
  leafValue(index: number): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw invalidArgument('leaf index must be an integer below the tree size');
    }
    return this.#leaves.get(index).slice();
  }

  /** The root value of the log as it was with `size` leaves (default: now). */
  root(size: number = this.size): Uint8Array {
    this.#assertSize(size);
    const ranges = fullSubtrees(size);
    return foldFullSubtrees(
      this.#hash,
      ranges,
      ranges.map((range) => this.#head(range.start, range.size)),
    ).slice();
  }

  /** The full-subtree heads of the log at `size` (default: now), left to right: what a verifier retains. */
  fullSubtreeValues(size: number = this.size): Uint8Array[] {
    this.#assertSize(size);
    return fullSubtrees(size).map((range) => this.#head(range.start, range.size).slice());
  }

  /**
   * The batch proof ("Tree Proofs" → "Log Tree") that the leaves at `indices` are in the log of `options.size`
   * leaves (default: now), combined with a consistency proof from `options.previousSize` when given. An empty
   * `indices` with a previous size is a plain consistency proof.
   */
  prove(indices: readonly number[], options: BatchProofOptions = {}): InclusionProof {
    const size = options.size ?? this.size;
    this.#assertSize(size);
    const leaves = sortedLeafIndices(indices, size);
    const previousSize = options.previousSize ?? 0;
    if (options.previousSize !== undefined) assertPreviousSize(previousSize, size);
    const elements: Uint8Array[] = [];
    walkBatch<undefined>(size, leaves, previousSize, {
      leaf: () => undefined,
      element: (start, count) => {
        elements.push(this.#head(start, count).slice());
      },
      retained: () => undefined,
      checkRetained: () => undefined,
      parent: () => undefined,
      visited: () => undefined,
    });
    return { elements };
  }

  #assertSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 1 || size > this.size) {
      throw invalidArgument('tree size must be an integer in [1, current size]');
    }
  }

  /** The head value of the balanced subtree [start, start + size) (a view; callers copy what they hand out). */
  #head(start: number, size: number): Uint8Array {
    if (size === 1) return this.#leaves.get(start);
    const level = levelOf(size);
    if (level >= CACHED_MIN_LEVEL) {
      return (this.#levels[level - CACHED_MIN_LEVEL] as HashValueStore).get(start / size);
    }
    const half = size / 2;
    return parentValue(this.#hash, this.#head(start, half), half, this.#head(start + half, half), half);
  }
}

// ---- The verifier ----

/**
 * Evaluates a batch proof ("Tree Proofs" → "Log Tree") for a log of `size` leaves, from the requested `leaves` with
 * their values, the full-subtree heads `retained` from an earlier size (or undefined) and the proof: returns the
 * candidate root value and the new full-subtree heads to retain. The candidate root proves nothing until the caller
 * checks it: by the tree head signature over it ("User Operations" → "Search": "compute a candidate root value ...
 * verify FullTreeHead"), or with verifyBatchProof against a root already trusted. Throws INVALID_PROOF when the
 * proof has too few or too many elements or a retained head does not match, INVALID_ARGUMENT for indices or sizes
 * out of range.
 */
export function evaluateBatchProof(
  size: number,
  leaves: readonly ProvenLeaf[],
  retained: RetainedSubtrees | undefined,
  proof: InclusionProof,
  hash: HashFunction = sha256,
): BatchProofResult {
  assertTreeSize(size, 1, 'tree size');
  for (const leaf of leaves) assertHashValue(leaf.value, 'leaf value');
  const indices = sortedLeafIndices(
    leaves.map((leaf) => leaf.index),
    size,
  );
  const valueAt = new Map<number, Uint8Array>(leaves.map((leaf) => [leaf.index, leaf.value]));
  let previousSize = 0;
  if (retained !== undefined) {
    assertPreviousSize(retained.size, size);
    if (retained.values.length !== fullSubtrees(retained.size).length) {
      throw invalidArgument('retained values must be the full subtrees of the previous size');
    }
    for (const value of retained.values) assertHashValue(value, 'retained value');
    previousSize = retained.size;
  }
  for (const element of proof.elements) {
    if (!(element instanceof Uint8Array) || element.length !== LOG_HASH_LENGTH) {
      throw invalidProof(`proof elements must be ${LOG_HASH_LENGTH} bytes`);
    }
  }

  // The full subtrees of the new size are nodes on the walk (the balanced left children down the right edge).
  const newFull = new Map<number, { size: number; position: number }>();
  fullSubtrees(size).forEach((range, position) => newFull.set(range.start, { size: range.size, position }));
  const newValues: Uint8Array[] = [];
  let next = 0;
  const root = walkBatch<Uint8Array>(size, indices, previousSize, {
    leaf: (index) => valueAt.get(index) as Uint8Array,
    element: () => {
      const element = proof.elements[next++];
      if (element === undefined) throw invalidProof('the proof has too few elements');
      return element;
    },
    retained: (position) => (retained as RetainedSubtrees).values[position] as Uint8Array,
    checkRetained: (position, computed) => {
      if (!constantTimeEqual(computed, (retained as RetainedSubtrees).values[position] as Uint8Array)) {
        throw invalidProof('a retained subtree head does not match the proof');
      }
    },
    parent: (left, leftSize, right, rightSize) => parentValue(hash, left, leftSize, right, rightSize),
    visited: (start, count, value) => {
      const full = newFull.get(start);
      if (full !== undefined && full.size === count) newValues[full.position] = value;
    },
  });
  if (next !== proof.elements.length) throw invalidProof('the proof has too many elements');
  return {
    root: root.slice(),
    retained: { size, values: newValues.map((value) => value.slice()) },
  };
}

/**
 * Evaluates a batch proof like evaluateBatchProof and checks that it leads to `expectedRoot` (a root already trusted,
 * e.g. from a verified tree head); throws INVALID_PROOF otherwise. Returns the root and the heads to retain.
 */
export function verifyBatchProof(
  size: number,
  leaves: readonly ProvenLeaf[],
  retained: RetainedSubtrees | undefined,
  proof: InclusionProof,
  expectedRoot: Uint8Array,
  hash: HashFunction = sha256,
): BatchProofResult {
  assertHashValue(expectedRoot, 'expected root');
  const result = evaluateBatchProof(size, leaves, retained, proof, hash);
  if (!constantTimeEqual(result.root, expectedRoot)) throw invalidProof('the proof does not lead to the expected root');
  return result;
}

// ---- Encoding ("Tree Proofs" → "Log Tree": struct { HashValue elements<0..2^16-1>; } InclusionProof) ----

/** The TLS encoding of an InclusionProof: a 2-byte byte length, then the 32-byte elements. */
export function encodeInclusionProof(proof: InclusionProof): Uint8Array {
  if (proof.elements.length > MAX_PROOF_ELEMENTS) throw invalidArgument('too many proof elements to encode');
  const length = proof.elements.length * LOG_HASH_LENGTH;
  const out = new Uint8Array(ELEMENTS_LENGTH_PREFIX + length);
  new DataView(out.buffer).setUint16(0, length);
  proof.elements.forEach((element, i) => {
    assertHashValue(element, 'proof element');
    out.set(element, ELEMENTS_LENGTH_PREFIX + i * LOG_HASH_LENGTH);
  });
  return out;
}

/**
 * Reads an InclusionProof starting at `offset` of a larger message; returns it and the offset after it. Throws
 * DECODE_ERROR on truncation or a length that is not a multiple of Nh.
 */
export function readInclusionProof(bytes: Uint8Array, offset = 0): { proof: InclusionProof; offset: number } {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + ELEMENTS_LENGTH_PREFIX > bytes.length) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'inclusion proof truncated');
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(offset);
  if (length % LOG_HASH_LENGTH !== 0) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'inclusion proof length is not a multiple of the hash length');
  }
  const start = offset + ELEMENTS_LENGTH_PREFIX;
  if (start + length > bytes.length) throw new ProtocolError(ProtocolErrorCode.Decode, 'inclusion proof truncated');
  const elements: Uint8Array[] = [];
  for (let at = start; at < start + length; at += LOG_HASH_LENGTH) elements.push(bytes.slice(at, at + LOG_HASH_LENGTH));
  return { proof: { elements }, offset: start + length };
}

/** Decodes an InclusionProof that is the whole of `bytes`; trailing bytes are a DECODE_ERROR. */
export function decodeInclusionProof(bytes: Uint8Array): InclusionProof {
  const { proof, offset } = readInclusionProof(bytes, 0);
  if (offset !== bytes.length) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'trailing bytes after inclusion proof');
  }
  return proof;
}
