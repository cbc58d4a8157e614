/**
 * X25519, X448, Ed25519 and Ed448 keys (RFC 7748, RFC 8032) as node:crypto KeyObjects, from and to their raw bytes:
 * shared by the DHKEMs, X-Wing and the EdDSA signatures.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { base64url, bytesEqual, fromBase64url } from './bytes.js';

export type OkpCurve = 'X25519' | 'X448' | 'Ed25519' | 'Ed448';

/**
 * Raw OKP keys become KeyObjects through JWK, the cheapest import on Node 20 (see src/crypto/node-provider.ts: Node
 * derives the public key from `d` and ignores `x`, so a placeholder `x` is passed; checked once below).
 */
export function importOkpPrivate(crv: OkpCurve, privateKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d: base64url(privateKey), x: 'AA' }, format: 'jwk' });
}

export function importOkpPublic(crv: OkpCurve, publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: base64url(publicKey) }, format: 'jwk' });
}

export function okpPublicOf(key: KeyObject): Uint8Array {
  return fromBase64url(key.export({ format: 'jwk' }).x);
}

let okpImportChecked = false;
/** Fails closed unless Node builds an OKP private key from `d` alone (RFC 7748 §6.1 Alice's key). */
export function checkOkpImport(): void {
  if (okpImportChecked) return;
  const d = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const x = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
  if (!bytesEqual(okpPublicOf(importOkpPrivate('X25519', d)), x)) {
    throw new Error('node-mls-provider: this Node does not derive an OKP public key from a JWK d');
  }
  okpImportChecked = true;
}
