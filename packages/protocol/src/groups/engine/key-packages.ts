/**
 * A device's MLS identity and its key packages (RFC 9420 §10): a fresh MLS signature key bound to the account by the
 * device credential (../device-credential.ts), and key packages with a bounded lifetime carrying that credential.
 */
import { defaultCapabilities, generateKeyPackageWithKey } from 'ts-mls';
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import type { IdentityKeyPair } from '../../keys/identity.js';
import { assertDeviceAddress, decodeDeviceCredential, signDeviceCredential } from '../device-credential.js';
import { makeKeyPackageRef } from '../ts-mls-internals.js';
import { decodeKeyPackageBundle, encodeKeyPackageBundle, mlsMessageBytes } from './codecs.js';
import type { EngineContext } from './context.js';
import { KEY_PACKAGE_LIFETIME_SECONDS } from './types.js';
import type { KeyPackageBundle, MlsDeviceIdentity } from './types.js';

/** Makes this device's MLS identity: a fresh MLS signature key pair bound to the account by `identity`. */
export async function createDeviceIdentity(
  context: EngineContext,
  identity: IdentityKeyPair,
  accountId: string,
  deviceId: number,
): Promise<MlsDeviceIdentity> {
  assertDeviceAddress(accountId, deviceId);
  const impl = await context.impl();
  const { publicKey, signKey } = await impl.signature.keygen();
  const credential = await signDeviceCredential(context.crypto, identity, accountId, deviceId, publicKey);
  const { identityKey } = decodeDeviceCredential(credential);
  return {
    cipherSuite: context.cipherSuite,
    accountId,
    deviceId,
    identityKey,
    signaturePublicKey: publicKey,
    signaturePrivateKey: signKey,
    credential,
  };
}

/** `count` one-time key packages for upload (the public parts) and the device's store (the bundles). */
export async function generateKeyPackages(context: EngineContext, device: MlsDeviceIdentity, count: number): Promise<KeyPackageBundle[]> {
  if (!Number.isInteger(count) || count < 0 || count > 1000) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'key package count must be 0..1000');
  }
  const out: KeyPackageBundle[] = [];
  for (let i = 0; i < count; i++) out.push(await generateKeyPackage(context, device, false));
  return out;
}

/** One key package of `device`, valid from an hour ago for KEY_PACKAGE_LIFETIME_SECONDS. */
export async function generateKeyPackage(context: EngineContext, device: MlsDeviceIdentity, lastResort: boolean): Promise<KeyPackageBundle> {
  const impl = await context.impl(device.cipherSuite);
  const now = BigInt(Math.floor(context.now()));
  const lifetime = { notBefore: now - 3600n, notAfter: now + BigInt(KEY_PACKAGE_LIFETIME_SECONDS) };
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: device.credential },
    defaultCapabilities(),
    lifetime,
    [],
    { signKey: device.signaturePrivateKey, publicKey: device.signaturePublicKey },
    impl,
  );
  const publicKeyPackage = mlsMessageBytes({
    version: 'mls10',
    wireformat: 'mls_key_package',
    keyPackage: publicPackage,
  });
  return {
    publicKeyPackage,
    ref: await makeKeyPackageRef(publicPackage, impl.hash),
    lastResort,
    privateKeyPackage: encodeKeyPackageBundle(publicKeyPackage, privatePackage, lastResort),
  };
}

/** The public side of a stored key package bundle (e.g. to find the one a Welcome names). */
export function readKeyPackageBundle(bytes: Uint8Array): { publicKeyPackage: Uint8Array; lastResort: boolean } {
  const { keyPackage, lastResort } = decodeKeyPackageBundle(bytes);
  return {
    publicKeyPackage: mlsMessageBytes({ version: 'mls10', wireformat: 'mls_key_package', keyPackage }),
    lastResort,
  };
}
