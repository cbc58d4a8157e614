/**
 * The key-transparency prefix tree of draft-ietf-keytrans-protocol-06 and its batch search proof ("Tree
 * Construction" → "Prefix Tree", "Cryptographic Computations" → "Prefix Tree", "Tree Proofs" → "Prefix Tree").
 *
 * Structure. The tree maps 32-byte search keys (VRF outputs of label-version pairs) to 32-byte commitments. A parent
 * node stands for a prefix its subtree's keys share: its left child holds those continuing with a 0 bit, its right
 * child those continuing with a 1 bit, bits taken most-significant first from byte 0. Each key's leaf sits at the
 * shallowest depth at which the key's prefix is unique — one below the longest prefix it shares with any other key
 * — so the shape depends only on the set of keys, never on the order of insertion, and a chain of one-child parents
 * runs down to where two keys first differ. A parent exists exactly at the prefixes shared by two keys or more;
 * the root is the tree's only node at depth 0 — the all-zero stand-in when the tree is empty, the leaf itself when it
 * holds one key (as in the draft authors' implementation, github.com/Bren2010/katie), a parent otherwise. Values:
 * `leaf = Hash(0x02 || vrf_output || commitment)`, `parent = Hash(0x03 || left || right)`, an all-zero value for a
 * missing child. The log never overwrites a leaf (a new version of a label is a new key): inserting a key already
 * present is an error.
 *
 * Storage (PrefixTree). No JS object per node. Leaves and parents live in pages of PAGE_SIZE records, each page a
 * handful of typed arrays: a leaf is 64 bytes (vrf_output || commitment, which is also its hash input after the
 * domain byte), a parent is two Int32 child references, its 32-byte value and a dirty byte — 41 bytes. Pages are
 * added, never copied, so growth has no transient doubling and wastes at most one page. A child reference is 0 for
 * none, p + 1 for parent p, ~l (negative) for leaf l. Leaf values are not stored: a leaf is hashed when its parent
 * is, which happens once per batch it is touched by. About 1.44 parents per leaf in a random tree make ~124 bytes
 * per leaf: 118 MiB measured for 10^6 leaves.
 *
 * Batches. `insertMany` walks each new key down from the root, marking the parents it passes dirty, and attaches
 * the leaf (adding the chain of parents down to the first differing bit when it meets another key's leaf); then it
 * rehashes the dirty parents once, bottom-up, descending only into dirty subtrees. A batch that fails (a key already
 * present, in the tree or twice in the batch) is undone: the tree is left as it was.
 *
 * Proofs. `prove(keys)` walks the tree once for all keys, splitting the set of keys by bit at each parent; a subtree
 * none of them enters contributes its value to `elements`, left to right (all zero when absent); each key stops at
 * its terminal node: its own leaf (inclusion), another key's leaf (nonInclusionLeaf, the leaf is sent) or a missing
 * child (nonInclusionParent). `verifyPrefixProof` rebuilds the same skeleton from the keys and the depths, checks
 * that keys meeting at a node agree on it, consumes every element exactly once and returns the root it computes,
 * which the caller compares with the root it trusts. Soundness rests on the domain bytes: a terminal claimed at a
 * depth where the real tree has a parent would need `Hash(0x02 || ·) = Hash(0x03 || ·)` (or an all-zero hash), so a
 * key that is in the tree cannot be proven absent, at any claimed depth.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { TlsReader, TlsWriter } from './tls.js';

/** A synchronous hash function: the cipher suite's `Hash` (SHA-256 in both of the draft's suites). */
export type PrefixHashFunction = (data: Uint8Array) => Uint8Array;

/** "KT Cipher Suites" (KT_128_SHA256_Ed25519): VRF.Nh, the length of a search key. */
export const PREFIX_KEY_LENGTH = 32;
/** "Cryptographic Computations": Hash.Nh, the length of a node value and of a commitment. */
export const PREFIX_HASH_LENGTH = 32;
/** A key has 256 bits: two keys that differ only in the last one put their leaves at depth 256. */
export const PREFIX_MAX_DEPTH = 256;

/** "Cryptographic Computations" → "Prefix Tree": `leaf.value = Hash(0x02 || vrf_output || commitment)`. */
const LEAF_DOMAIN = 0x02;
/** "Cryptographic Computations" → "Prefix Tree": `parent.value = Hash(0x03 || left.value || right.value)`. */
const PARENT_DOMAIN = 0x03;

/** "Tree Proofs" → "Prefix Tree": `PrefixSearchResult results<0..2^8-1>`, a byte length in one byte. */
const MAX_RESULTS_BYTES = 0xff;
/** The compact form's `results<0..2^16-1>`. */
const COMPACT_MAX_RESULTS_BYTES = 0xffff;
/** "Tree Proofs" → "Prefix Tree": `HashValue elements<0..2^16-1>`, a byte length in two bytes. */
const MAX_ELEMENTS_BYTES = 0xffff;
/** The most elements an encodable PrefixProof holds (2047). */
export const MAX_PREFIX_PROOF_ELEMENTS = Math.floor(MAX_ELEMENTS_BYTES / PREFIX_HASH_LENGTH);
/** `uint8 depth`: the deepest terminal an encoded PrefixSearchResult can name. */
const MAX_ENCODED_DEPTH = 0xff;

/** "Tree Proofs" → "Prefix Tree": `enum { reserved(0), inclusion(1), nonInclusionLeaf(2), nonInclusionParent(3) }`. */
export const PrefixSearchResultType = {
  inclusion: 1,
  nonInclusionLeaf: 2,
  nonInclusionParent: 3,
} as const;
export type PrefixSearchResultType = (typeof PrefixSearchResultType)[keyof typeof PrefixSearchResultType];

/** "Tree Proofs" → "Prefix Tree": `struct { opaque vrf_output[VRF.Nh]; opaque commitment[Hash.Nh]; } PrefixLeaf`. */
export interface PrefixLeaf {
  readonly vrfOutput: Uint8Array;
  readonly commitment: Uint8Array;
}

/**
 * "Tree Proofs" → "Prefix Tree": where the search for one key ended. `depth` is the terminal node's (the root is at
 * 0); for nonInclusionParent it is the depth of the missing (stand-in) child, not of its parent.
 */
export type PrefixSearchResult =
  | { readonly type: 'inclusion'; readonly depth: number }
  | { readonly type: 'nonInclusionLeaf'; readonly leaf: PrefixLeaf; readonly depth: number }
  | { readonly type: 'nonInclusionParent'; readonly depth: number };

/** "Tree Proofs" → "Prefix Tree": `PrefixProof`, one result per searched key in the order asked, and the copath. */
export interface PrefixProof {
  readonly results: readonly PrefixSearchResult[];
  /** The fewest node values that hash with the terminal nodes up to the root, left to right; zero for none. */
  readonly elements: readonly Uint8Array[];
}

function invalidArgument(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidArgument, message);
}

function invalidProof(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidProof, message);
}

function decodeError(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.Decode, message);
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function assertKey(key: unknown): asserts key is Uint8Array {
  if (!isBytes(key, PREFIX_KEY_LENGTH)) throw invalidArgument(`a prefix tree search key must be ${PREFIX_KEY_LENGTH} bytes`);
}

function assertCommitment(commitment: unknown): asserts commitment is Uint8Array {
  if (!isBytes(commitment, PREFIX_HASH_LENGTH)) throw invalidArgument(`a commitment must be ${PREFIX_HASH_LENGTH} bytes`);
}

/** "Tree Construction" → "Prefix Tree": bit `depth` of a key, most-significant bit of byte 0 first. */
function bitAt(bytes: Uint8Array, offset: number, depth: number): number {
  return ((bytes[offset + (depth >>> 3)] as number) >>> (7 - (depth & 7))) & 1;
}

/** The number of leading bits `a` (at offset `aOffset`) and `b` share: 256 when equal. */
function sharedPrefixBits(a: Uint8Array, aOffset: number, b: Uint8Array): number {
  for (let i = 0; i < PREFIX_KEY_LENGTH; i++) {
    const x = (a[aOffset + i] as number) ^ (b[i] as number);
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return PREFIX_MAX_DEPTH;
}

function digest(hash: PrefixHashFunction, data: Uint8Array): Uint8Array {
  const out = hash(data);
  if (!isBytes(out, PREFIX_HASH_LENGTH)) throw invalidArgument(`the prefix tree hash must return ${PREFIX_HASH_LENGTH} bytes`);
  return out;
}

/** "Cryptographic Computations" → "Prefix Tree": the value of a leaf. */
export function prefixLeafValue(leaf: PrefixLeaf, hash: PrefixHashFunction = sha256): Uint8Array {
  assertKey(leaf.vrfOutput);
  assertCommitment(leaf.commitment);
  const input = new Uint8Array(1 + PREFIX_KEY_LENGTH + PREFIX_HASH_LENGTH);
  input[0] = LEAF_DOMAIN;
  input.set(leaf.vrfOutput, 1);
  input.set(leaf.commitment, 1 + PREFIX_KEY_LENGTH);
  return digest(hash, input);
}

/** "Cryptographic Computations" → "Prefix Tree": the value of a parent (an all-zero value for a missing child). */
export function prefixParentValue(left: Uint8Array, right: Uint8Array, hash: PrefixHashFunction = sha256): Uint8Array {
  if (!isBytes(left, PREFIX_HASH_LENGTH) || !isBytes(right, PREFIX_HASH_LENGTH)) throw invalidArgument(`a node value must be ${PREFIX_HASH_LENGTH} bytes`);
  const input = new Uint8Array(1 + 2 * PREFIX_HASH_LENGTH);
  input[0] = PARENT_DOMAIN;
  input.set(left, 1);
  input.set(right, 1 + PREFIX_HASH_LENGTH);
  return digest(hash, input);
}

/** Search keys of a proof: at least one, each 32 bytes, no two equal (each has one result). */
function checkSearchKeys(keys: readonly Uint8Array[]): void {
  if (!Array.isArray(keys) || keys.length === 0) throw invalidArgument('a prefix proof searches for at least one key');
  for (const key of keys) assertKey(key);
  const sorted = [...keys].sort(compareBytes);
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes(sorted[i - 1] as Uint8Array, sorted[i] as Uint8Array) === 0) throw invalidArgument('a prefix proof searches for each key once');
  }
}

/** Splits key indices by bit `depth` of their keys (stable, so left-to-right order holds). */
function splitByBit(group: readonly number[], keys: readonly Uint8Array[], depth: number): [number[], number[]] {
  const left: number[] = [];
  const right: number[] = [];
  for (const i of group) (bitAt(keys[i] as Uint8Array, 0, depth) === 0 ? left : right).push(i);
  return [left, right];
}

/** Records per page: 4096 leaves are 256 KiB, 4096 parents 164 KiB. */
const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_SIZE - 1;
/** A leaf record: vrf_output || commitment. */
const LEAF_BYTES = PREFIX_KEY_LENGTH + PREFIX_HASH_LENGTH;

/** Options of a PrefixTree. */
export interface PrefixTreeOptions {
  /** The cipher suite's hash; SHA-256 (@noble/hashes) by default. */
  readonly hash?: PrefixHashFunction;
}

/**
 * A mutable in-memory prefix tree (the log's current one). Synchronous, no I/O.
 *
 * @example
 * const tree = new PrefixTree();
 * tree.insertMany([{ vrfOutput, commitment }]);
 * const proof = tree.prove([vrfOutput]);
 * verifyPrefixProof([vrfOutput], [commitment], proof); // → tree.root()
 */
export class PrefixTree {
  private readonly hash: PrefixHashFunction;
  /** LEAF_BYTES per leaf. */
  private readonly leafPages: Uint8Array[] = [];
  /** Two child references per parent: left, right. */
  private readonly childPages: Int32Array[] = [];
  /** PREFIX_HASH_LENGTH per parent: its value, valid unless dirty. */
  private readonly valuePages: Uint8Array[] = [];
  /** One byte per parent: 1 while its value waits to be recomputed. */
  private readonly dirtyPages: Uint8Array[] = [];
  private leafCount = 0;
  private parentCount = 0;
  /** The reference of the node at depth 0. */
  private rootRef = 0;
  /** Hash inputs, reused: 0x03 || left || right, and 0x02 || vrf_output || commitment. */
  private readonly parentInput = new Uint8Array(1 + 2 * PREFIX_HASH_LENGTH);
  private readonly leafInput = new Uint8Array(1 + LEAF_BYTES);

  constructor(options: PrefixTreeOptions = {}) {
    this.hash = options.hash ?? sha256;
    this.parentInput[0] = PARENT_DOMAIN;
    this.leafInput[0] = LEAF_DOMAIN;
  }

  /** The number of leaves. */
  get size(): number {
    return this.leafCount;
  }

  /** Bytes of the typed arrays holding the tree (the pages allocated). */
  get allocatedBytes(): number {
    let bytes = 0;
    for (const page of this.leafPages) bytes += page.byteLength;
    for (const page of this.childPages) bytes += page.byteLength;
    for (const page of this.valuePages) bytes += page.byteLength;
    for (const page of this.dirtyPages) bytes += page.byteLength;
    return bytes;
  }

  /** The root value: all zero for an empty tree. */
  root(): Uint8Array {
    const out = new Uint8Array(PREFIX_HASH_LENGTH);
    this.writeValue(this.rootRef, out, 0);
    return out;
  }

  /** True when `key` has a leaf. */
  has(key: Uint8Array): boolean {
    assertKey(key);
    return this.find(key) >= 0;
  }

  /** The commitment stored under `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    assertKey(key);
    const leaf = this.find(key);
    if (leaf < 0) return undefined;
    const offset = (leaf & PAGE_MASK) * LEAF_BYTES + PREFIX_KEY_LENGTH;
    return (this.leafPages[leaf >>> PAGE_SHIFT] as Uint8Array).slice(offset, offset + PREFIX_HASH_LENGTH);
  }

  /** Inserts one leaf (see insertMany). */
  insert(vrfOutput: Uint8Array, commitment: Uint8Array): void {
    this.insertMany([{ vrfOutput, commitment }]);
  }

  /**
   * "Tree Construction" → "Prefix Tree": adds the leaves, then recomputes each touched parent once. Throws
   * INVALID_ARGUMENT, leaving the tree unchanged, if a key is malformed or already present (in the tree or earlier in
   * the batch).
   */
  insertMany(leaves: readonly PrefixLeaf[]): void {
    if (!Array.isArray(leaves)) throw invalidArgument('insertMany takes an array of leaves');
    for (const leaf of leaves) {
      assertKey(leaf.vrfOutput);
      assertCommitment(leaf.commitment);
    }
    const leafCount = this.leafCount;
    const parentCount = this.parentCount;
    const rootRef = this.rootRef;
    const undo: number[] = [];
    try {
      for (const leaf of leaves) this.insertOne(leaf.vrfOutput, leaf.commitment, parentCount, undo);
    } catch (err) {
      for (let i = undo.length - 2; i >= 0; i -= 2) this.setSlot(undo[i] as number, undo[i + 1] as number);
      this.rootRef = rootRef;
      this.leafCount = leafCount;
      this.parentCount = parentCount;
      // The parents that existed before keep their values; only their dirty marks must go.
      if (rootRef > 0) this.clearDirty(rootRef - 1);
      throw err;
    }
    if (this.rootRef > 0 && this.isDirty(this.rootRef - 1)) this.rehash(this.rootRef - 1);
  }

  /**
   * "Tree Proofs" → "Prefix Tree": a batch search proof for `keys` (distinct, 32 bytes each), results in their
   * order. The caller learns which keys are present from the result types.
   */
  prove(keys: readonly Uint8Array[]): PrefixProof {
    checkSearchKeys(keys);
    const results = new Array<PrefixSearchResult>(keys.length);
    const elements: Uint8Array[] = [];
    this.proveNode(this.rootRef, 0, keys.map((_, i) => i), keys, results, elements);
    return { results, elements };
  }

  private proveNode(ref: number, depth: number, group: number[], keys: readonly Uint8Array[], results: PrefixSearchResult[], elements: Uint8Array[]): void {
    if (group.length === 0) {
      const value = new Uint8Array(PREFIX_HASH_LENGTH);
      this.writeValue(ref, value, 0);
      elements.push(value);
    } else if (ref === 0) {
      for (const i of group) results[i] = { type: 'nonInclusionParent', depth };
    } else if (ref < 0) {
      const leaf = ~ref;
      const page = this.leafPages[leaf >>> PAGE_SHIFT] as Uint8Array;
      const offset = (leaf & PAGE_MASK) * LEAF_BYTES;
      for (const i of group) {
        if (sharedPrefixBits(page, offset, keys[i] as Uint8Array) === PREFIX_MAX_DEPTH) {
          results[i] = { type: 'inclusion', depth };
        } else {
          const vrfOutput = page.slice(offset, offset + PREFIX_KEY_LENGTH);
          const commitment = page.slice(offset + PREFIX_KEY_LENGTH, offset + LEAF_BYTES);
          results[i] = { type: 'nonInclusionLeaf', leaf: { vrfOutput, commitment }, depth };
        }
      }
    } else {
      const parent = ref - 1;
      const [left, right] = splitByBit(group, keys, depth);
      this.proveNode(this.getSlot(parent * 2), depth + 1, left, keys, results, elements);
      this.proveNode(this.getSlot(parent * 2 + 1), depth + 1, right, keys, results, elements);
    }
  }

  /** The leaf index of `key`, or -1. */
  private find(key: Uint8Array): number {
    let ref = this.rootRef;
    let depth = 0;
    while (ref > 0) {
      ref = this.getSlot((ref - 1) * 2 + bitAt(key, 0, depth));
      depth++;
    }
    if (ref === 0) return -1;
    const leaf = ~ref;
    const offset = (leaf & PAGE_MASK) * LEAF_BYTES;
    return sharedPrefixBits(this.leafPages[leaf >>> PAGE_SHIFT] as Uint8Array, offset, key) === PREFIX_MAX_DEPTH ? leaf : -1;
  }

  /**
   * "Tree Construction" → "Prefix Tree": search for the key; at a missing child add the leaf there, at another
   * key's leaf add intermediate parents down to the first bit where the two keys differ. Slots of parents older than
   * the batch (index < `oldParents`) are logged in `undo` as (slot, previous reference).
   */
  private insertOne(key: Uint8Array, commitment: Uint8Array, oldParents: number, undo: number[]): void {
    let ref = this.rootRef;
    let slot = -1;
    let depth = 0;
    while (ref > 0) {
      const parent = ref - 1;
      (this.dirtyPages[parent >>> PAGE_SHIFT] as Uint8Array)[parent & PAGE_MASK] = 1;
      slot = parent * 2 + bitAt(key, 0, depth);
      ref = this.getSlot(slot);
      depth++;
    }
    let replacement: number;
    if (ref === 0) {
      replacement = ~this.newLeaf(key, commitment);
    } else {
      const other = ~ref;
      const differing = sharedPrefixBits(this.leafPages[other >>> PAGE_SHIFT] as Uint8Array, (other & PAGE_MASK) * LEAF_BYTES, key);
      if (differing === PREFIX_MAX_DEPTH) throw invalidArgument('the search key is already in the prefix tree');
      // The two keys share `differing` ≥ depth bits: parents at depths depth..differing, the last one splitting them.
      const leaf = this.newLeaf(key, commitment);
      const top = this.newParent();
      let parent = top;
      for (let d = depth; d < differing; d++) {
        const next = this.newParent();
        this.setSlot(parent * 2 + bitAt(key, 0, d), next + 1);
        parent = next;
      }
      const bit = bitAt(key, 0, differing);
      this.setSlot(parent * 2 + bit, ~leaf);
      this.setSlot(parent * 2 + (bit ^ 1), ref);
      replacement = top + 1;
    }
    if (slot < 0) {
      this.rootRef = replacement;
    } else {
      if (slot >>> 1 < oldParents) undo.push(slot, ref);
      this.setSlot(slot, replacement);
    }
  }

  private newLeaf(key: Uint8Array, commitment: Uint8Array): number {
    const leaf = this.leafCount;
    if (leaf >= 0x7fffffff) throw invalidArgument('the prefix tree is full');
    const pageIndex = leaf >>> PAGE_SHIFT;
    if (pageIndex === this.leafPages.length) this.leafPages.push(new Uint8Array(PAGE_SIZE * LEAF_BYTES));
    const page = this.leafPages[pageIndex] as Uint8Array;
    const offset = (leaf & PAGE_MASK) * LEAF_BYTES;
    page.set(key, offset);
    page.set(commitment, offset + PREFIX_KEY_LENGTH);
    this.leafCount = leaf + 1;
    return leaf;
  }

  /** A parent with no children, dirty. Indices freed by an undone batch are reused, so every field is reset. */
  private newParent(): number {
    const parent = this.parentCount;
    if (parent >= 0x3fffffff) throw invalidArgument('the prefix tree is full');
    const pageIndex = parent >>> PAGE_SHIFT;
    if (pageIndex === this.childPages.length) {
      this.childPages.push(new Int32Array(PAGE_SIZE * 2));
      this.valuePages.push(new Uint8Array(PAGE_SIZE * PREFIX_HASH_LENGTH));
      this.dirtyPages.push(new Uint8Array(PAGE_SIZE));
    }
    const children = this.childPages[pageIndex] as Int32Array;
    const offset = (parent & PAGE_MASK) * 2;
    children[offset] = 0;
    children[offset + 1] = 0;
    (this.dirtyPages[pageIndex] as Uint8Array)[parent & PAGE_MASK] = 1;
    this.parentCount = parent + 1;
    return parent;
  }

  /** Slot `2p` is parent p's left child, `2p + 1` its right. */
  private getSlot(slot: number): number {
    return (this.childPages[slot >>> (PAGE_SHIFT + 1)] as Int32Array)[slot & (2 * PAGE_SIZE - 1)] as number;
  }

  private setSlot(slot: number, ref: number): void {
    (this.childPages[slot >>> (PAGE_SHIFT + 1)] as Int32Array)[slot & (2 * PAGE_SIZE - 1)] = ref;
  }

  private isDirty(parent: number): boolean {
    return (this.dirtyPages[parent >>> PAGE_SHIFT] as Uint8Array)[parent & PAGE_MASK] === 1;
  }

  /** Recomputes the dirty parents under and including `parent`, children first (depth ≤ 256, so recursion is fine). */
  private rehash(parent: number): void {
    const left = this.getSlot(parent * 2);
    const right = this.getSlot(parent * 2 + 1);
    if (left > 0 && this.isDirty(left - 1)) this.rehash(left - 1);
    if (right > 0 && this.isDirty(right - 1)) this.rehash(right - 1);
    const input = this.parentInput;
    this.writeValue(left, input, 1);
    this.writeValue(right, input, 1 + PREFIX_HASH_LENGTH);
    const value = digest(this.hash, input);
    (this.valuePages[parent >>> PAGE_SHIFT] as Uint8Array).set(value, (parent & PAGE_MASK) * PREFIX_HASH_LENGTH);
    (this.dirtyPages[parent >>> PAGE_SHIFT] as Uint8Array)[parent & PAGE_MASK] = 0;
  }

  private clearDirty(parent: number): void {
    (this.dirtyPages[parent >>> PAGE_SHIFT] as Uint8Array)[parent & PAGE_MASK] = 0;
    for (let bit = 0; bit < 2; bit++) {
      const child = this.getSlot(parent * 2 + bit);
      if (child > 0 && this.isDirty(child - 1)) this.clearDirty(child - 1);
    }
  }

  /** Writes the value of the node `ref` into `out` at `offset` (all zero for a missing node). */
  private writeValue(ref: number, out: Uint8Array, offset: number): void {
    if (ref === 0) {
      out.fill(0, offset, offset + PREFIX_HASH_LENGTH);
    } else if (ref > 0) {
      const parent = ref - 1;
      const start = (parent & PAGE_MASK) * PREFIX_HASH_LENGTH;
      const page = this.valuePages[parent >>> PAGE_SHIFT] as Uint8Array;
      for (let i = 0; i < PREFIX_HASH_LENGTH; i++) out[offset + i] = page[start + i] as number;
    } else {
      const leaf = ~ref;
      const start = (leaf & PAGE_MASK) * LEAF_BYTES;
      const page = this.leafPages[leaf >>> PAGE_SHIFT] as Uint8Array;
      const input = this.leafInput;
      for (let i = 0; i < LEAF_BYTES; i++) input[1 + i] = page[start + i] as number;
      out.set(digest(this.hash, input), offset);
    }
  }
}

function checkProofShape(proof: PrefixProof): void {
  if (proof === null || typeof proof !== 'object' || !Array.isArray(proof.results) || !Array.isArray(proof.elements)) {
    throw invalidArgument('a PrefixProof has results and elements');
  }
  for (const result of proof.results) {
    if (result === null || typeof result !== 'object') throw invalidArgument('a PrefixSearchResult is an object');
    if (!Number.isInteger(result.depth) || result.depth < 0 || result.depth > PREFIX_MAX_DEPTH) {
      throw invalidArgument(`a prefix search depth is 0 to ${PREFIX_MAX_DEPTH}`);
    }
    if (result.type === 'nonInclusionLeaf') {
      if (result.leaf === null || typeof result.leaf !== 'object') throw invalidArgument('a nonInclusionLeaf result carries its leaf');
      assertKey(result.leaf.vrfOutput);
      assertCommitment(result.leaf.commitment);
    } else if (result.type !== 'inclusion' && result.type !== 'nonInclusionParent') {
      throw invalidArgument('unknown PrefixSearchResultType');
    }
  }
  for (const element of proof.elements) {
    if (!isBytes(element, PREFIX_HASH_LENGTH)) throw invalidArgument(`a proof element must be ${PREFIX_HASH_LENGTH} bytes`);
  }
}

/**
 * "Tree Proofs" → "Prefix Tree": the root value `proof` computes for `keys` (the caller compares it with the root it
 * trusts). `commitments[i]` is the commitment the caller expects under `keys[i]`, or undefined when it expects the
 * key absent; a result type that disagrees (inclusion without a commitment, non-inclusion with one) is INVALID_PROOF,
 * so a matching root proves exactly the caller's expectation. Also INVALID_PROOF: a result count other than one per
 * key, depths that leave an element unused or missing, keys whose searches meet at a node but disagree on it, a
 * nonInclusionLeaf whose leaf is the searched key or does not share its first `depth` bits. INVALID_ARGUMENT for
 * malformed inputs (lengths, duplicate keys, depth above 256).
 *
 * @example
 * const root = verifyPrefixProof([present, absent], [commitment, undefined], proof);
 * if (!constantTimeEqual(root, trustedRoot)) throw ...;
 */
export function verifyPrefixProof(
  keys: readonly Uint8Array[],
  commitments: readonly (Uint8Array | undefined)[],
  proof: PrefixProof,
  hash: PrefixHashFunction = sha256,
): Uint8Array {
  checkSearchKeys(keys);
  if (!Array.isArray(commitments) || commitments.length !== keys.length) throw invalidArgument('one commitment (or undefined) per search key');
  for (const commitment of commitments) if (commitment !== undefined) assertCommitment(commitment);
  checkProofShape(proof);
  if (proof.results.length !== keys.length) throw invalidProof('a prefix proof has one result per search key');

  // The terminal node of each search: a leaf record (vrf_output || commitment), or null for a stand-in.
  const terminals: (Uint8Array | null)[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as Uint8Array;
    const result = proof.results[i] as PrefixSearchResult;
    const expected = commitments[i];
    if (result.type === 'inclusion') {
      if (expected === undefined) throw invalidProof('inclusion of a key the caller expects absent');
      const record = new Uint8Array(LEAF_BYTES);
      record.set(key, 0);
      record.set(expected, PREFIX_KEY_LENGTH);
      terminals.push(record);
    } else {
      if (expected !== undefined) throw invalidProof('non-inclusion of a key the caller expects present');
      if (result.type === 'nonInclusionParent') {
        terminals.push(null);
      } else {
        // The leaf found is another key's, sitting where this key's search ended: it shares the first `depth` bits.
        const shared = sharedPrefixBits(result.leaf.vrfOutput, 0, key);
        if (shared === PREFIX_MAX_DEPTH) throw invalidProof('a nonInclusionLeaf result names the searched key');
        if (shared < result.depth) throw invalidProof('a nonInclusionLeaf leaf is not on the search path');
        const record = new Uint8Array(LEAF_BYTES);
        record.set(result.leaf.vrfOutput, 0);
        record.set(result.leaf.commitment, PREFIX_KEY_LENGTH);
        terminals.push(record);
      }
    }
  }

  let next = 0;
  const element = (): Uint8Array => {
    const value = proof.elements[next++];
    if (value === undefined) throw invalidProof('a prefix proof has too few elements');
    return value;
  };
  const evaluate = (depth: number, group: number[]): Uint8Array => {
    let terminal = -1;
    let deeper = false;
    for (const i of group) {
      if ((proof.results[i] as PrefixSearchResult).depth === depth) terminal = i;
      else deeper = true;
    }
    if (terminal >= 0) {
      // A node is a leaf, a stand-in or a parent: searches that reach it must agree on which.
      if (deeper) throw invalidProof('prefix search results disagree on a node');
      const record = terminals[terminal] as Uint8Array | null;
      for (const i of group) {
        const other = terminals[i] as Uint8Array | null;
        if (record === null ? other !== null : other === null || compareBytes(record, other) !== 0) {
          throw invalidProof('prefix search results disagree on a terminal node');
        }
      }
      if (record === null) return new Uint8Array(PREFIX_HASH_LENGTH);
      const input = new Uint8Array(1 + LEAF_BYTES);
      input[0] = LEAF_DOMAIN;
      input.set(record, 1);
      return digest(hash, input);
    }
    // Every search goes deeper (depth < result depth ≤ 256): this is a parent.
    const [left, right] = splitByBit(group, keys, depth);
    const input = new Uint8Array(1 + 2 * PREFIX_HASH_LENGTH);
    input[0] = PARENT_DOMAIN;
    input.set(left.length > 0 ? evaluate(depth + 1, left) : element(), 1);
    input.set(right.length > 0 ? evaluate(depth + 1, right) : element(), 1 + PREFIX_HASH_LENGTH);
    return digest(hash, input);
  };
  const root = evaluate(0, keys.map((_, i) => i));
  if (next !== proof.elements.length) throw invalidProof('a prefix proof has unused elements');
  return root;
}

const TYPE_CODES: Readonly<Record<PrefixSearchResult['type'], PrefixSearchResultType>> = PrefixSearchResultType;

/** Validates what an encoded PrefixProof can hold, with messages saying which limit of the draft is hit. */
function checkEncodable(proof: PrefixProof, maxResultsBytes = MAX_RESULTS_BYTES): void {
  checkProofShape(proof);
  let resultsBytes = 0;
  for (const result of proof.results) {
    if (result.depth > MAX_ENCODED_DEPTH) throw invalidArgument('a depth of 256 does not fit the draft\'s uint8 depth');
    resultsBytes += result.type === 'nonInclusionLeaf' ? 2 + LEAF_BYTES : 2;
  }
  if (resultsBytes > maxResultsBytes) throw invalidArgument(`PrefixProof results exceed ${maxResultsBytes} bytes`);
  if (proof.elements.length > MAX_PREFIX_PROOF_ELEMENTS) throw invalidArgument(`a PrefixProof holds at most ${MAX_PREFIX_PROOF_ELEMENTS} elements`);
}

function writeResult(w: TlsWriter, result: PrefixSearchResult): void {
  w.u8(TYPE_CODES[result.type]);
  if (result.type === 'nonInclusionLeaf') w.fixed(result.leaf.vrfOutput).fixed(result.leaf.commitment);
  w.u8(result.depth);
}

function readResult(r: TlsReader): PrefixSearchResult {
  const type = r.u8('PrefixSearchResult.result_type');
  switch (type) {
    case PrefixSearchResultType.inclusion:
      return { type: 'inclusion', depth: r.u8('PrefixSearchResult.depth') };
    case PrefixSearchResultType.nonInclusionLeaf: {
      const vrfOutput = r.fixed(PREFIX_KEY_LENGTH, 'PrefixLeaf.vrf_output');
      const commitment = r.fixed(PREFIX_HASH_LENGTH, 'PrefixLeaf.commitment');
      return { type: 'nonInclusionLeaf', leaf: { vrfOutput, commitment }, depth: r.u8('PrefixSearchResult.depth') };
    }
    case PrefixSearchResultType.nonInclusionParent:
      return { type: 'nonInclusionParent', depth: r.u8('PrefixSearchResult.depth') };
    default:
      throw decodeError('unknown PrefixSearchResultType');
  }
}

/** "Tree Proofs" → "Prefix Tree": writes `PrefixProof` (inside a larger structure, e.g. a CombinedTreeProof). */
export function writePrefixProof(w: TlsWriter, proof: PrefixProof): void {
  checkEncodable(proof);
  w.list(proof.results, 1, writeResult);
  w.list(proof.elements, 2, (inner, element) => inner.fixed(element));
}

/** "Tree Proofs" → "Prefix Tree": reads a `PrefixProof`; DECODE_ERROR on truncation or an unknown result type. */
export function readPrefixProof(r: TlsReader): PrefixProof {
  const results = r.list(1, 'PrefixProof.results', readResult);
  const raw = r.vector(2, 'PrefixProof.elements');
  if (raw.length % PREFIX_HASH_LENGTH !== 0) throw decodeError('PrefixProof.elements is not a whole number of hash values');
  const elements: Uint8Array[] = [];
  for (let offset = 0; offset < raw.length; offset += PREFIX_HASH_LENGTH) elements.push(raw.slice(offset, offset + PREFIX_HASH_LENGTH));
  return { results, elements };
}

/** The draft's encoding of a PrefixProof. INVALID_ARGUMENT past its limits (255 bytes of results, depth 256). */
export function encodePrefixProof(proof: PrefixProof): Uint8Array {
  const w = new TlsWriter();
  writePrefixProof(w, proof);
  return w.finish();
}

/** Decodes the draft's encoding; DECODE_ERROR on truncation, trailing bytes or an unknown result type. */
export function decodePrefixProof(bytes: Uint8Array): PrefixProof {
  const r = new TlsReader(bytes);
  const proof = readPrefixProof(r);
  r.end('PrefixProof');
  return proof;
}

function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/**
 * Samizdat's compact PrefixProof (not in the draft): the same results (in a vector of up to 2^16 - 1 bytes: the
 * draft's 255 hold only three nonInclusionLeaf results, fewer than the binary ladder of a label with 16 versions
 * needs), then the elements with the all-zero (missing-node) ones replaced by a bitmap —
 *
 *     PrefixSearchResult results<0..2^16-1>;
 *     uint16 element_count;                          // at most 2047, as in the draft's form
 *     opaque zero_bitmap[(element_count + 7) / 8];   // bit i (most-significant first) set: element i is all zero
 *     HashValue nonzero_elements[...];               // the others, in order; none of them all zero
 *
 * It saves 32 bytes per missing node minus the bitmap; it is canonical (one encoding per proof).
 */
export function encodeCompactPrefixProof(proof: PrefixProof): Uint8Array {
  const w = new TlsWriter();
  writeCompactPrefixProof(w, proof);
  return w.finish();
}

/** Writes the compact PrefixProof inside a larger structure (transparency/search.ts). */
export function writeCompactPrefixProof(w: TlsWriter, proof: PrefixProof): void {
  checkEncodable(proof, COMPACT_MAX_RESULTS_BYTES);
  w.list(proof.results, 2, writeResult);
  const count = proof.elements.length;
  const bitmap = new Uint8Array((count + 7) >>> 3);
  proof.elements.forEach((element, i) => {
    if (isZero(element)) bitmap[i >>> 3] = (bitmap[i >>> 3] as number) | (0x80 >>> (i & 7));
  });
  w.u16(count).fixed(bitmap);
  for (const element of proof.elements) if (!isZero(element)) w.fixed(element);
}

/** Decodes the compact form; DECODE_ERROR also for bitmap padding bits set or an all-zero element sent in full. */
export function decodeCompactPrefixProof(bytes: Uint8Array): PrefixProof {
  const r = new TlsReader(bytes);
  const proof = readCompactPrefixProof(r);
  r.end('compact PrefixProof');
  return proof;
}

/** Reads the compact PrefixProof inside a larger structure. */
export function readCompactPrefixProof(r: TlsReader): PrefixProof {
  const results = r.list(2, 'PrefixProof.results', readResult);
  const count = r.u16('compact PrefixProof element_count');
  if (count > MAX_PREFIX_PROOF_ELEMENTS) throw decodeError(`a PrefixProof holds at most ${MAX_PREFIX_PROOF_ELEMENTS} elements`);
  const bitmap = r.fixed((count + 7) >>> 3, 'compact PrefixProof zero_bitmap');
  if ((count & 7) !== 0 && ((bitmap[bitmap.length - 1] as number) & (0xff >>> (count & 7))) !== 0) {
    throw decodeError('compact PrefixProof bitmap padding bits are set');
  }
  const elements: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (((bitmap[i >>> 3] as number) & (0x80 >>> (i & 7))) !== 0) {
      elements.push(new Uint8Array(PREFIX_HASH_LENGTH));
    } else {
      const element = r.fixed(PREFIX_HASH_LENGTH, 'compact PrefixProof element');
      if (isZero(element)) throw decodeError('compact PrefixProof sends an all-zero element in full');
      elements.push(element);
    }
  }
  return { results, elements };
}
