/**
 * Sender certificates for sealed sender (docs/protocol.md "Sealed sender"), after Signal's design: the server vouches
 * that an account's device holds an identity key, for a short time, so that a recipient can trust the sender named
 * inside a sealed envelope without the server learning who sent it.
 *
 *   trust root (Ed25519, published by the server, pinned by clients)
 *     └─ signs a server certificate: key id, the server's certificate-signing Ed25519 public key
 *          └─ which signs sender certificates: account id, device id, identity key, expiry
 *
 * Every signature covers a distinct context label followed by the exact encoded fields it certifies, so that no
 * signature made for one purpose verifies for another. Encodings follow docs/wire-format.md (strict decoding).
 *
 * Errors (ProtocolError): DECODE_ERROR / UNKNOWN_VERSION for malformed or foreign bytes; INVALID_CERTIFICATE when a
 * signature does not verify (forged, or signed by another trust root); CERTIFICATE_EXPIRED when it has expired.
 */
import { concatBytes, fromHex, toHex, utf8 } from '../crypto/bytes.js';
import { ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH } from '../crypto/provider.js';
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { IDENTITY_KEY_LENGTH, decodeIdentityKey, encodeIdentityKey } from '../keys/identity.js';
import type { IdentityKey } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';

export const SERVER_CERTIFICATE_VERSION = 1;
export const SENDER_CERTIFICATE_VERSION = 1;

/** Signature contexts (each ends in a NUL, so that no label is a prefix of another's message). */
const SERVER_CERTIFICATE_CONTEXT = utf8('Samizdat server certificate v1\0');
const SENDER_CERTIFICATE_CONTEXT = utf8('Samizdat sender certificate v1\0');

/** An account id on the wire: 16 bytes (32 lowercase hex characters in the API). */
const ACCOUNT_ID_BYTES = 16;
/** The largest encoded server certificate a sender certificate may carry (it is 1 + ≤5 + 32 + 64 bytes). */
const MAX_SERVER_CERTIFICATE_BYTES = 128;
/** Device ids are small positive integers (the server caps devices per account far below this). */
const MAX_DEVICE_ID = 0xffff;

export interface ServerCertificate {
  /** Names the signing key, so that a server can rotate it (and clients can refuse a retired one). */
  readonly keyId: number;
  /** Ed25519 public key that signs sender certificates. */
  readonly publicKey: Uint8Array;
  /** The trust root's signature over the context and the fields above. */
  readonly signature: Uint8Array;
  /** The encoding, as it travels inside sender certificates. */
  readonly encoded: Uint8Array;
}

export interface SenderCertificate {
  /** 32 lowercase hex characters. */
  readonly accountId: string;
  readonly deviceId: number;
  readonly identityKey: IdentityKey;
  /** Milliseconds since the Unix epoch after which the certificate is refused. */
  readonly expires: number;
  readonly signer: ServerCertificate;
  readonly signature: Uint8Array;
  readonly encoded: Uint8Array;
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidCertificate, message);
}

function serverCertificateBody(keyId: number, publicKey: Uint8Array): Uint8Array {
  return new BinaryWriter(64).u8(SERVER_CERTIFICATE_VERSION).varint(keyId).fixed(publicKey).finish();
}

/** The trust root signs a server's certificate-signing key (done once per key, at the server's start). */
export async function issueServerCertificate(crypto: CryptoProvider, trustRoot: KeyPair, keyId: number, publicKey: Uint8Array): Promise<ServerCertificate> {
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'key id out of range');
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'server key must be 32 bytes');
  const body = serverCertificateBody(keyId, publicKey);
  const signature = await crypto.ed25519Sign(trustRoot.privateKey, concatBytes(SERVER_CERTIFICATE_CONTEXT, body));
  return { keyId, publicKey: publicKey.slice(), signature, encoded: concatBytes(body, signature) };
}

export function decodeServerCertificate(bytes: Uint8Array): ServerCertificate {
  const reader = new BinaryReader(bytes);
  if (reader.u8('server certificate version') !== SERVER_CERTIFICATE_VERSION) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown server certificate version');
  const keyId = reader.varint('key id');
  const publicKey = reader.fixed(ED25519_PUBLIC_KEY_LENGTH, 'server key');
  const signature = reader.fixed(ED25519_SIGNATURE_LENGTH, 'server certificate signature');
  reader.end('server certificate');
  return { keyId, publicKey, signature, encoded: bytes.slice() };
}

/** Whether `trustRoot` signed this server certificate; INVALID_CERTIFICATE if not. */
export async function verifyServerCertificate(crypto: CryptoProvider, certificate: ServerCertificate, trustRoot: Uint8Array): Promise<void> {
  const body = serverCertificateBody(certificate.keyId, certificate.publicKey);
  if (!(await crypto.ed25519Verify(trustRoot, concatBytes(SERVER_CERTIFICATE_CONTEXT, body), certificate.signature))) {
    throw invalid('the server certificate is not signed by the trust root');
  }
}

export interface SenderCertificateFields {
  readonly accountId: string;
  readonly deviceId: number;
  readonly identityKey: IdentityKey;
  readonly expires: number;
}

function senderCertificateBody(fields: SenderCertificateFields, signer: ServerCertificate): Uint8Array {
  return new BinaryWriter(256)
    .u8(SENDER_CERTIFICATE_VERSION)
    .fixed(fromHex(fields.accountId))
    .varint(fields.deviceId)
    .fixed(encodeIdentityKey(fields.identityKey))
    .u64(BigInt(fields.expires))
    .bytes(signer.encoded)
    .finish();
}

/** The server signs a sender certificate for an authenticated device (nothing about it is stored). */
export async function issueSenderCertificate(crypto: CryptoProvider, signer: ServerCertificate, signingKey: Uint8Array, fields: SenderCertificateFields): Promise<SenderCertificate> {
  if (!/^[0-9a-f]{32}$/.test(fields.accountId)) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'account id must be 32 hex characters');
  if (!Number.isInteger(fields.deviceId) || fields.deviceId < 1 || fields.deviceId > MAX_DEVICE_ID) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'device id out of range');
  if (!Number.isSafeInteger(fields.expires) || fields.expires < 0) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'expiry out of range');
  const body = senderCertificateBody(fields, signer);
  const signature = await crypto.ed25519Sign(signingKey, concatBytes(SENDER_CERTIFICATE_CONTEXT, body));
  return { ...fields, signer, signature, encoded: concatBytes(body, signature) };
}

export function decodeSenderCertificate(bytes: Uint8Array): SenderCertificate {
  const reader = new BinaryReader(bytes);
  if (reader.u8('sender certificate version') !== SENDER_CERTIFICATE_VERSION) throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown sender certificate version');
  const accountId = toHex(reader.fixed(ACCOUNT_ID_BYTES, 'account id'));
  const deviceId = reader.varint('device id', MAX_DEVICE_ID);
  if (deviceId < 1) throw new ProtocolError(ProtocolErrorCode.Decode, 'device id must be positive');
  const identityKey = decodeIdentityKey(reader.fixed(IDENTITY_KEY_LENGTH, 'identity key'));
  const expires = reader.u64('expiry');
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(ProtocolErrorCode.Decode, 'expiry out of range');
  const signer = decodeServerCertificate(reader.bytes(MAX_SERVER_CERTIFICATE_BYTES, 'server certificate'));
  const signature = reader.fixed(ED25519_SIGNATURE_LENGTH, 'sender certificate signature');
  reader.end('sender certificate');
  return { accountId, deviceId, identityKey, expires: Number(expires), signer, signature, encoded: bytes.slice() };
}

/**
 * Checks the whole chain: the server certificate against the pinned trust root, the sender certificate against the
 * server certificate's key, and the expiry against `now` (ms). INVALID_CERTIFICATE or CERTIFICATE_EXPIRED.
 */
export async function verifySenderCertificate(crypto: CryptoProvider, certificate: SenderCertificate, trustRoot: Uint8Array, now: number): Promise<void> {
  await verifyServerCertificate(crypto, certificate.signer, trustRoot);
  const body = senderCertificateBody(certificate, certificate.signer);
  if (!(await crypto.ed25519Verify(certificate.signer.publicKey, concatBytes(SENDER_CERTIFICATE_CONTEXT, body), certificate.signature))) {
    throw invalid('the sender certificate is not signed by the server certificate');
  }
  if (certificate.expires <= now) throw new ProtocolError(ProtocolErrorCode.CertificateExpired, 'the sender certificate has expired');
}
