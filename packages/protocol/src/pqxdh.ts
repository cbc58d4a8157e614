/**
 * PQXDH key agreement — "The PQXDH Key Agreement Protocol", Kret & Schmidt, Signal
 * (signal.org/docs/specifications/pqxdh). Parameters (§2.1): curve = curve25519, hash = SHA-256,
 * info = PQXDH_INFO, pqkem = ML-KEM-1024 (FIPS 203), aead = AES-256-GCM (in the Double Ratchet that follows),
 * EncodeEC / EncodeKEM in keys/encoding.ts. Identity keys are an Ed25519 + X25519 pair (keys/identity.ts).
 */
import type { CryptoProvider } from './crypto/provider.js';
import { MLKEM1024_CIPHERTEXT_LENGTH, X25519_KEY_LENGTH } from './crypto/provider.js';
import { concatBytes, utf8, wipe } from './crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { PreKeyBundle } from './keys/bundle.js';
import { verifyPreKeyBundle } from './keys/bundle.js';
import type { IdentityKey, IdentityKeyPair } from './keys/identity.js';
import { encodeIdentityKey } from './keys/identity.js';
import type { KeyPair } from './crypto/provider.js';
import type { PreKeyId } from './keys/prekeys.js';

/** §2.1 info: an ASCII string identifying the application, at least 8 bytes. */
export const PQXDH_INFO = utf8('Samizdat_PQXDH_CURVE25519_SHA-256_ML-KEM-1024');
/** §2.2 KDF: F is 32 0xFF bytes for curve25519 (domain separation from the XEdDSA-style use of the keys). */
const KDF_F = new Uint8Array(32).fill(0xff);
/** §2.2 KDF: the HKDF salt is a zero-filled byte sequence as long as the hash output. */
const KDF_SALT = new Uint8Array(32);
export const PQXDH_SECRET_LENGTH = 32;

export interface PqxdhInitiatorResult {
  /** SK of §3.3; becomes the Double Ratchet's first root key. */
  readonly sharedSecret: Uint8Array;
  /** AD = Encode(IK_A) || Encode(IK_B) (§3.3). */
  readonly associatedData: Uint8Array;
  /** EK_A public; called the "base key" of the session. */
  readonly baseKey: Uint8Array;
  readonly kemCiphertext: Uint8Array;
  readonly signedPreKeyId: PreKeyId;
  readonly oneTimePreKeyId: PreKeyId | undefined;
  readonly kyberPreKeyId: PreKeyId;
}

/** §2.2 KDF(KM) = HKDF(salt = 0^32, IKM = F || KM, info, 32). */
async function kdf(provider: CryptoProvider, keyMaterial: Uint8Array[]): Promise<Uint8Array> {
  const ikm = concatBytes(KDF_F, ...keyMaterial);
  const sk = await provider.hkdfSha256(ikm, KDF_SALT, PQXDH_INFO, PQXDH_SECRET_LENGTH);
  wipe(ikm, ...keyMaterial);
  return sk;
}

/** PQXDH §3.3, Alice's side: verify the bundle, encapsulate, compute DH1..DH4 and SK. */
export async function pqxdhInitiate(
  provider: CryptoProvider,
  ourIdentity: IdentityKeyPair,
  bundle: PreKeyBundle,
): Promise<PqxdhInitiatorResult> {
  // §3.3: "Alice verifies the prekey signatures and aborts the protocol if verification fails."
  await verifyPreKeyBundle(provider, bundle);
  const { ciphertext, sharedSecret: ss } = await provider.mlkem1024Encapsulate(bundle.kyberPreKey.publicKey);
  const dh1 = await provider.x25519(ourIdentity.agreement.privateKey, bundle.signedPreKey.publicKey);
  // DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B) with a fresh ephemeral key EK_A.
  const peers = [bundle.identityKey.agreementKey, bundle.signedPreKey.publicKey];
  if (bundle.oneTimePreKey) peers.push(bundle.oneTimePreKey.publicKey);
  const { keyPair: ephemeral, shared } = await provider.x25519GenerateAndAgree(peers);
  const material = [dh1, ...shared, ss];
  const sharedSecret = await kdf(provider, material);
  // §3.3: "Alice deletes her ephemeral private key and the DH outputs."
  wipe(ephemeral.privateKey);
  return {
    sharedSecret,
    associatedData: concatBytes(encodeIdentityKey(ourIdentity.publicKey), encodeIdentityKey(bundle.identityKey)),
    baseKey: ephemeral.publicKey,
    kemCiphertext: ciphertext,
    signedPreKeyId: bundle.signedPreKey.id,
    oneTimePreKeyId: bundle.oneTimePreKey?.id,
    kyberPreKeyId: bundle.kyberPreKey.id,
  };
}

export interface PqxdhResponderInput {
  readonly theirIdentity: IdentityKey;
  readonly baseKey: Uint8Array;
  readonly kemCiphertext: Uint8Array;
  readonly signedPreKey: KeyPair;
  readonly oneTimePreKey: KeyPair | undefined;
  /** ML-KEM-1024 decapsulation key pair of the prekey Alice used. */
  readonly kyberPreKey: KeyPair;
}

/** PQXDH §3.4, Bob's side: the same SK and AD from Alice's initial message and his private prekeys. */
export async function pqxdhRespond(
  provider: CryptoProvider,
  ourIdentity: IdentityKeyPair,
  input: PqxdhResponderInput,
): Promise<{ sharedSecret: Uint8Array; associatedData: Uint8Array }> {
  if (input.baseKey.length !== X25519_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'base key must be 32 bytes');
  }
  if (input.kemCiphertext.length !== MLKEM1024_CIPHERTEXT_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'ML-KEM ciphertext must be 1568 bytes');
  }
  const [dh1, dh3] = await provider.x25519Many(input.signedPreKey.privateKey, [input.theirIdentity.agreementKey, input.baseKey]);
  const dh2 = await provider.x25519(ourIdentity.agreement.privateKey, input.baseKey);
  const material = [dh1 as Uint8Array, dh2, dh3 as Uint8Array];
  if (input.oneTimePreKey) material.push(await provider.x25519(input.oneTimePreKey.privateKey, input.baseKey));
  material.push(await provider.mlkem1024Decapsulate(input.kemCiphertext, input.kyberPreKey.privateKey));
  const sharedSecret = await kdf(provider, material);
  return {
    sharedSecret,
    associatedData: concatBytes(encodeIdentityKey(input.theirIdentity), encodeIdentityKey(ourIdentity.publicKey)),
  };
}
