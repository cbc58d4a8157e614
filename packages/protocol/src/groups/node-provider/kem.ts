/**
 * What HPKE (./hpke.ts) needs of a KEM (RFC 9180 §4): key generation and derivation, key checks, Encap and Decap
 * on raw byte serializations — identical to ts-mls's default provider's. Implementations: ./dhkem.ts, ./ml-kem.ts,
 * ./x-wing.ts.
 */

export interface KemKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface Kem {
  readonly id: number;
  readonly privateKeyLength: number;
  readonly publicKeyLength: number;
  generateKeyPair(): KemKeyPair;
  deriveKeyPair(ikm: Uint8Array): KemKeyPair;
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /** Normalizes an imported private key (P-521 pre-padding), or throws. */
  checkPrivateKey(privateKey: Uint8Array): Uint8Array;
  checkPublicKey(publicKey: Uint8Array): void;
  encap(publicKey: Uint8Array): { sharedSecret: Uint8Array; enc: Uint8Array };
  decap(enc: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}
