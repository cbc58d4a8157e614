/**
 * The log a Samizdat server keeps (docs/protocol.md "Key transparency"), pure and in memory: labels' versions, the
 * prefix tree of their commitments, the log tree of epochs, the signed tree head, and auditors' countersignatures.
 * The server persists what `publishEpoch` returns and replays it at start (`replay`); nothing here does I/O.
 *
 * - `stage(label, value)` queues a new version for the next epoch (a value equal to the label's latest, staged or
 *   published, is not a change and queues nothing);
 * - `publishEpoch(timestamp)` gives every staged pair its VRF output and a commitment under a fresh opening, adds
 *   them to the prefix tree, appends the log entry (timestamp, prefix root) and signs the new tree head — also
 *   with nothing staged, so the newest entry stays within the clients' max_behind;
 * - `search(label, last)` answers a greatest-version search (search.ts) for a client that last verified `last`;
 * - `epochUpdates(index)` is what an auditor replays: the prefix-tree leaves an entry added, nothing else.
 */
import { constantTimeEqual, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { baseBinaryLadder } from './binary-ladder.js';
import { COMMITMENT_OPENING_LENGTH, commitment, vrfInput } from './commitment.js';
import { LogTree } from './log-tree.js';
import { PrefixTree } from './prefix-tree.js';
import type { PrefixLeaf } from './prefix-tree.js';
import type { AuditorProof, BinaryLadderStep, SearchResponse } from './search.js';
import { signTreeHead, verifyAuditorTreeHead } from './tree-head.js';
import type { AuditorTreeHead, KtConfiguration, TreeHead } from './tree-head.js';
import { vrfOutput32, vrfProofToHash, vrfProve } from './vrf.js';

/** One published version of a label, as the server stores it. */
export interface PublishedVersion {
  readonly label: Uint8Array;
  readonly version: number;
  readonly value: Uint8Array;
  readonly opening: Uint8Array;
  readonly vrfProof: Uint8Array;
}

/** What one epoch added, for storage (and replay at start). */
export interface EpochRecord {
  /** The log entry's index (tree size - 1). */
  readonly index: number;
  readonly timestamp: number;
  readonly versions: readonly PublishedVersion[];
  readonly treeHead: TreeHead;
}

interface StoredVersion {
  readonly value: Uint8Array;
  readonly opening: Uint8Array;
  readonly vrfProof: Uint8Array;
  readonly commitment: Uint8Array;
}

export interface TransparencyLogKeys {
  /** The Ed25519 seed that signs tree heads. */
  readonly signingKey: Uint8Array;
  /** The VRF secret key (an Ed25519 seed, vrf.ts). */
  readonly vrfSecretKey: Uint8Array;
}

/** Bounds the cache of absent versions' VRF proofs (80 bytes each; the oldest goes first). */
const MAX_CACHED_ABSENT_PROOFS = 100_000;


export class TransparencyLog {
  private readonly logTree = new LogTree();
  private readonly prefixTree = new PrefixTree();
  private readonly timestamps: number[] = [];
  private readonly updates: PrefixLeaf[][] = [];
  private readonly labels = new Map<string, StoredVersion[]>();
  private staged: { label: Uint8Array; value: Uint8Array }[] = [];
  private head: TreeHead | undefined;
  /** VRF proofs of versions that do not exist yet (each search of a label proves the next one absent). */
  private readonly absentProofs = new Map<string, Uint8Array>();
  /** By auditor key (hex): its newest countersignature. */
  private readonly auditorHeads = new Map<string, { key: Uint8Array; head: AuditorTreeHead }>();

  constructor(
    private readonly crypto: CryptoProvider,
    readonly config: KtConfiguration,
    private readonly keys: TransparencyLogKeys,
  ) {}

  /** Log entries so far. */
  get size(): number {
    return this.logTree.size;
  }

  get treeHead(): TreeHead | undefined {
    return this.head;
  }

  /** How many label-version pairs the prefix tree holds. */
  get versionCount(): number {
    return this.prefixTree.size;
  }

  /** The label's greatest version, staged or published (-1: none). */
  private latest(label: Uint8Array): { version: number; value: Uint8Array | undefined } {
    const staged = this.staged.filter((s) => constantTimeEqual(s.label, label));
    const published = this.labels.get(toHex(label)) ?? [];
    const count = published.length + staged.length;
    return { version: count - 1, value: staged.at(-1)?.value ?? published.at(-1)?.value };
  }

  /** Queues a new version of `label`; false when `value` is already its latest. */
  stage(label: Uint8Array, value: Uint8Array): boolean {
    const latest = this.latest(label);
    if (latest.value !== undefined && constantTimeEqual(latest.value, value)) return false;
    vrfInput(label, latest.version + 1); // validates the label
    this.staged.push({ label: label.slice(), value: value.slice() });
    return true;
  }

  get stagedCount(): number {
    return this.staged.length;
  }

  /** Publishes what is staged as a new log entry (an empty one when nothing is), and signs the new tree head. */
  async publishEpoch(timestamp: number): Promise<EpochRecord> {
    const last = this.timestamps.at(-1);
    if (last !== undefined && timestamp < last) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'log entries are appended in time order');
    const staged = this.staged;
    const versions: PublishedVersion[] = [];
    const counts = new Map<string, number>();
    for (const { label, value } of staged) {
      const id = toHex(label);
      const version = (this.labels.get(id)?.length ?? 0) + (counts.get(id) ?? 0);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      const vrfProof = await vrfProve(this.crypto, this.keys.vrfSecretKey, vrfInput(label, version));
      versions.push({ label, version, value, opening: this.crypto.randomBytes(COMMITMENT_OPENING_LENGTH), vrfProof });
    }
    const record = await this.apply(timestamp, versions, undefined);
    this.staged = this.staged.slice(staged.length);
    return record;
  }

  /** Rebuilds an epoch from storage (at start), checking that it signs to the stored tree head. */
  async replay(record: EpochRecord): Promise<void> {
    if (record.index !== this.size) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'epochs are replayed in order');
    await this.apply(record.timestamp, record.versions, record.treeHead);
  }

  private async apply(timestamp: number, versions: readonly PublishedVersion[], storedHead: TreeHead | undefined): Promise<EpochRecord> {
    const leaves: PrefixLeaf[] = [];
    const stored: [string, StoredVersion][] = [];
    for (const v of versions) {
      const vrfOutput = vrfOutput32(await vrfProofToHash(this.crypto, v.vrfProof));
      const c = await commitment(this.crypto, v.opening, v.label, v.version, v.value);
      leaves.push({ vrfOutput, commitment: c });
      stored.push([toHex(v.label), { value: v.value, opening: v.opening, vrfProof: v.vrfProof, commitment: c }]);
    }
    this.prefixTree.insertMany(leaves);
    const index = this.logTree.append(timestamp, this.prefixTree.root());
    const root = this.logTree.root();
    const head = storedHead ?? (await signTreeHead(this.crypto, this.keys.signingKey, this.config, index + 1, root));
    if (storedHead !== undefined && storedHead.treeSize !== index + 1) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'the stored tree head is for another size');
    this.timestamps.push(timestamp);
    this.updates.push(leaves);
    for (const [id, version] of stored) {
      const list = this.labels.get(id) ?? [];
      list.push(version);
      this.labels.set(id, list);
    }
    this.head = head;
    return { index, timestamp, versions, treeHead: head };
  }

  /** The prefix-tree leaves log entry `index` added (an auditor replays them). */
  epochUpdates(index: number): { timestamp: number; updates: readonly PrefixLeaf[]; root: Uint8Array } {
    const updates = this.updates[index];
    const timestamp = this.timestamps[index];
    if (updates === undefined || timestamp === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'no such log entry');
    return { timestamp, updates, root: this.logTree.root(index + 1) };
  }

  /** Accepts an auditor's countersignature if it signs this log's root at its size (INVALID_PROOF otherwise). */
  async addAuditorHead(auditorKey: Uint8Array, head: AuditorTreeHead): Promise<void> {
    if (head.treeSize > this.size) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the auditor head is ahead of the log');
    await verifyAuditorTreeHead(this.crypto, this.config, auditorKey, head, this.logTree.root(head.treeSize));
    const known = this.auditorHeads.get(toHex(auditorKey));
    if (!known || known.head.treeSize <= head.treeSize) this.auditorHeads.set(toHex(auditorKey), { key: auditorKey.slice(), head });
  }

  auditorHeadList(): readonly { key: Uint8Array; head: AuditorTreeHead }[] {
    return [...this.auditorHeads.values()];
  }

  private async absentProof(label: Uint8Array, version: number): Promise<Uint8Array> {
    const id = `${toHex(label)}:${version}`;
    let proof = this.absentProofs.get(id);
    if (!proof) {
      proof = await vrfProve(this.crypto, this.keys.vrfSecretKey, vrfInput(label, version));
      if (this.absentProofs.size >= MAX_CACHED_ABSENT_PROOFS) this.absentProofs.delete(this.absentProofs.keys().next().value as string);
      this.absentProofs.set(id, proof);
    }
    return proof;
  }

  /** The published versions of a label (for its owner's records and tests). */
  versionsOf(label: Uint8Array): number {
    return this.labels.get(toHex(label))?.length ?? 0;
  }

  /**
   * A greatest-version search for `label`, for a client whose last verified tree had `last` entries (undefined:
   * none). Undefined when the label has no published version.
   */
  async search(label: Uint8Array, last?: number): Promise<SearchResponse | undefined> {
    const head = this.head;
    const list = this.labels.get(toHex(label));
    if (!head || !list || list.length === 0) return undefined;
    const size = this.size;
    if (last !== undefined && (!Number.isSafeInteger(last) || last < 1 || last > size)) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'last is not a size of this log');
    const version = list.length - 1;
    const target = list[version] as StoredVersion;
    const ladder: BinaryLadderStep[] = [];
    const keys: Uint8Array[] = [];
    for (const v of baseBinaryLadder(version)) {
      const known = list[v];
      // A version that does not exist still gets its VRF proof: it shows where its absence is proved.
      const proof = known?.vrfProof ?? (await this.absentProof(label, v));
      ladder.push(v < version && known ? { proof, commitment: known.commitment } : { proof });
      keys.push(vrfOutput32(await vrfProofToHash(this.crypto, proof)));
    }
    const inclusion = this.logTree.prove([size - 1], last !== undefined && last < size ? { previousSize: last } : {});
    const auditors: AuditorProof[] = this.auditorHeadList().map(({ key, head: auditorHead }) => ({
      auditorKey: key,
      head: auditorHead,
      subtrees: this.logTree.fullSubtreeValues(auditorHead.treeSize),
      consistency: auditorHead.treeSize < size ? this.logTree.prove([], { previousSize: auditorHead.treeSize }) : { elements: [] },
    }));
    return {
      treeHead: head,
      auditors,
      version,
      opening: target.opening,
      value: target.value,
      ladder,
      timestamp: this.timestamps[size - 1] as number,
      prefixProof: this.prefixTree.prove(keys),
      inclusion,
    };
  }
}
