/**
 * Tree heads (draft-ietf-keytrans-protocol-06 §"Tree Head Signature", §"Auditor Tree Head Signature"): the log's
 * operator signs `TreeHeadTBS` — the log's long-term Configuration, the number of log entries and the log tree's
 * root — with Ed25519 (cipher suite KT_128_SHA256_Ed25519); an auditor that has checked the log up to some size
 * countersigns `AuditorTreeHeadTBS` for it. Clients pin the configuration (both public keys) on first use.
 *
 * We deploy the log in the draft's Contact Monitoring mode (no Third-Party Manager); auditors are optional and
 * countersign the same Configuration (docs/protocol.md "Key transparency").
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { TlsReader, TlsWriter } from './tls.js';

/** §"KT Cipher Suites": KT_128_SHA256_Ed25519. */
export const KT_CIPHER_SUITE = 0x0002;
/** §"Tree Head Signature": DeploymentMode contactMonitoring(1). */
export const KT_DEPLOYMENT_MODE = 1;
export const HASH_LENGTH = 32;

/** The log's long-term configuration (`Configuration`, contactMonitoring mode). Durations in ms. */
export interface KtConfiguration {
  readonly signaturePublicKey: Uint8Array;
  readonly vrfPublicKey: Uint8Array;
  /** How far a tree head's newest entry may be ahead of the client's clock. */
  readonly maxAhead: number;
  /** How far it may be behind (the log appends an entry at least this often, updates or not). */
  readonly maxBehind: number;
  /** The Reasonable Monitoring Window: how often owners are expected to monitor their labels. */
  readonly reasonableMonitoringWindow: number;
}

export interface TreeHead {
  readonly treeSize: number;
  readonly signature: Uint8Array;
}

export interface AuditorTreeHead {
  readonly timestamp: number;
  readonly treeSize: number;
  readonly signature: Uint8Array;
}

function checkSize(treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 1) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'a tree size is a positive integer');
}

function checkRoot(root: Uint8Array): void {
  if (root.length !== HASH_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `a root is ${HASH_LENGTH} bytes`);
}

/** `Configuration` as the signatures cover it (maximum_lifetime absent: log entries never expire). */
export function encodeConfiguration(config: KtConfiguration): Uint8Array {
  if (config.signaturePublicKey.length !== ED25519_PUBLIC_KEY_LENGTH || config.vrfPublicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'the log keys are 32-byte Ed25519 public keys');
  }
  return new TlsWriter()
    .u16(KT_CIPHER_SUITE)
    .u8(KT_DEPLOYMENT_MODE)
    .vector(config.signaturePublicKey, 2)
    .vector(config.vrfPublicKey, 2)
    .u64(config.maxAhead)
    .u64(config.maxBehind)
    .u64(config.reasonableMonitoringWindow)
    .u8(0)
    .finish();
}

/** Decodes an encoded Configuration (as a client pins it); DECODE_ERROR for anything but our suite and mode. */
export function decodeConfiguration(bytes: Uint8Array): KtConfiguration {
  const r = new TlsReader(bytes);
  if (r.u16('cipher suite') !== KT_CIPHER_SUITE) throw new ProtocolError(ProtocolErrorCode.Decode, 'not the KT_128_SHA256_Ed25519 cipher suite');
  if (r.u8('deployment mode') !== KT_DEPLOYMENT_MODE) throw new ProtocolError(ProtocolErrorCode.Decode, 'not the contact monitoring deployment mode');
  const signaturePublicKey = r.vector(2, 'signature public key', ED25519_PUBLIC_KEY_LENGTH);
  const vrfPublicKey = r.vector(2, 'VRF public key', ED25519_PUBLIC_KEY_LENGTH);
  if (signaturePublicKey.length !== ED25519_PUBLIC_KEY_LENGTH || vrfPublicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'the log keys are 32-byte Ed25519 public keys');
  }
  const maxAhead = r.u64('max_ahead');
  const maxBehind = r.u64('max_behind');
  const reasonableMonitoringWindow = r.u64('reasonable_monitoring_window');
  if (r.u8('maximum_lifetime presence') !== 0) throw new ProtocolError(ProtocolErrorCode.Decode, 'log entries of this log never expire');
  r.end('configuration');
  return { signaturePublicKey, vrfPublicKey, maxAhead, maxBehind, reasonableMonitoringWindow };
}

/** §"Tree Head Signature": `struct { Configuration config; uint64 tree_size; opaque root[Hash.Nh]; } TreeHeadTBS`. */
export function treeHeadTbs(config: KtConfiguration, treeSize: number, root: Uint8Array): Uint8Array {
  checkSize(treeSize);
  checkRoot(root);
  return new TlsWriter().fixed(encodeConfiguration(config)).u64(treeSize).fixed(root).finish();
}

/** §"Auditor Tree Head Signature": `AuditorTreeHeadTBS`. */
export function auditorTreeHeadTbs(config: KtConfiguration, timestamp: number, treeSize: number, root: Uint8Array): Uint8Array {
  checkSize(treeSize);
  checkRoot(root);
  return new TlsWriter().fixed(encodeConfiguration(config)).u64(timestamp).u64(treeSize).fixed(root).finish();
}

export async function signTreeHead(crypto: CryptoProvider, signingKey: Uint8Array, config: KtConfiguration, treeSize: number, root: Uint8Array): Promise<TreeHead> {
  return { treeSize, signature: await crypto.ed25519Sign(signingKey, treeHeadTbs(config, treeSize, root)) };
}

/** Throws INVALID_PROOF unless the log's key signed this tree head over `root`. */
export async function verifyTreeHead(crypto: CryptoProvider, config: KtConfiguration, head: TreeHead, root: Uint8Array): Promise<void> {
  const ok = head.signature.length === ED25519_SIGNATURE_LENGTH && (await crypto.ed25519Verify(config.signaturePublicKey, treeHeadTbs(config, head.treeSize, root), head.signature));
  if (!ok) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the tree head signature does not verify');
}

export async function signAuditorTreeHead(
  crypto: CryptoProvider,
  auditorKey: Uint8Array,
  config: KtConfiguration,
  timestamp: number,
  treeSize: number,
  root: Uint8Array,
): Promise<AuditorTreeHead> {
  return { timestamp, treeSize, signature: await crypto.ed25519Sign(auditorKey, auditorTreeHeadTbs(config, timestamp, treeSize, root)) };
}

/** Throws INVALID_PROOF unless `auditorPublicKey` countersigned this head over `root` (the root at its tree size). */
export async function verifyAuditorTreeHead(crypto: CryptoProvider, config: KtConfiguration, auditorPublicKey: Uint8Array, head: AuditorTreeHead, root: Uint8Array): Promise<void> {
  const ok =
    head.signature.length === ED25519_SIGNATURE_LENGTH &&
    (await crypto.ed25519Verify(auditorPublicKey, auditorTreeHeadTbs(config, head.timestamp, head.treeSize, root), head.signature));
  if (!ok) throw new ProtocolError(ProtocolErrorCode.InvalidProof, 'the auditor signature does not verify');
}

export function encodeTreeHead(head: TreeHead): Uint8Array {
  return new TlsWriter().u64(head.treeSize).vector(head.signature, 2).finish();
}

export function readTreeHead(r: TlsReader): TreeHead {
  const treeSize = r.u64('tree size');
  if (treeSize < 1) throw new ProtocolError(ProtocolErrorCode.Decode, 'an empty tree has no head');
  return { treeSize, signature: r.vector(2, 'signature', ED25519_SIGNATURE_LENGTH) };
}
