/**
 * @samizdat/protocol — Samizdat's end-to-end encryption, pure TypeScript with no I/O: PQXDH key agreement, the
 * Double Ratchet, Sesame-style multi-device sessions, wire codecs, padding and safety numbers. Crypto runs through
 * a CryptoProvider: `NodeCryptoProvider` (from `@samizdat/protocol/node`) in Node, `WebCryptoProvider` in browsers.
 */
export * from './errors.js';
export type { CryptoProvider, KeyPair, KemEncapsulation } from './crypto/provider.js';
export { WebCryptoProvider } from './crypto/web-provider.js';
export { concatBytes, constantTimeEqual, fromHex, toHex } from './crypto/bytes.js';

export * from './keys/identity.js';
export * from './keys/prekeys.js';
export * from './keys/bundle.js';
export { KEY_TYPE_MLKEM1024, KEY_TYPE_X25519, encodeEc, encodeKem } from './keys/encoding.js';

export { PQXDH_INFO, pqxdhInitiate, pqxdhRespond } from './pqxdh.js';
export type { PqxdhInitiatorResult, PqxdhResponderInput } from './pqxdh.js';
export {
  MAX_PREVIOUS_RECEIVING_KEYS,
  MAX_SKIP,
  MAX_SKIPPED_TOTAL,
  initializeAsInitiator,
  initializeAsResponder,
  ratchetDecrypt,
  ratchetEncrypt,
} from './ratchet/double-ratchet.js';
export { SESSION_STATE_VERSION, decodeSessionState, encodeSessionState } from './ratchet/session-state.js';
export type { SessionState } from './ratchet/session-state.js';

export * from './sessions/stores.js';
export * from './sealed-sender/index.js';
export { InMemoryProtocolStore } from './sessions/in-memory-store.js';
export { CiphertextType, decryptMessage, encryptMessage, processPreKeyBundle, ratchetKeyOf, retireSession, sessionSendingWith } from './sessions/session-cipher.js';
export type { CiphertextMessage, DecryptResult } from './sessions/session-cipher.js';
export { MAX_INACTIVE_SESSIONS, decodeSessionRecord, encodeSessionRecord } from './sessions/session-record.js';
export type { SessionRecord } from './sessions/session-record.js';
export { SessionManager } from './sessions/session-manager.js';
export type { DeviceCiphertext } from './sessions/session-manager.js';

export { BinaryReader, BinaryWriter } from './wire/binary.js';
export * from './wire/envelope.js';
export { pad, unpad, paddedLength } from './wire/padding.js';
export { decodeRatchetMessage, MAX_RATCHET_CIPHERTEXT_LENGTH } from './wire/ratchet-message.js';
export { decodePreKeyMessage, encodePreKeyMessage } from './wire/prekey-message.js';
export type { PreKeyMessage } from './wire/prekey-message.js';
export * from './safety-number.js';
export * from './wire/frames.js';
export {
  LINK_CODE_LENGTH,
  LINK_CODE_VERSION,
  MAX_PROVISIONING_PLAINTEXT,
  PROVISIONING_ADDRESS_LENGTH,
  PROVISIONING_CIPHER_VERSION,
  PROVISIONING_INFO,
  PROVISIONING_PUBLIC_KEY_LENGTH,
  decodeLinkCode,
  encodeLinkCode,
  generateProvisioningKeyPair,
  openProvisioningMessage,
  sealProvisioningMessage,
} from './provisioning-cipher.js';
export type { ProvisioningKeyPair } from './provisioning-cipher.js';

// Groups: MLS (RFC 9420) through our engine over ts-mls. The node:crypto MLS provider is `@samizdat/protocol/groups-node`.
export { MlsEngine } from './groups/mls-engine.js';
export { DEFAULT_GROUP_CIPHER_SUITE, GROUP_ID_LENGTH, KEY_PACKAGE_LIFETIME_SECONDS, RETAINED_EPOCHS } from './groups/engine/types.js';
export type {
  CommitResult,
  DeviceAddress,
  GroupCipherSuite,
  GroupState,
  KeyPackageBundle,
  MessageInfo,
  MlsDeviceIdentity,
  MlsEngineOptions,
  ProcessedMessage,
  ProposalDescription,
} from './groups/engine/types.js';
export type { GroupMember } from './groups/mls-common.js';
export {
  epochAuthenticatorOf,
  epochOf,
  groupIdOf,
  inspectMessage,
  isActiveMember,
  membersOfGroup,
  needsRekey,
  ownMember,
  treeHashOf,
} from './groups/engine/inspect.js';
export { decodeMlsDeviceIdentity, encodeMlsDeviceIdentity } from './groups/engine/codecs.js';
export { MlsDeliveryService } from './groups/delivery-service.js';
export type { DeliveryServiceOptions, PublicGroupView, VerifiedCommit } from './groups/delivery-service.js';
export {
  ACCOUNT_ID_LENGTH,
  DEVICE_CREDENTIAL_SIGNATURE_CONTEXT,
  DEVICE_CREDENTIAL_VERSION,
  decodeDeviceCredential,
  deviceCredentialSignedMessage,
  signDeviceCredential,
  verifyDeviceCredential,
} from './groups/device-credential.js';
export type { DeviceCredential } from './groups/device-credential.js';
export { decodeBase64, encodeBase64 } from './wire/base64.js';
export type { Base64Options } from './wire/base64.js';
export * from './api/index.js';
export * from './transparency/index.js';
