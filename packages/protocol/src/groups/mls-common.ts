/**
 * What the group engine (./mls-engine.ts) and the Delivery Service's checks (./delivery-service.ts) share: reading
 * members out of a ratchet tree, decoding MLS messages, and mapping ts-mls's errors onto ours.
 */
import { decodeMlsMessage } from 'ts-mls';
import type { Credential, LeafNode, MLSMessage, RatchetTree } from 'ts-mls';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { DeviceCredential } from './device-credential.js';
import { decodeDeviceCredential } from './device-credential.js';
import { decodeWhole } from './group-state-codec.js';
import { CodecError, CryptoError, CryptoVerificationError, MlsError, UsageError } from './ts-mls-internals.js';

/** A group member: one device's leaf (its credential, ./device-credential.ts) at `leafIndex`. */
export interface GroupMember extends DeviceCredential {
  readonly leafIndex: number;
}

/** Maps ts-mls's errors to ProtocolErrors (ours pass through: they come from our AuthenticationService). */
export function toProtocolError(err: unknown): unknown {
  if (err instanceof ProtocolError || !(err instanceof Error)) return err;
  if (err instanceof CodecError) return new ProtocolError(ProtocolErrorCode.Decode, `MLS: ${err.message}`);
  if (err instanceof CryptoVerificationError) {
    return new ProtocolError(ProtocolErrorCode.BadSignature, `MLS: ${err.message}`);
  }
  if (err instanceof CryptoError) return new ProtocolError(ProtocolErrorCode.BadMac, `MLS: ${err.message}`);
  if (err instanceof UsageError) return new ProtocolError(ProtocolErrorCode.InvalidArgument, `MLS: ${err.message}`);
  if (err instanceof MlsError) return new ProtocolError(ProtocolErrorCode.InvalidMessage, `MLS: ${err.message}`);
  return err;
}

export async function mapErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toProtocolError(err);
  }
}

export function decodeMessage(bytes: Uint8Array): MLSMessage {
  return decodeWhole(decodeMlsMessage, bytes, 'not an MLS message');
}

export function basicIdentity(credential: Credential): Uint8Array {
  if (credential.credentialType !== 'basic') {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'member credential is not a basic device credential');
  }
  return credential.identity;
}

export function memberOf(leaf: LeafNode, leafIndex: number): GroupMember {
  const { signature: _signature, ...credential } = decodeDeviceCredential(basicIdentity(leaf.credential));
  return { ...credential, leafIndex };
}

export function leafAt(tree: RatchetTree, leafIndex: number): LeafNode | undefined {
  const node = tree[leafIndex * 2];
  return node?.nodeType === 'leaf' ? node.leaf : undefined;
}

export function membersOf(tree: RatchetTree): GroupMember[] {
  const out: GroupMember[] = [];
  for (let i = 0; i < tree.length; i += 2) {
    const node = tree[i];
    if (node?.nodeType === 'leaf') out.push(memberOf(node.leaf, i / 2));
  }
  return out;
}
