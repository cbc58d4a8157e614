/**
 * Sealed sender (docs/protocol.md "Sealed sender", docs/wire-format.md "Sealed envelope"): the sender's certificate
 * and the inner PQXDH / Double Ratchet message, encrypted to the recipient so that only the recipient learns who
 * sent it. The structure is Signal's sealed sender v1 (libsignal `sealed_sender.rs`, "UnidentifiedSenderMessage"
 * version 1: an ephemeral–static stage that hides the sender's identity key, then a static–static stage that
 * authenticates it), with the ephemeral–static stage made hybrid post-quantum: HPKE (RFC 9180) in base mode with the
 * X-Wing KEM (draft-connolly-cfrg-xwing-kem) to the recipient's sealed-sender key (sealed-sender-key.ts).
 *
 * Suite: KEM 0x647a X-Wing, KDF 0x0001 HKDF-SHA256, AEAD 0x0002 AES-256-GCM (RFC 9180 §7), via @hpke/core with
 * the parts of hpke-suite.ts (the same suite as @hpke/hybridkem-x-wing's, on the caller's provider).
 *
 *   1. ephemeral–static (RFC 9180 §5.1.1 SetupBaseS, §5.2 Seal, §5.3 Export):
 *        info            = INFO || recipient identity key (65 bytes)
 *        (enc, ctx)      = SetupBaseS(recipient sealed-sender key, info)
 *        encryptedStatic = ctx.Seal(aad = "", sender identity key (65 bytes))
 *        chainKey        = ctx.Export(CHAIN_LABEL, 32)
 *   2. static–static (as Signal v1's second stage, with an AEAD in place of AES-CTR + HMAC):
 *        dh              = X25519(sender identity X25519 private key, recipient identity X25519 public key)
 *        key || iv       = HKDF-SHA256(IKM = dh, salt = chainKey || encryptedStatic, info = MESSAGE_INFO, L = 44)
 *        header          = version || enc || len(encryptedStatic) || encryptedStatic
 *        encryptedMessage= AES-256-GCM(key, iv, content, aad = header)
 *
 * Stage 1 alone would let anyone who knows the recipient's public keys seal a message naming any sender; stage 2
 * can be computed only by the holder of the sender identity's X25519 private key (or the recipient), so the
 * identity revealed in stage 1 is the one that sealed. The content then names the sender's certificate, which the
 * recipient checks against the pinned trust root, its expiry, and that it certifies that same identity key
 * (INVALID_CERTIFICATE otherwise). The inner message is an ordinary session message; the caller decrypts it with the
 * session of the certificate's (account, device), whose identity the session store pins.
 *
 * Each key (chainKey, key, iv) is used for one message only: enc and the HPKE context are fresh per seal.
 * Replays are the caller's concern (the inner ratchet message decrypts once; the server acknowledges each
 * envelope once).
 *
 * Errors (ProtocolError): UNKNOWN_VERSION, DECODE_ERROR for malformed bytes; BAD_MAC when a stage does not open
 * (another recipient, tampering); INVALID_KEY for a malformed or low-order key; INVALID_CERTIFICATE,
 * CERTIFICATE_EXPIRED (certificates.ts).
 */
import { concatBytes, constantTimeEqual, utf8 } from '../crypto/bytes.js';
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { IDENTITY_KEY_LENGTH, decodeIdentityKey, encodeIdentityKey } from '../keys/identity.js';
import type { IdentityKey, IdentityKeyPair } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';
import { MAX_ENVELOPE_CONTENT } from '../wire/envelope.js';
import { decodeSenderCertificate, verifySenderCertificate } from './certificates.js';
import type { SenderCertificate } from './certificates.js';
import { XWING_PRIVATE_KEY_LENGTH, XWING_PUBLIC_KEY_LENGTH } from './sealed-sender-key.js';
import { sealedSenderSuite } from './hpke-suite.js';

export const SEALED_SENDER_VERSION = 1;
export const SEALED_CONTENT_VERSION = 1;

const INFO = utf8('Samizdat sealed sender v1\0');
const CHAIN_LABEL = utf8('Samizdat sealed sender v1 chain');
const MESSAGE_INFO = utf8('Samizdat sealed sender v1 message');

/** draft-connolly-cfrg-xwing-kem §5: ML-KEM-768 ciphertext (1,088) || X25519 share (32). */
export const XWING_ENC_LENGTH = 1120;
/** The encrypted sender identity: 65 bytes and the 16-byte tag. */
const ENCRYPTED_STATIC_LENGTH = IDENTITY_KEY_LENGTH + 16;
const MAX_CERTIFICATE_BYTES = 512;
/** Sealing adds at most this much to the inner message (enc, the encrypted identity, the certificate, tags, lengths). */
export const SEALED_SENDER_OVERHEAD = 1 + XWING_ENC_LENGTH + 2 + ENCRYPTED_STATIC_LENGTH + 4 + 1 + 1 + 3 + MAX_CERTIFICATE_BYTES + 4 + 16;
/** The largest inner message a sealed envelope can carry within MAX_ENVELOPE_CONTENT. */
export const MAX_SEALED_INNER = MAX_ENVELOPE_CONTENT - SEALED_SENDER_OVERHEAD;

/** What the inner message is (the envelope types of the unsealed path). */
export const SealedInnerType = { PreKeyMessage: 1, Message: 2 } as const;
export type SealedInnerType = (typeof SealedInnerType)[keyof typeof SealedInnerType];



export interface SealInput {
  readonly recipientIdentity: IdentityKey;
  /** The recipient's X-Wing public key, already checked against its identity (verifySealedSenderKey). */
  readonly recipientSealedKey: Uint8Array;
  readonly senderIdentity: IdentityKeyPair;
  /** This device's current certificate (its identity key must be `senderIdentity`'s). */
  readonly certificate: SenderCertificate;
  readonly innerType: SealedInnerType;
  readonly inner: Uint8Array;
}

export interface Unsealed {
  /** Verified: chained to the trust root, not expired, and for the identity that sealed the message. */
  readonly certificate: SenderCertificate;
  readonly innerType: SealedInnerType;
  readonly inner: Uint8Array;
}

function bad(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BadMac, message);
}

function encodeContent(certificate: SenderCertificate, innerType: SealedInnerType, inner: Uint8Array): Uint8Array {
  return new BinaryWriter(inner.length + certificate.encoded.length + 16)
    .u8(SEALED_CONTENT_VERSION)
    .u8(innerType)
    .bytes(certificate.encoded)
    .bytes(inner)
    .finish();
}

function decodeContent(bytes: Uint8Array): { certificate: SenderCertificate; innerType: SealedInnerType; inner: Uint8Array } {
  const reader = new BinaryReader(bytes);
  if (reader.u8('sealed content version') !== SEALED_CONTENT_VERSION) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown sealed content version');
  const innerType = reader.u8('inner type');
  if (innerType !== SealedInnerType.PreKeyMessage && innerType !== SealedInnerType.Message) throw new ProtocolError(ProtocolErrorCode.Decode, 'unknown inner message type');
  const certificate = decodeSenderCertificate(reader.bytes(MAX_CERTIFICATE_BYTES, 'sender certificate'));
  const inner = reader.bytes(MAX_SEALED_INNER, 'inner message');
  reader.end('sealed content');
  return { certificate, innerType, inner };
}

async function messageKey(crypto: CryptoProvider, dh: Uint8Array, chainKey: Uint8Array, encryptedStatic: Uint8Array): Promise<{ key: Uint8Array; iv: Uint8Array }> {
  const okm = await crypto.hkdfSha256(dh, concatBytes(chainKey, encryptedStatic), MESSAGE_INFO, 44);
  return { key: okm.subarray(0, 32), iv: okm.subarray(32, 44) };
}

function header(enc: Uint8Array, encryptedStatic: Uint8Array): Uint8Array {
  return new BinaryWriter(1 + enc.length + 2 + encryptedStatic.length).u8(SEALED_SENDER_VERSION).fixed(enc).bytes(encryptedStatic).finish();
}

/** Seals `inner` from `senderIdentity` to the recipient (the module comment gives the construction). */
export async function sealedSenderEncrypt(crypto: CryptoProvider, input: SealInput): Promise<Uint8Array> {
  if (input.recipientSealedKey.length !== XWING_PUBLIC_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'malformed sealed-sender key');
  if (input.inner.length > MAX_SEALED_INNER) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'inner message too large to seal');
  const senderKey = encodeIdentityKey(input.senderIdentity.publicKey);
  if (!constantTimeEqual(encodeIdentityKey(input.certificate.identityKey), senderKey)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, "the certificate is not for the sender's identity key");
  }
  const suite = sealedSenderSuite(crypto);
  let recipientPublicKey: CryptoKey;
  try {
    recipientPublicKey = await suite.kem.deserializePublicKey(input.recipientSealedKey);
  } catch {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'malformed sealed-sender key');
  }
  const sender = await suite.createSenderContext({ recipientPublicKey, info: concatBytes(INFO, encodeIdentityKey(input.recipientIdentity)) });
  const enc = new Uint8Array(sender.enc);
  const encryptedStatic = new Uint8Array(await sender.seal(senderKey));
  const chainKey = new Uint8Array(await sender.export(CHAIN_LABEL, 32));
  const dh = await crypto.x25519(input.senderIdentity.agreement.privateKey, input.recipientIdentity.agreementKey);
  const { key, iv } = await messageKey(crypto, dh, chainKey, encryptedStatic);
  const head = header(enc, encryptedStatic);
  const encryptedMessage = await crypto.aesGcmEncrypt(key, iv, encodeContent(input.certificate, input.innerType, input.inner), head);
  return new BinaryWriter(head.length + encryptedMessage.length + 4).fixed(head).bytes(encryptedMessage).finish();
}

export interface UnsealInput {
  readonly identity: IdentityKeyPair;
  /** This account's sealed-sender key pair (deriveSealedSenderKeyPair). */
  readonly sealedKeyPair: KeyPair;
  /** The server's trust root this client pinned. */
  readonly trustRoot: Uint8Array;
  /** Now, in ms, for the certificate's expiry. */
  readonly now: number;
}

/** Opens a sealed envelope's content and verifies who sealed it (see the module comment for every check). */
export async function sealedSenderDecrypt(crypto: CryptoProvider, sealed: Uint8Array, input: UnsealInput): Promise<Unsealed> {
  if (input.sealedKeyPair.privateKey.length !== XWING_PRIVATE_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'malformed sealed-sender private key');
  const reader = new BinaryReader(sealed);
  if (reader.u8('sealed sender version') !== SEALED_SENDER_VERSION) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown sealed sender version');
  const enc = reader.fixed(XWING_ENC_LENGTH, 'encapsulation');
  const encryptedStatic = reader.bytes(ENCRYPTED_STATIC_LENGTH, 'encrypted sender identity');
  if (encryptedStatic.length !== ENCRYPTED_STATIC_LENGTH) throw new ProtocolError(ProtocolErrorCode.Decode, 'encrypted sender identity has the wrong length');
  const encryptedMessage = reader.bytes(MAX_ENVELOPE_CONTENT, 'encrypted message');
  reader.end('sealed envelope');

  const suite = sealedSenderSuite(crypto);
  const recipientKey = await suite.kem.deserializePrivateKey(input.sealedKeyPair.privateKey);
  let senderKey: Uint8Array;
  let chainKey: Uint8Array;
  try {
    const recipient = await suite.createRecipientContext({ recipientKey, enc, info: concatBytes(INFO, encodeIdentityKey(input.identity.publicKey)) });
    senderKey = new Uint8Array(await recipient.open(encryptedStatic));
    chainKey = new Uint8Array(await recipient.export(CHAIN_LABEL, 32));
  } catch {
    throw bad('the sealed envelope does not open with this identity');
  }
  const senderIdentity = decodeIdentityKey(senderKey);
  const dh = await crypto.x25519(input.identity.agreement.privateKey, senderIdentity.agreementKey);
  const { key, iv } = await messageKey(crypto, dh, chainKey, encryptedStatic);
  // aesGcmDecrypt throws BAD_MAC: the identity named in stage 1 is not the one that sealed stage 2.
  const content = decodeContent(await crypto.aesGcmDecrypt(key, iv, encryptedMessage, header(enc, encryptedStatic)));
  if (!constantTimeEqual(encodeIdentityKey(content.certificate.identityKey), senderKey)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidCertificate, 'the certificate is for another identity key than the one that sealed the message');
  }
  await verifySenderCertificate(crypto, content.certificate, input.trustRoot, input.now);
  return content;
}
