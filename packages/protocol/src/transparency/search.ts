/**
 * A search for the greatest version of a label (draft-ietf-keytrans-protocol-06 §"User Operations" → "Search",
 * §"Greatest-Version Search", §"Binary Ladder"), as Samizdat's log answers and a client verifies it.
 *
 * Our log's prefix trees only ever grow: each log entry's prefix tree is the previous one plus that epoch's new
 * label-version pairs, which is what an auditor checks epoch by epoch (transparency-log.ts `epochUpdates`). So the
 * newest log entry's prefix tree holds every version ever published, and one search binary ladder there pins the
 * greatest version: the response carries that ladder (one VRF proof per looked-up version, the commitments of
 * the versions below the target), one batched PrefixProof for it, and one log-tree proof that the newest entry is
 * the last leaf of a tree head signed by the log and consistent with the last one this client verified. This is
 * the draft's structure with its search reduced to the rightmost log entry (the draft walks the frontier because it
 * cannot assume insertion-only prefix trees without an auditor) — docs/protocol.md "Key transparency".
 *
 * A client keeps, per log, the size of the last tree head it verified, that tree's full subtrees and its newest
 * entry's timestamp (KtViewState): a response for a smaller tree, a tree that does not extend it, or an older
 * timestamp is refused, which catches rollbacks and, given an auditor's countersignature or another client's tree
 * head, forks.
 */
import { constantTimeEqual } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { baseBinaryLadder } from './binary-ladder.js';
import { COMMITMENT_OPENING_LENGTH, MAX_VALUE_LENGTH, commitment, vrfInput } from './commitment.js';
import { LOG_HASH_LENGTH, evaluateBatchProof, logEntryValue } from './log-tree.js';
import type { InclusionProof } from './log-tree.js';
import { readCompactPrefixProof, verifyPrefixProof, writeCompactPrefixProof } from './prefix-tree.js';
import type { PrefixProof } from './prefix-tree.js';
import { TlsReader, TlsWriter } from './tls.js';
import { encodeTreeHead, readTreeHead, verifyAuditorTreeHead, verifyTreeHead } from './tree-head.js';
import type { AuditorTreeHead, KtConfiguration, TreeHead } from './tree-head.js';
import { VRF_PROOF_LENGTH, vrfOutput32, vrfVerify } from './vrf.js';

/** §"Search": `BinaryLadderStep` — the VRF proof of one looked-up version, and its commitment when it exists below the target. */
export interface BinaryLadderStep {
  readonly proof: Uint8Array;
  readonly commitment?: Uint8Array;
}

/** An auditor's countersignature with what proves it covers a prefix of the tree head's log. */
export interface AuditorProof {
  readonly auditorKey: Uint8Array;
  readonly head: AuditorTreeHead;
  /** The full subtrees of the log at `head.treeSize`: they give its root, which the auditor signed. */
  readonly subtrees: readonly Uint8Array[];
  /** Consistency from `head.treeSize` to the tree head's size (empty when they are equal). */
  readonly consistency: InclusionProof;
}

export interface SearchResponse {
  readonly treeHead: TreeHead;
  readonly auditors: readonly AuditorProof[];
  /** The greatest version of the label. */
  readonly version: number;
  readonly opening: Uint8Array;
  readonly value: Uint8Array;
  /** One step per version of `baseBinaryLadder(version)`, in its order. */
  readonly ladder: readonly BinaryLadderStep[];
  /** The newest log entry's timestamp (ms). */
  readonly timestamp: number;
  /** The ladder's lookups in the newest log entry's prefix tree. */
  readonly prefixProof: PrefixProof;
  /** The newest log entry's inclusion, with consistency from the size the client last verified. */
  readonly inclusion: InclusionProof;
}

/** What a client keeps of a log between lookups. */
export interface KtViewState {
  readonly treeSize: number;
  readonly subtrees: readonly Uint8Array[];
  readonly timestamp: number;
}

/** An auditor whose countersignature a client requires. */
export interface RequiredAuditor {
  readonly publicKey: Uint8Array;
  /** How far (ms) the auditor's head may lag behind the newest log entry. */
  readonly maxLag: number;
}

export interface VerifiedSearch {
  readonly version: number;
  readonly value: Uint8Array;
  /** The commitment to that version's value (a client remembers it to notice a change at the same version). */
  readonly commitment: Uint8Array;
  readonly state: KtViewState;
  readonly treeSize: number;
}

export interface VerifySearchOptions {
  readonly state?: KtViewState;
  readonly now: number;
  readonly auditors?: readonly RequiredAuditor[];
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidProof, message);
}


/** The root of a log of `size` entries from its full subtrees (a batch proof with no leaves and nothing retained). */
function rootFromSubtrees(size: number, subtrees: readonly Uint8Array[]): Uint8Array {
  return evaluateBatchProof(size, [], undefined, { elements: subtrees }).root;
}

/**
 * Verifies a SearchResponse for `label` (§"Search", steps 1–6, on our one-entry search): the VRF proofs, the ladder
 * against the claimed greatest version, the commitment to the value, the prefix proof, the log proof against the
 * client's last view, the tree head signature, the timestamp's bounds, and each required auditor's countersignature.
 * Throws INVALID_PROOF on any failure, and changes nothing then (the caller stores the returned state).
 */
export async function verifySearch(
  crypto: CryptoProvider,
  config: KtConfiguration,
  label: Uint8Array,
  response: SearchResponse,
  options: VerifySearchOptions,
): Promise<VerifiedSearch> {
  const { version, ladder, treeHead } = response;
  const versions = baseBinaryLadder(version);
  // Step 2: one step per lookup; commitments exactly for the versions below the target, which exist.
  if (ladder.length !== versions.length) throw invalid('the binary ladder has the wrong number of steps');
  const own = await commitment(crypto, response.opening, label, version, response.value);
  const keys: Uint8Array[] = [];
  const commitments: (Uint8Array | undefined)[] = [];
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i] as number;
    const step = ladder[i] as BinaryLadderStep;
    if ((v < version) !== (step.commitment !== undefined)) throw invalid('a binary ladder step has a commitment where none belongs, or lacks one');
    // Step 3: the search key of each version, from its VRF proof under the log's VRF key.
    const beta = await vrfVerify(crypto, config.vrfPublicKey, vrfInput(label, v), step.proof);
    keys.push(vrfOutput32(beta));
    commitments.push(v === version ? own : v < version ? step.commitment : undefined);
  }
  // Step 4 (§"Greatest-Version Search" step 2, the rightmost entry): versions ≤ target included, the others not.
  const prefixRoot = verifyPrefixProof(keys, commitments, response.prefixProof);

  // Step 5: the newest log entry is the last leaf of the tree; the proof extends what this client retained.
  const size = treeHead.treeSize;
  const leaf = { index: size - 1, value: logEntryValue(response.timestamp, prefixRoot) };
  const state = options.state;
  let root: Uint8Array;
  let subtrees: readonly Uint8Array[];
  if (state === undefined || state.treeSize < size) {
    const result = evaluateBatchProof(size, [leaf], state && { size: state.treeSize, values: state.subtrees }, response.inclusion);
    root = result.root;
    subtrees = result.retained.values;
  } else if (state.treeSize === size) {
    const result = evaluateBatchProof(size, [leaf], undefined, response.inclusion);
    if (result.retained.values.length !== state.subtrees.length || !result.retained.values.every((v, i) => constantTimeEqual(v, state.subtrees[i] as Uint8Array))) {
      throw invalid('the log changed without growing');
    }
    root = result.root;
    subtrees = result.retained.values;
  } else {
    throw invalid(`the log shrank from ${state.treeSize} to ${size} entries (a rollback)`);
  }
  // Step 6: the log signed that root.
  await verifyTreeHead(crypto, config, treeHead, root);

  // §"Full Tree Head Verification": the newest entry is within max_ahead / max_behind of our clock, and not older
  // than the newest one we saw.
  if (response.timestamp - options.now > config.maxAhead) throw invalid('the newest log entry is in the future');
  if (options.now - response.timestamp > config.maxBehind) throw invalid('the newest log entry is too old: the log has stopped or is withheld');
  if (state !== undefined && response.timestamp < state.timestamp) throw invalid('the newest log entry is older than one seen before');

  // §"Auditor Tree Head Signature": each required auditor countersigned a prefix of this log, recently enough.
  for (const required of options.auditors ?? []) {
    const proof = response.auditors.find((a) => constantTimeEqual(a.auditorKey, required.publicKey));
    if (!proof) throw invalid('a required auditor has not countersigned the log');
    const { head } = proof;
    if (head.treeSize > size) throw invalid("the auditor's head is ahead of the log's");
    if (head.timestamp > response.timestamp || response.timestamp - head.timestamp > required.maxLag) throw invalid('the auditor lags too far behind the log');
    const auditedRoot = rootFromSubtrees(head.treeSize, proof.subtrees);
    await verifyAuditorTreeHead(crypto, config, required.publicKey, head, auditedRoot);
    if (head.treeSize === size) {
      if (!constantTimeEqual(auditedRoot, root)) throw invalid('the auditor saw another log (a fork)');
    } else {
      const extended = evaluateBatchProof(size, [], { size: head.treeSize, values: proof.subtrees }, proof.consistency);
      if (!constantTimeEqual(extended.root, root)) throw invalid('the log does not extend what the auditor saw (a fork)');
    }
  }
  return { version, value: response.value, commitment: own, treeSize: size, state: { treeSize: size, subtrees, timestamp: response.timestamp } };
}

// ---- encoding (docs/wire-format.md "Key transparency") ----

/** Our vectors: the draft's shapes, with `binary_ladder` and the prefix proof's results widened to 2-byte lengths. */
export function encodeSearchResponse(response: SearchResponse): Uint8Array {
  if (response.opening.length !== COMMITMENT_OPENING_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'an opening is 16 bytes');
  const w = new TlsWriter().fixed(encodeTreeHead(response.treeHead));
  w.list(response.auditors, 2, (a, proof) => {
    a.fixed(proof.auditorKey).u64(proof.head.timestamp).u64(proof.head.treeSize).vector(proof.head.signature, 2);
    a.list(proof.subtrees, 1, (s, value) => s.fixed(value));
    a.list(proof.consistency.elements, 2, (e, value) => e.fixed(value));
  });
  w.u32(response.version).fixed(response.opening).vector(response.value, 4);
  w.list(response.ladder, 2, (l, step) => {
    l.fixed(step.proof);
    if (step.commitment === undefined) l.u8(0);
    else l.u8(1).fixed(step.commitment);
  });
  w.u64(response.timestamp);
  writeCompactPrefixProof(w, response.prefixProof);
  w.list(response.inclusion.elements, 2, (e, value) => e.fixed(value));
  return w.finish();
}

function readHashes(r: TlsReader, lengthBytes: 1 | 2, what: string): Uint8Array[] {
  const raw = r.vector(lengthBytes, what);
  if (raw.length % LOG_HASH_LENGTH !== 0) throw new ProtocolError(ProtocolErrorCode.Decode, `${what} is not a whole number of hash values`);
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.length; at += LOG_HASH_LENGTH) out.push(raw.slice(at, at + LOG_HASH_LENGTH));
  return out;
}

/** DECODE_ERROR for anything malformed, truncated or followed by more bytes. */
export function decodeSearchResponse(bytes: Uint8Array): SearchResponse {
  const r = new TlsReader(bytes);
  const treeHead = readTreeHead(r);
  const auditors = r.list(2, 'auditors', (a): AuditorProof => {
    const auditorKey = a.fixed(32, 'auditor key');
    const timestamp = a.u64('auditor timestamp');
    const treeSize = a.u64('auditor tree size');
    if (treeSize < 1) throw new ProtocolError(ProtocolErrorCode.Decode, 'an auditor head of an empty tree');
    const signature = a.vector(2, 'auditor signature', 64);
    return { auditorKey, head: { timestamp, treeSize, signature }, subtrees: readHashes(a, 1, 'auditor subtrees'), consistency: { elements: readHashes(a, 2, 'auditor consistency') } };
  });
  const version = r.u32('version');
  const opening = r.fixed(COMMITMENT_OPENING_LENGTH, 'opening');
  const value = r.vector(4, 'value', MAX_VALUE_LENGTH);
  const ladder = r.list(2, 'binary ladder', (l): BinaryLadderStep => {
    const proof = l.fixed(VRF_PROOF_LENGTH, 'VRF proof');
    const commitmentValue = l.optional('commitment', (c) => c.fixed(32, 'commitment'));
    return commitmentValue === undefined ? { proof } : { proof, commitment: commitmentValue };
  });
  const timestamp = r.u64('timestamp');
  const prefixProof = readCompactPrefixProof(r);
  const inclusion = { elements: readHashes(r, 2, 'inclusion') };
  r.end('search response');
  return { treeHead, auditors, version, opening, value, ladder, timestamp, prefixProof, inclusion };
}
