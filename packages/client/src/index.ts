/**
 * @samizdat/client — the Samizdat SDK: identity, devices, sessions, conversations, storage and transport. This entry
 * is isomorphic (Node and browsers); Node-only parts (SQLite storage, proxies, file streams) are in
 * `@samizdat/client/node`.
 */
export * from './errors.js';
export { Client, normalizeServerUrl } from './client.js';
export type {
  ClientEvents,
  ClientOptions,
  ConversationChangedEvent,
  IdentityChangedEvent,
  LinkOptions,
  Peer,
  RegisterOptions,
  SafetyNumberView,
  SendOptions,
  TypingEvent,
  UndecryptableEvent,
} from './client.js';
export type {
  AccountRecord,
  ClientStore,
  ContactRecord,
  ConversationSummary,
  DeviceListRecord,
  GroupRecord,
  MessageRecord,
  MessageStatus,
  Reaction,
  StoreTx,
} from './storage/store.js';
export * from './content/content.js';
export type { DeliveryKind, SealedSenderMode, SealedSenderSettings } from './sealed/sealed-delivery.js';
export type { OwnProfile, ProfileChange } from './contacts/profiles.js';
export { MAX_PROFILE_ABOUT, MAX_PROFILE_NAME } from './contacts/profiles.js';
export type { ConversationState } from './contacts/requests.js';
export {
  ATTACHMENT_DIGEST_LENGTH,
  ATTACHMENT_IV_LENGTH,
  ATTACHMENT_KEY_LENGTH,
  ATTACHMENT_MAC_LENGTH,
  MAX_ATTACHMENT_SIZE,
  attachmentPaddedLength,
  decryptAttachment,
  encryptAttachment,
  encryptedAttachmentLength,
} from './attachments/attachment-cipher.js';
export type { AttachmentPointer, EncryptedAttachment } from './attachments/attachment-cipher.js';
export * from './transport/index.js';
export { IndexedDbClientStore } from './storage/indexeddb/index.js';
export { GROUP_ID_PATTERN, GroupManager } from './groups/group-manager.js';
export type { GroupView } from './groups/group-manager.js';
