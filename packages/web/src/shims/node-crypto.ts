/**
 * Stands in for Node's `crypto` in the browser bundle. @hpke/common (under @hpke/core, which the protocol's
 * provisioning cipher uses) imports it only when globalThis.crypto is missing, which never happens in a page that
 * can run Samizdat at all (WebCrypto needs a secure context); this keeps the build free of a stub chunk and warnings.
 */
export const webcrypto = globalThis.crypto;
export default { webcrypto };
