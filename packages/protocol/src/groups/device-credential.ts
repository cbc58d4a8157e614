/**
 * Device credentials for MLS groups (RFC 9420 §5.3 "Credentials"; the binding is ours).
 *
 * An MLS member is a device. Its leaf carries an MLS signature key; RFC 9420 §5.3.1 leaves it to the application to
 * say who that key belongs to. We bind it to the account: the account identity key (`IdentityKeyPair.signing`,
 * Ed25519) signs a domain-separated encoding of (MLS signature public key, account id, device id, identity key).
 * The result travels as the identity bytes of a BasicCredential (§5.3: "basic" = opaque application identity), so
 * any MLS implementation can carry it, and every client checks it for every member it admits (device-credential
 * check in ./mls-engine.ts, hooked into ts-mls's AuthenticationService).
 *
 * Identity bytes, version 1:
 *   0x01 || account id (16) || device id (uint32, big-endian) || identity key (65, see keys/identity.ts)
 *        || Ed25519 signature (64)
 * Signed message:
 *   "Samizdat MLS device credential v1" || 0x00 || uint16 length || MLS signature public key
 *        || account id (16) || device id (uint32) || identity key (65)
 */
import { isAccountId } from '../api/ids.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ED25519_SIGNATURE_LENGTH } from '../crypto/provider.js';
import { concatBytes, fromHex, toHex } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { IdentityKeyPair } from '../keys/identity.js';
import { IDENTITY_KEY_LENGTH, decodeIdentityKey, encodeIdentityKey } from '../keys/identity.js';

export const DEVICE_CREDENTIAL_VERSION = 0x01;
/** Domain separation for the binding signature: it can never verify as a prekey or any other identity signature. */
export const DEVICE_CREDENTIAL_SIGNATURE_CONTEXT = 'Samizdat MLS device credential v1';
export const ACCOUNT_ID_LENGTH = 16;
export const DEVICE_CREDENTIAL_LENGTH = 1 + ACCOUNT_ID_LENGTH + 4 + IDENTITY_KEY_LENGTH + ED25519_SIGNATURE_LENGTH;
/** The largest MLS signature public key we bind (ML-DSA-87: 2592 bytes); bounds the signed message. */
const MAX_SIGNATURE_PUBLIC_KEY_LENGTH = 0xffff;

const CONTEXT_BYTES = new TextEncoder().encode(DEVICE_CREDENTIAL_SIGNATURE_CONTEXT);

/** Who a group member is: one device of one account. */
export interface DeviceCredential {
  /** 32 lowercase hex characters (128-bit account id). */
  readonly accountId: string;
  /** The device's numeric id within its account (uint32). */
  readonly deviceId: number;
  /** The account identity key, 65-byte encoding (keys/identity.ts). */
  readonly identityKey: Uint8Array;
}

/** Throws INVALID_ARGUMENT unless `accountId` is 32 hex characters and `deviceId` a uint32. */
export function assertDeviceAddress(accountId: string, deviceId: number): void {
  if (typeof accountId !== 'string' || !isAccountId(accountId)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'account id must be 32 lowercase hex characters');
  }
  if (!Number.isInteger(deviceId) || deviceId < 0 || deviceId > 0xffffffff) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'device id must be a uint32');
  }
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** The exact bytes the account identity key signs. */
export function deviceCredentialSignedMessage(signaturePublicKey: Uint8Array, credential: DeviceCredential): Uint8Array {
  assertDeviceAddress(credential.accountId, credential.deviceId);
  if (signaturePublicKey.length === 0 || signaturePublicKey.length > MAX_SIGNATURE_PUBLIC_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'MLS signature public key has a bad length');
  }
  const length = new Uint8Array(2);
  new DataView(length.buffer).setUint16(0, signaturePublicKey.length);
  return concatBytes(
    CONTEXT_BYTES,
    Uint8Array.of(0),
    length,
    signaturePublicKey,
    fromHex(credential.accountId),
    uint32(credential.deviceId),
    credential.identityKey,
  );
}

/**
 * Signs the binding of `signaturePublicKey` (the device's MLS signature key) to the account with the account's
 * identity key and returns the credential's identity bytes.
 */
export async function signDeviceCredential(
  crypto: CryptoProvider,
  identity: IdentityKeyPair,
  accountId: string,
  deviceId: number,
  signaturePublicKey: Uint8Array,
): Promise<Uint8Array> {
  const identityKey = encodeIdentityKey(identity.publicKey);
  const credential: DeviceCredential = { accountId, deviceId, identityKey };
  const signature = await crypto.ed25519Sign(
    identity.signing.privateKey,
    deviceCredentialSignedMessage(signaturePublicKey, credential),
  );
  return concatBytes(Uint8Array.of(DEVICE_CREDENTIAL_VERSION), fromHex(accountId), uint32(deviceId), identityKey, signature);
}

/** Parses identity bytes without verifying the signature (DECODE_ERROR / UNKNOWN_VERSION on bad input). */
export function decodeDeviceCredential(bytes: Uint8Array): DeviceCredential & { readonly signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'empty device credential');
  }
  if (bytes[0] !== DEVICE_CREDENTIAL_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown device credential version');
  }
  if (bytes.length !== DEVICE_CREDENTIAL_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.Decode, `device credential must be ${DEVICE_CREDENTIAL_LENGTH} bytes`);
  }
  let offset = 1;
  const accountId = toHex(bytes.subarray(offset, (offset += ACCOUNT_ID_LENGTH)));
  const deviceId = new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0);
  offset += 4;
  const identityKey = bytes.slice(offset, (offset += IDENTITY_KEY_LENGTH));
  decodeIdentityKey(identityKey); // checks its version byte
  const signature = bytes.slice(offset);
  return { accountId, deviceId, identityKey, signature };
}

/**
 * Verifies that `identityBytes` bind `signaturePublicKey` to an account: the identity key inside signed this exact
 * MLS signature key, account id and device id. Returns the parsed credential; throws ProtocolError BAD_SIGNATURE
 * when the signature does not verify (a device the account did not sign), DECODE_ERROR / UNKNOWN_VERSION when the
 * bytes are not a device credential. Whether the identity key is the account's real one is the caller's question
 * (the group engine asks its `isTrustedIdentity`).
 */
export async function verifyDeviceCredential(
  crypto: CryptoProvider,
  identityBytes: Uint8Array,
  signaturePublicKey: Uint8Array,
): Promise<DeviceCredential> {
  const { signature, ...credential } = decodeDeviceCredential(identityBytes);
  const { signingKey } = decodeIdentityKey(credential.identityKey);
  const ok = await crypto.ed25519Verify(
    signingKey,
    deviceCredentialSignedMessage(signaturePublicKey, credential),
    signature,
  );
  if (!ok) {
    throw new ProtocolError(ProtocolErrorCode.BadSignature, 'device credential is not signed by its identity key');
  }
  return credential;
}
