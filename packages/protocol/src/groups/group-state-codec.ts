/**
 * How a group state is stored (MlsEngine.encodeGroupState / decodeGroupState). ts-mls's own state encoding writes
 * the whole ratchet tree once for the current epoch and once more for each retained past epoch (kept to read late
 * messages), and a client re-encodes and re-decodes the state for every message it sends or receives: at 10,000
 * members that was 61 MB and ~1.3 s to encode, ~2.8 s to decode (bench/groups), per message.
 *
 * Version 2 stores:
 * - the state without any ratchet tree (ts-mls's encodeGroupStateWithoutTree, past epochs taken out);
 * - the current ratchet tree (ts-mls's RFC 9420 ratchet_tree encoding), once;
 * - each past epoch's receiver data (RFC 9420 §8 secrets ts-mls keeps per epoch: resumption PSK, sender-data secret,
 *   secret tree, group context) with its tree as the list of nodes that differ from the current tree — a few
 *   nodes per commit, since ts-mls shares unchanged node objects between epochs.
 * Trees are immutable values here (ts-mls copies a tree to change it), which gives two caches keyed by identity:
 * the encoding of a tree object is kept (a state re-encoded after a message reuses its tree's bytes), and a decoded
 * tree is kept by its tree hash (the GroupContext's, which is the hash of exactly that tree) and handed out as a copy.
 * Version 3 is version 2 with one flags byte after the version byte. Bit 0, `zeroKeyedEpoch`: the current epoch's
 * secret tree (RFC 9420 §9) may have been derived by the broken ts-mls patch of commit 48ca476 from Nh zero bytes
 * instead of the epoch's encryption_secret (docs/protocol.md "Secret trees derived from zeros"), so the client must
 * commit before it encrypts anything in this epoch. Versions 1 and 2 still decode; since nothing in them tells which
 * build wrote them, a state they hold past epoch 0 (created groups start at 0 with a sound tree) decodes flagged.
 */
import { decodeGroupState as mlsDecodeGroupState } from 'ts-mls';
import type { ClientState, Decoder, EpochReceiverData, RatchetTree } from 'ts-mls';
import { toHex } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';
import {
  decodeGroupContext,
  decodeGroupStateWithoutTree,
  decodeNode,
  decodeRatchetTree,
  decodeSecretTree,
  encode,
  encodeGroupContext,
  encodeGroupStateWithoutTree,
  encodeNode,
  encodeRatchetTree,
  secretTreeEncoder,
} from './ts-mls-internals.js';

export const GROUP_STATE_V1 = 0x01;
export const GROUP_STATE_V2 = 0x02;
export const GROUP_STATE_V3 = 0x03;
/** Version 3 flags byte, bit 0: the current epoch's secret tree may be derived from zeros (see above). */
export const GROUP_STATE_FLAG_ZERO_KEYED_EPOCH = 0x01;

/** A ts-mls state without its client configuration (what is stored). */
type StoredState = Omit<ClientState, 'clientConfig'>;

/** What a stored state decodes to: the state, and whether its current epoch must be rotated before any send. */
export interface DecodedGroupState {
  readonly state: StoredState;
  readonly zeroKeyedEpoch: boolean;
}

const MAX_PART = 1 << 30;
const MAX_SMALL = 1 << 20;
/** Decoded trees kept, by total encoded size (a 10,000-member tree is ~15 MB encoded). */
const TREE_CACHE_BYTES = 64 << 20;
const TREE_CACHE_ENTRIES = 16;

const encodedTrees = new WeakMap<RatchetTree, Uint8Array>();
const secretTreeBytes = encode(secretTreeEncoder);

function encodedTree(tree: RatchetTree): Uint8Array {
  let bytes = encodedTrees.get(tree);
  if (bytes === undefined) {
    bytes = encodeRatchetTree(tree);
    encodedTrees.set(tree, bytes);
  }
  return bytes;
}

/**
 * Runs a ts-mls decoder over all of `bytes` from `offset`: DECODE_ERROR with `message` if it fails (ts-mls decoders
 * return undefined or throw) or leaves bytes over.
 */
export function decodeWhole<T>(decoder: Decoder<T>, bytes: Uint8Array, message: string, offset = 0): T {
  let decoded: [T, number] | undefined;
  try {
    decoded = decoder(bytes, offset);
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined || offset + decoded[1] !== bytes.length) throw new ProtocolError(ProtocolErrorCode.Decode, message);
  return decoded[0];
}

function decodeAll<T>(decoder: Decoder<T>, bytes: Uint8Array, what: string): T {
  return decodeWhole(decoder, bytes, `bad group state: ${what}`);
}

/** Version 2: the state without trees, the current tree once, and past epochs' receiver data against it. */
export function encodeGroupStateV2(state: StoredState): Uint8Array {
  return encodeStateBody(state, [GROUP_STATE_V2]);
}

/** Version 3: version 2's fields after a flags byte (only GROUP_STATE_FLAG_ZERO_KEYED_EPOCH is defined). */
export function encodeGroupStateV3(state: StoredState, zeroKeyedEpoch: boolean): Uint8Array {
  return encodeStateBody(state, [GROUP_STATE_V3, zeroKeyedEpoch ? GROUP_STATE_FLAG_ZERO_KEYED_EPOCH : 0]);
}

/** `header` (one byte each), then the fields versions 2 and 3 share. */
function encodeStateBody(state: StoredState, header: readonly number[]): Uint8Array {
  const tree = state.ratchetTree;
  const treeBytes = encodedTree(tree);
  const withoutPast = encodeGroupStateWithoutTree({ ...state, historicalReceiverData: new Map() });
  const past = new BinaryWriter();
  past.varint(state.historicalReceiverData.size);
  for (const [epoch, data] of state.historicalReceiverData) {
    past
      .u64(epoch)
      .bytes(data.resumptionPsk)
      .bytes(data.senderDataSecret)
      .bytes(secretTreeBytes(data.secretTree))
      .bytes(encodeGroupContext(data.groupContext));
    const old = data.ratchetTree;
    const changed: number[] = [];
    for (let i = 0; i < old.length; i++) if (old[i] !== tree[i]) changed.push(i);
    past.varint(old.length).varint(changed.length);
    for (const i of changed) {
      const node = old[i];
      past.varint(i).bool(node !== undefined);
      if (node !== undefined) past.bytes(encodeNode(node));
    }
  }
  const pastBytes = past.finish();
  const out = new BinaryWriter(treeBytes.length + withoutPast.length + pastBytes.length + 16);
  for (const byte of header) out.u8(byte);
  return out.bytes(withoutPast).bytes(treeBytes).fixed(pastBytes).finish();
}

/** Decoded trees by tree hash, for one engine. */
export class TreeCache {
  private readonly trees = new Map<string, { tree: RatchetTree; bytes: number }>();
  private bytes = 0;

  /** The tree `treeBytes` encode, whose hash is `treeHash`: a copy of the one decoded before, if any. */
  tree(treeHash: Uint8Array, treeBytes: Uint8Array): RatchetTree {
    const key = `${toHex(treeHash)}:${treeBytes.length}`;
    let entry = this.trees.get(key);
    if (entry === undefined) {
      entry = { tree: decodeAll(decodeRatchetTree, treeBytes, 'ratchet tree'), bytes: treeBytes.length };
      this.trees.set(key, entry);
      this.bytes += entry.bytes;
      for (const [oldest, old] of this.trees) {
        if (this.bytes <= TREE_CACHE_BYTES && this.trees.size <= TREE_CACHE_ENTRIES) break;
        if (oldest === key) break;
        this.trees.delete(oldest);
        this.bytes -= old.bytes;
      }
    } else {
      this.trees.delete(key); // most recently used last
      this.trees.set(key, entry);
    }
    const copy = entry.tree.slice();
    encodedTrees.set(copy, treeBytes);
    return copy;
  }
}

/**
 * Decodes a stored state of any version. DECODE_ERROR for bad bytes (a flags byte with undefined bits included),
 * UNKNOWN_VERSION for a version not listed above.
 */
export function decodeGroupStateBytes(bytes: Uint8Array, cache: TreeCache): DecodedGroupState {
  if (bytes.length === 0) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown group state version');
  const version = bytes[0];
  if (version === GROUP_STATE_V1) {
    const state = decodeWhole(mlsDecodeGroupState, bytes, 'bad group state: version 1', 1);
    return { state, zeroKeyedEpoch: writtenBeforeFix(state) };
  }
  if (version !== GROUP_STATE_V2 && version !== GROUP_STATE_V3) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown group state version');
  }
  const reader = new BinaryReader(bytes);
  reader.u8('version');
  let flags: number | undefined;
  if (version === GROUP_STATE_V3) {
    flags = reader.u8('flags');
    if ((flags & ~GROUP_STATE_FLAG_ZERO_KEYED_EPOCH) !== 0) {
      throw new ProtocolError(ProtocolErrorCode.Decode, 'bad group state: undefined flags');
    }
  }
  const state = decodeStateBody(reader, cache);
  const zeroKeyedEpoch =
    flags === undefined ? writtenBeforeFix(state) : (flags & GROUP_STATE_FLAG_ZERO_KEYED_EPOCH) !== 0;
  return { state, zeroKeyedEpoch };
}

/**
 * Whether a version 1 or 2 state must be taken as zero-keyed: every one past epoch 0 (its epoch came from a commit or
 * a join, which the broken patch keyed from zeros; a created group's epoch 0 was keyed soundly). Older builds' states
 * are caught too and rotated once for nothing.
 */
function writtenBeforeFix(state: StoredState): boolean {
  return state.groupContext.epoch >= 1n;
}

/** The fields versions 2 and 3 share, to the end of the input. */
function decodeStateBody(reader: BinaryReader, cache: TreeCache): StoredState {
  const withoutTreeBytes = reader.bytes(MAX_PART, 'state');
  const treeBytes = reader.bytes(MAX_PART, 'ratchet tree');
  // The tree hash is read first (from the state's GroupContext) to find the tree in the cache.
  const probe = decodeAll(decodeGroupStateWithoutTree([]), withoutTreeBytes, 'state');
  const tree = cache.tree(probe.groupContext.treeHash, treeBytes);
  const state: StoredState = { ...probe, ratchetTree: tree };
  const past = new Map<bigint, EpochReceiverData>();
  const count = reader.varint('past epochs', 1024);
  for (let e = 0; e < count; e++) {
    const epoch = reader.u64('epoch');
    const resumptionPsk = reader.bytes(MAX_SMALL, 'resumption PSK');
    const senderDataSecret = reader.bytes(MAX_SMALL, 'sender data secret');
    const secretTree = decodeAll(decodeSecretTree, reader.bytes(MAX_PART, 'secret tree'), 'secret tree');
    const groupContext = decodeAll(decodeGroupContext, reader.bytes(MAX_SMALL, 'group context'), 'group context');
    const length = reader.varint('tree length', 1 << 26);
    const old: RatchetTree = tree.slice(0, length);
    while (old.length < length) old.push(undefined);
    const changed = reader.varint('changed nodes', length);
    for (let c = 0; c < changed; c++) {
      const i = reader.varint('node index', length - 1);
      old[i] = reader.bool('node present') ? decodeAll(decodeNode, reader.bytes(MAX_PART, 'node'), 'node') : undefined;
    }
    if (past.has(epoch)) throw new ProtocolError(ProtocolErrorCode.Decode, 'bad group state: epoch twice');
    past.set(epoch, { resumptionPsk, senderDataSecret, secretTree, groupContext, ratchetTree: old });
  }
  reader.end('group state');
  return { ...state, historicalReceiverData: past };
}
