/**
 * The per-account sealed-sender KEM key (docs/protocol.md "Sealed sender"): an X-Wing key pair
 * (draft-connolly-cfrg-xwing-kem: ML-KEM-768 + X25519), the post-quantum recipient key of the outer layer of a
 * sealed envelope, published beside the identity key and signed by it.
 *
 * It is derived from the account's identity key pair rather than stored beside it, so that every device of the
 * account — each holds the identity key pair (provisioning) — has the same key without another secret to carry,
 * and accounts made before sealed sender have one too:
 *
 *   ikm = HKDF-SHA256(IKM = identity X25519 private key || identity Ed25519 seed, salt = "", info = KEY_INFO, L = 32)
 *   (sk, pk) = X-Wing DeriveKeyPair(ikm)                                   (RFC 9180 §7.1.3 interface; X-Wing §5.3)
 *
 * HKDF with a label of its own is the domain separation (RFC 5869 §3.2): the derived key says nothing about the
 * identity keys it comes from, and no other use of those keys derives it. A new identity (re-registration) brings a
 * new sealed-sender key.
 *
 * The published form: u8 version (1) || X-Wing public key (1,216 bytes) || Ed25519 signature (64 bytes) by the
 * identity's signing key over SIGNATURE_CONTEXT || public key. A client uses the key only after checking that
 * signature against the identity key it trusts for the account, so the server cannot substitute its own.
 */
import { XWing } from '@hpke/hybridkem-x-wing';
import { concatBytes, utf8 } from '../crypto/bytes.js';
import { ED25519_SIGNATURE_LENGTH } from '../crypto/provider.js';
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { IdentityKey, IdentityKeyPair } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';

export const SEALED_SENDER_KEY_VERSION = 1;
/** draft-connolly-cfrg-xwing-kem §5: 1,184-byte ML-KEM-768 encapsulation key || 32-byte X25519 key. */
export const XWING_PUBLIC_KEY_LENGTH = 1216;
/** X-Wing's decapsulation key is its 32-byte seed. */
export const XWING_PRIVATE_KEY_LENGTH = 32;
/** The published form: version (1) || X-Wing public key || Ed25519 signature (64). */
export const SEALED_SENDER_KEY_LENGTH = 1 + XWING_PUBLIC_KEY_LENGTH + ED25519_SIGNATURE_LENGTH;

const KEY_INFO = utf8('Samizdat sealed sender KEM key v1');
const SIGNATURE_CONTEXT = utf8('Samizdat sealed sender key v1\0');

const xwing = new XWing();

/** The account's sealed-sender key pair, from its identity key pair (same on every device of the account). */
export async function deriveSealedSenderKeyPair(crypto: CryptoProvider, identity: IdentityKeyPair): Promise<KeyPair> {
  const ikm = await crypto.hkdfSha256(concatBytes(identity.agreement.privateKey, identity.signing.privateKey), new Uint8Array(0), KEY_INFO, 32);
  const pair = await xwing.deriveKeyPair(ikm);
  return {
    privateKey: new Uint8Array(await xwing.serializePrivateKey(pair.privateKey)),
    publicKey: new Uint8Array(await xwing.serializePublicKey(pair.publicKey)),
  };
}

/** The published form of `publicKey`, signed by the identity (see the module comment). */
export async function signSealedSenderKey(crypto: CryptoProvider, identity: IdentityKeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
  if (publicKey.length !== XWING_PUBLIC_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `sealed-sender key must be ${XWING_PUBLIC_KEY_LENGTH} bytes`);
  const signature = await crypto.ed25519Sign(identity.signing.privateKey, concatBytes(SIGNATURE_CONTEXT, publicKey));
  return new BinaryWriter(SEALED_SENDER_KEY_LENGTH).u8(SEALED_SENDER_KEY_VERSION).fixed(publicKey).fixed(signature).finish();
}

/**
 * The X-Wing public key of a published sealed-sender key, once its signature verifies against `identity`:
 * DECODE_ERROR / UNKNOWN_VERSION for malformed bytes, BAD_SIGNATURE when another key signed it.
 */
export async function verifySealedSenderKey(crypto: CryptoProvider, identity: IdentityKey, published: Uint8Array): Promise<Uint8Array> {
  const reader = new BinaryReader(published);
  if (reader.u8('sealed-sender key version') !== SEALED_SENDER_KEY_VERSION) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown sealed-sender key version');
  const publicKey = reader.fixed(XWING_PUBLIC_KEY_LENGTH, 'sealed-sender key');
  const signature = reader.fixed(ED25519_SIGNATURE_LENGTH, 'sealed-sender key signature');
  reader.end('sealed-sender key');
  if (!(await crypto.ed25519Verify(identity.signingKey, concatBytes(SIGNATURE_CONTEXT, publicKey), signature))) {
    throw new ProtocolError(ProtocolErrorCode.BadSignature, 'the sealed-sender key is not signed by the identity key');
  }
  return publicKey;
}
