/**
 * Prekeys of PQXDH §3.2: a signed curve prekey, one-time curve prekeys, and signed ML-KEM-1024 prekeys, either
 * one-time or last-resort. Signatures are Ed25519 by the identity's signing key over EncodeEC / EncodeKEM
 * (keys/encoding.ts), whose disjoint type bytes keep the two kinds of signature apart.
 */
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import {
  ED25519_SIGNATURE_LENGTH,
  MLKEM1024_PUBLIC_KEY_LENGTH,
  MLKEM1024_SECRET_KEY_LENGTH,
  X25519_KEY_LENGTH,
} from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';
import { encodeEc, encodeKem } from './encoding.js';
import type { IdentityKeyPair } from './identity.js';

/** Prekey identifiers are unsigned 32-bit integers chosen by the owner. */
export type PreKeyId = number;

export interface OneTimePreKey {
  readonly id: PreKeyId;
  readonly keyPair: KeyPair;
}

export interface SignedPreKey {
  readonly id: PreKeyId;
  readonly keyPair: KeyPair;
  readonly signature: Uint8Array;
  /** Milliseconds since the epoch; drives rotation. */
  readonly createdAt: number;
}

export interface KyberPreKey {
  readonly id: PreKeyId;
  /** ML-KEM-1024 encapsulation key (public) and decapsulation key (private). */
  readonly keyPair: KeyPair;
  readonly signature: Uint8Array;
  /** A last-resort key is reused until rotated; a one-time key is deleted after its first use (PQXDH §3.4). */
  readonly lastResort: boolean;
  readonly createdAt: number;
}

function assertId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'prekey id must be an unsigned 32-bit integer');
  }
}

export async function generateOneTimePreKeys(
  provider: CryptoProvider,
  firstId: PreKeyId,
  count: number,
): Promise<OneTimePreKey[]> {
  const out: OneTimePreKey[] = [];
  for (let i = 0; i < count; i++) {
    const id = (firstId + i) >>> 0;
    assertId(id);
    out.push({ id, keyPair: await provider.x25519GenerateKeyPair() });
  }
  return out;
}

export async function generateSignedPreKey(
  provider: CryptoProvider,
  identity: IdentityKeyPair,
  id: PreKeyId,
  now: number,
): Promise<SignedPreKey> {
  assertId(id);
  const keyPair = await provider.x25519GenerateKeyPair();
  const signature = await provider.ed25519Sign(identity.signing.privateKey, encodeEc(keyPair.publicKey));
  return { id, keyPair, signature, createdAt: now };
}

export async function generateKyberPreKey(
  provider: CryptoProvider,
  identity: IdentityKeyPair,
  id: PreKeyId,
  lastResort: boolean,
  now: number,
): Promise<KyberPreKey> {
  assertId(id);
  const keyPair = await provider.mlkem1024GenerateKeyPair();
  const signature = await provider.ed25519Sign(identity.signing.privateKey, encodeKem(keyPair.publicKey));
  return { id, keyPair, signature, lastResort, createdAt: now };
}

/** PQXDH §3.3: "Alice verifies the prekey signatures and aborts the protocol if verification fails." */
export async function verifySignedPreKey(
  provider: CryptoProvider,
  identitySigningKey: Uint8Array,
  publicKey: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== X25519_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  return provider.ed25519Verify(identitySigningKey, encodeEc(publicKey), signature);
}

export async function verifyKyberPreKey(
  provider: CryptoProvider,
  identitySigningKey: Uint8Array,
  publicKey: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== MLKEM1024_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  return provider.ed25519Verify(identitySigningKey, encodeKem(publicKey), signature);
}

// Stored forms (a device's own key store). Version byte first so that a future layout can be told apart.
const RECORD_VERSION = 1;

function checkVersion(reader: BinaryReader, what: string): void {
  if (reader.u8(what) !== RECORD_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, `unknown ${what} version`);
  }
}

export function encodeOneTimePreKey(key: OneTimePreKey): Uint8Array {
  return new BinaryWriter(80)
    .u8(RECORD_VERSION)
    .varint(key.id)
    .fixed(key.keyPair.publicKey)
    .fixed(key.keyPair.privateKey)
    .finish();
}

export function decodeOneTimePreKey(bytes: Uint8Array): OneTimePreKey {
  const r = new BinaryReader(bytes);
  checkVersion(r, 'one-time prekey record');
  const id = r.varint('prekey id');
  const publicKey = r.fixed(X25519_KEY_LENGTH, 'public key');
  const privateKey = r.fixed(X25519_KEY_LENGTH, 'private key');
  r.end('one-time prekey record');
  return { id, keyPair: { publicKey, privateKey } };
}

export function encodeSignedPreKey(key: SignedPreKey): Uint8Array {
  return new BinaryWriter(160)
    .u8(RECORD_VERSION)
    .varint(key.id)
    .fixed(key.keyPair.publicKey)
    .fixed(key.keyPair.privateKey)
    .fixed(key.signature)
    .u64(BigInt(key.createdAt))
    .finish();
}

export function decodeSignedPreKey(bytes: Uint8Array): SignedPreKey {
  const r = new BinaryReader(bytes);
  checkVersion(r, 'signed prekey record');
  const id = r.varint('prekey id');
  const publicKey = r.fixed(X25519_KEY_LENGTH, 'public key');
  const privateKey = r.fixed(X25519_KEY_LENGTH, 'private key');
  const signature = r.fixed(ED25519_SIGNATURE_LENGTH, 'signature');
  const createdAt = Number(r.u64('created at'));
  r.end('signed prekey record');
  return { id, keyPair: { publicKey, privateKey }, signature, createdAt };
}

export function encodeKyberPreKey(key: KyberPreKey): Uint8Array {
  return new BinaryWriter(4900)
    .u8(RECORD_VERSION)
    .varint(key.id)
    .fixed(key.keyPair.publicKey)
    .fixed(key.keyPair.privateKey)
    .fixed(key.signature)
    .bool(key.lastResort)
    .u64(BigInt(key.createdAt))
    .finish();
}

export function decodeKyberPreKey(bytes: Uint8Array): KyberPreKey {
  const r = new BinaryReader(bytes);
  checkVersion(r, 'kyber prekey record');
  const id = r.varint('prekey id');
  const publicKey = r.fixed(MLKEM1024_PUBLIC_KEY_LENGTH, 'public key');
  const privateKey = r.fixed(MLKEM1024_SECRET_KEY_LENGTH, 'private key');
  const signature = r.fixed(ED25519_SIGNATURE_LENGTH, 'signature');
  const lastResort = r.bool('last resort flag');
  const createdAt = Number(r.u64('created at'));
  r.end('kyber prekey record');
  return { id, keyPair: { publicKey, privateKey }, signature, lastResort, createdAt };
}
