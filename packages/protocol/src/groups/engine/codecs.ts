/**
 * How the engine's values become bytes and back: a device's MLS identity and its key package bundles (ours, for the
 * device's private store), MLS messages (RFC 9420 §6, ts-mls's MLSMessage encoding), and group states (the storage
 * format is ../group-state-codec.ts; here it is bound to an engine's client configuration and zero-keyed marks).
 */
import { encodeMlsMessage, getCiphersuiteFromName } from 'ts-mls';
import type { ClientConfig, ClientState, KeyPackage, MLSMessage, PrivateKeyPackage } from 'ts-mls';
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { BinaryReader, BinaryWriter } from '../../wire/binary.js';
import { decodeDeviceCredential } from '../device-credential.js';
import { decodeGroupStateBytes, encodeGroupStateV3 } from '../group-state-codec.js';
import type { TreeCache } from '../group-state-codec.js';
import { decodeMessage } from '../mls-common.js';
import { inner, isZeroKeyed, markZeroKeyed, outer } from './group-state.js';
import type { GroupCipherSuite, GroupState, MlsDeviceIdentity } from './types.js';

const DEVICE_IDENTITY_VERSION = 0x01;
const KEY_PACKAGE_BUNDLE_VERSION = 0x01;
const MAX_FIELD = 1 << 20;

export function mlsMessageBytes(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/** Encodes a device identity for the device's private store. */
export function encodeMlsDeviceIdentity(identity: MlsDeviceIdentity): Uint8Array {
  return new BinaryWriter()
    .u8(DEVICE_IDENTITY_VERSION)
    .bytes(new TextEncoder().encode(identity.cipherSuite))
    .bytes(identity.signaturePublicKey)
    .bytes(identity.signaturePrivateKey)
    .bytes(identity.credential)
    .finish();
}

/** Inverse of encodeMlsDeviceIdentity (DECODE_ERROR / UNKNOWN_VERSION on bad input; the credential is parsed). */
export function decodeMlsDeviceIdentity(bytes: Uint8Array): MlsDeviceIdentity {
  const reader = new BinaryReader(bytes);
  if (reader.u8('version') !== DEVICE_IDENTITY_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown MLS device identity version');
  }
  const cipherSuite = new TextDecoder().decode(reader.bytes(128, 'cipher suite')) as GroupCipherSuite;
  assertCipherSuite(cipherSuite);
  const signaturePublicKey = reader.bytes(MAX_FIELD, 'signature public key');
  const signaturePrivateKey = reader.bytes(MAX_FIELD, 'signature private key');
  const credential = reader.bytes(MAX_FIELD, 'credential');
  reader.end('MLS device identity');
  const { accountId, deviceId, identityKey } = decodeDeviceCredential(credential);
  return { cipherSuite, accountId, deviceId, identityKey, signaturePublicKey, signaturePrivateKey, credential };
}

/** DECODE_ERROR unless `name` is a cipher suite ts-mls knows. */
export function assertCipherSuite(name: string): asserts name is GroupCipherSuite {
  try {
    if (getCiphersuiteFromName(name as GroupCipherSuite) !== undefined) return;
  } catch {
    // fall through
  }
  throw new ProtocolError(ProtocolErrorCode.Decode, 'unknown MLS cipher suite');
}

export function encodeKeyPackageBundle(
  publicKeyPackage: Uint8Array,
  privatePackage: PrivateKeyPackage,
  lastResort: boolean,
): Uint8Array {
  return new BinaryWriter()
    .u8(KEY_PACKAGE_BUNDLE_VERSION)
    .bool(lastResort)
    .bytes(publicKeyPackage)
    .bytes(privatePackage.initPrivateKey)
    .bytes(privatePackage.hpkePrivateKey)
    .bytes(privatePackage.signaturePrivateKey)
    .finish();
}

export function decodeKeyPackageBundle(bytes: Uint8Array): {
  keyPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  lastResort: boolean;
} {
  const reader = new BinaryReader(bytes);
  if (reader.u8('version') !== KEY_PACKAGE_BUNDLE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown key package bundle version');
  }
  const lastResort = reader.bool('last resort');
  const keyPackage = keyPackageFrom(reader.bytes(MAX_FIELD, 'key package'));
  const privatePackage: PrivateKeyPackage = {
    initPrivateKey: reader.bytes(MAX_FIELD, 'init key'),
    hpkePrivateKey: reader.bytes(MAX_FIELD, 'leaf key'),
    signaturePrivateKey: reader.bytes(MAX_FIELD, 'signature key'),
  };
  reader.end('key package bundle');
  return { keyPackage, privatePackage, lastResort };
}

/** The KeyPackage in an MLSMessage(KeyPackage). DECODE_ERROR for anything else. */
export function keyPackageFrom(bytes: Uint8Array): KeyPackage {
  const message = decodeMessage(bytes);
  if (message.wireformat !== 'mls_key_package') {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'not an MLS key package');
  }
  return message.keyPackage;
}

/** A group state as stored: version 3, with its `needsRekey` mark. */
export function encodeGroupState(state: GroupState): Uint8Array {
  const s = inner(state);
  return encodeGroupStateV3(s, isZeroKeyed(s));
}

/** Inverse of encodeGroupState (any version), bound to `clientConfig`; trees come from `cache` when it has them. */
export function decodeGroupState(bytes: Uint8Array, cache: TreeCache, clientConfig: ClientConfig): GroupState {
  const { state, zeroKeyedEpoch } = decodeGroupStateBytes(bytes, cache);
  const decoded: ClientState = { ...state, clientConfig };
  if (zeroKeyedEpoch) markZeroKeyed(decoded);
  return outer(decoded);
}
