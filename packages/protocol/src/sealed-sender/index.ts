/** Sealed sender: certificates, the account's sealed-sender key, and sealing (docs/protocol.md "Sealed sender"). */
export * from './certificates.js';
export * from './sealed-sender-key.js';
export * from './sealed-sender.js';
export * from './access-key.js';
export * from './profile-cipher.js';
