/** @samizdat/client/node — the Node-only parts of the SDK: SQLite storage, proxy-capable transport, file streams. */
export * from './index.js';
export { SqliteClientStore } from './storage/sqlite/sqlite-store.js';
export { nodeConnector } from './transport/node-connector.js';
export type { NodeConnectorOptions } from './transport/node-connector.js';
export { decryptAttachmentFile, encryptAttachmentFile, encryptAttachmentStream } from './attachments/node-attachment-stream.js';
export type { EncryptedAttachmentFile } from './attachments/node-attachment-stream.js';
