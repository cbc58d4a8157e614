/** Key transparency (docs/protocol.md "Key transparency"): the verifiable structures, proofs and the pure log. */
export { Auditor } from './auditor.js';
export type { AuditedEntry } from './auditor.js';
export { MAX_VERSION, baseBinaryLadder, monitoringBinaryLadder, searchBinaryLadder } from './binary-ladder.js';
export { COMMITMENT_KEY, COMMITMENT_OPENING_LENGTH, MAX_LABEL_LENGTH, MAX_VALUE_LENGTH, commitment, vrfInput } from './commitment.js';
export {
  LabelType,
  accountLabel,
  decodeAccountValue,
  decodeDeviceValue,
  decodeUsernameValue,
  deviceLabel,
  encodeAccountValue,
  encodeDeviceValue,
  encodeUsernameValue,
  usernameLabel,
} from './labels.js';
export type { AccountValue, DeviceValue } from './labels.js';
export {
  LOG_HASH_LENGTH,
  LogTree,
  decodeInclusionProof,
  encodeInclusionProof,
  encodeLogEntry,
  evaluateBatchProof,
  fullSubtrees,
  logEntryValue,
  verifyBatchProof,
} from './log-tree.js';
export type { BatchProofResult, InclusionProof, ProvenLeaf, RetainedSubtrees } from './log-tree.js';
export { PrefixTree, decodeCompactPrefixProof, encodeCompactPrefixProof, verifyPrefixProof } from './prefix-tree.js';
export type { PrefixLeaf, PrefixProof, PrefixSearchResult } from './prefix-tree.js';
export { decodeSearchResponse, encodeSearchResponse, verifySearch } from './search.js';
export type { AuditorProof, BinaryLadderStep, KtViewState, RequiredAuditor, SearchResponse, VerifiedSearch, VerifySearchOptions } from './search.js';
export { TransparencyLog } from './transparency-log.js';
export type { EpochRecord, PublishedVersion, TransparencyLogKeys } from './transparency-log.js';
export {
  KT_CIPHER_SUITE,
  decodeConfiguration,
  encodeConfiguration,
  signAuditorTreeHead,
  signTreeHead,
  verifyAuditorTreeHead,
  verifyTreeHead,
} from './tree-head.js';
export type { AuditorTreeHead, KtConfiguration, TreeHead } from './tree-head.js';
export { VRF_OUTPUT_LENGTH, VRF_PROOF_LENGTH, vrfGenerateKeyPair, vrfOutput32, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerify } from './vrf.js';
