/**
 * A third-party auditor of a Samizdat transparency log (draft-ietf-keytrans-protocol-06 §"Third Parties" →
 * "Auditing"): it replays every log entry from the prefix-tree leaves the entry added — never labels or values —
 * checking that each entry's prefix tree is the previous one plus those leaves (no leaf removed or changed: the
 * insertion-only property search.ts relies on), that the log tree of entries it rebuilds has the root the log
 * signed at each size, and that timestamps never go back. It then countersigns the newest head it checked.
 * Pure: the caller fetches entries and stores the state (`samizdat-auditor`).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { LogTree } from './log-tree.js';
import { PrefixTree } from './prefix-tree.js';
import type { PrefixLeaf } from './prefix-tree.js';
import { signAuditorTreeHead, verifyTreeHead } from './tree-head.js';
import type { AuditorTreeHead, KtConfiguration, TreeHead } from './tree-head.js';

export interface AuditedEntry {
  readonly index: number;
  readonly timestamp: number;
  readonly updates: readonly PrefixLeaf[];
  /** The log's signed head for the tree that ends with this entry. */
  readonly treeHead: TreeHead;
}

export class Auditor {
  private readonly logTree = new LogTree();
  private readonly prefixTree = new PrefixTree();
  private lastTimestamp = 0;
  private failure: string | undefined;

  constructor(
    private readonly crypto: CryptoProvider,
    readonly config: KtConfiguration,
  ) {}

  /** Entries checked so far. */
  get size(): number {
    return this.logTree.size;
  }

  get prefixSize(): number {
    return this.prefixTree.size;
  }

  /**
   * Checks the next entry; INVALID_PROOF when the log misbehaved. After that the auditor refuses every further
   * entry and never countersigns again: a log caught once is not vouched for.
   */
  async check(entry: AuditedEntry): Promise<void> {
    if (this.failure !== undefined) throw new ProtocolError(ProtocolErrorCode.InvalidProof, `the log failed its audit before: ${this.failure}`);
    try {
      await this.checkEntry(entry);
    } catch (err) {
      if (ProtocolError.is(err, ProtocolErrorCode.InvalidProof)) this.failure = err.message;
      throw err;
    }
  }

  /** Why the log failed its audit, once it has. */
  get failed(): string | undefined {
    return this.failure;
  }

  private async checkEntry(entry: AuditedEntry): Promise<void> {
    if (entry.index !== this.size) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `the next entry to check is ${this.size}`);
    if (entry.treeHead.treeSize !== entry.index + 1) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the tree head is not for this entry');
    if (entry.timestamp < this.lastTimestamp) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the log went back in time');
    // The prefix tree only grows: a leaf for a search key already present (a changed or replayed version) is refused.
    for (const leaf of entry.updates) {
      if (this.prefixTree.has(leaf.vrfOutput)) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'an entry re-adds a search key the log already holds');
    }
    const prefix = this.prefixTree;
    try {
      prefix.insertMany(entry.updates);
    } catch (err) {
      throw ProtocolError.is(err) ? new ProtocolError(ProtocolErrorCode.InvalidProof, 'an entry repeats a search key') : err;
    }
    this.logTree.append(entry.timestamp, prefix.root());
    try {
      await verifyTreeHead(this.crypto, this.config, entry.treeHead, this.logTree.root());
    } catch (err) {
      throw new ProtocolError(ProtocolErrorCode.InvalidProof, `the log signed another tree at size ${entry.index + 1}: ${err instanceof Error ? err.message : 'bad signature'}`);
    }
    this.lastTimestamp = entry.timestamp;
  }

  /** Countersigns the newest entry checked. */
  async countersign(auditorKey: Uint8Array): Promise<AuditorTreeHead> {
    if (this.size === 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'nothing checked yet');
    if (this.failure !== undefined) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the log failed its audit');
    return signAuditorTreeHead(this.crypto, auditorKey, this.config, this.lastTimestamp, this.size, this.logTree.root());
  }
}
