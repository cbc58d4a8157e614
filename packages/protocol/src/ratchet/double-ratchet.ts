/**
 * The Double Ratchet — "The Double Ratchet Algorithm", Perrin & Marlinspike, Signal
 * (signal.org/docs/specifications/doubleratchet), §3 without header encryption, initialised from PQXDH as §3.3
 * and PQXDH §3.3 describe (SK is the first root key; Bob's signed prekey is his first ratchet key).
 *
 * State moves forward as a value: every function returns a new SessionState and never mutates its input, so a
 * failed decryption (bad MAC, hostile header) leaves the caller's state exactly as it was.
 */
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { X25519_KEY_LENGTH } from '../crypto/provider.js';
import { concatBytes, constantTimeEqual } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { decodeIdentityKey } from '../keys/identity.js';
import type { RatchetMessage } from '../wire/ratchet-message.js';
import { encodeRatchetHeader, encodeRatchetMessage } from '../wire/ratchet-message.js';
import { expandMessageKey, kdfChainKey } from './chain-key.js';
import { kdfRootKey } from './root-key.js';
import type { ChainState, PendingPreKey, SessionState, SkippedMessageKey } from './session-state.js';

/** §3.5 MAX_SKIP: the most message keys one incoming message may make us skip in a single chain. */
export const MAX_SKIP = 1000;
/** Total skipped keys kept per session; the oldest go first, so a hostile peer cannot grow our state without bound. */
export const MAX_SKIPPED_TOTAL = 2000;
/** Earlier receiving ratchet keys remembered for duplicate detection. */
export const MAX_PREVIOUS_RECEIVING_KEYS = 8;

export interface InitiatorParams {
  readonly sharedSecret: Uint8Array;
  readonly associatedData: Uint8Array;
  /** Bob's signed prekey: his first ratchet public key (PQXDH §3.3 / Double Ratchet §3.3). */
  readonly theirRatchetKey: Uint8Array;
  readonly baseKey: Uint8Array;
  readonly pendingPreKey: PendingPreKey;
}

export interface ResponderParams {
  readonly sharedSecret: Uint8Array;
  readonly associatedData: Uint8Array;
  /** Bob's signed prekey pair: his first ratchet key pair. */
  readonly ourRatchetKey: KeyPair;
  readonly baseKey: Uint8Array;
  /** SHA-256 of the initial message's PQXDH fields (see SessionState.initialMessageDigest). */
  readonly initialMessageDigest: Uint8Array;
}

function remoteIdentityOf(associatedData: Uint8Array, initiator: boolean): Uint8Array {
  const half = associatedData.length / 2;
  const remote = initiator ? associatedData.slice(half) : associatedData.slice(0, half);
  decodeIdentityKey(remote); // validates the encoding
  return remote;
}

/** §3.3 RatchetInitAlice. */
export async function initializeAsInitiator(provider: CryptoProvider, p: InitiatorParams): Promise<SessionState> {
  const { keyPair: sendingRatchetKey, shared } = await provider.x25519GenerateAndAgree([p.theirRatchetKey]);
  const { rootKey, chainKey } = await kdfRootKey(provider, p.sharedSecret, shared[0] as Uint8Array);
  return {
    rootKey,
    associatedData: p.associatedData,
    remoteIdentityKey: remoteIdentityOf(p.associatedData, true),
    sendingRatchetKey,
    sendingChain: { key: chainKey, index: 0 },
    previousCounter: 0,
    receivingRatchetKey: p.theirRatchetKey,
    receivingChain: undefined,
    skipped: [],
    previousReceivingKeys: [],
    baseKey: p.baseKey,
    initiator: true,
    pendingPreKey: p.pendingPreKey,
    received: false,
    initialMessageDigest: undefined,
  };
}

/** §3.3 RatchetInitBob. */
export function initializeAsResponder(p: ResponderParams): SessionState {
  return {
    rootKey: p.sharedSecret,
    associatedData: p.associatedData,
    remoteIdentityKey: remoteIdentityOf(p.associatedData, false),
    sendingRatchetKey: p.ourRatchetKey,
    sendingChain: undefined,
    previousCounter: 0,
    receivingRatchetKey: undefined,
    receivingChain: undefined,
    skipped: [],
    previousReceivingKeys: [],
    baseKey: p.baseKey,
    initiator: false,
    pendingPreKey: undefined,
    received: false,
    initialMessageDigest: p.initialMessageDigest,
  };
}

async function seal(provider: CryptoProvider, messageKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) {
  const { key, iv } = await expandMessageKey(provider, messageKey);
  return provider.aesGcmEncrypt(key, iv, plaintext, aad);
}

async function open(provider: CryptoProvider, messageKey: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array) {
  const { key, iv } = await expandMessageKey(provider, messageKey);
  return provider.aesGcmDecrypt(key, iv, ciphertext, aad);
}

/** §3.4 RatchetEncrypt. Returns the encoded ratchet message (wire/ratchet-message.ts). */
export async function ratchetEncrypt(
  provider: CryptoProvider,
  state: SessionState,
  plaintext: Uint8Array,
): Promise<{ state: SessionState; message: Uint8Array }> {
  const chain = state.sendingChain;
  if (!chain) throw new ProtocolError(ProtocolErrorCode.NoSession, 'session cannot send before it has received');
  const { chainKey, messageKey } = await kdfChainKey(provider, chain.key);
  const headerBytes = encodeRatchetHeader({
    ratchetKey: state.sendingRatchetKey.publicKey,
    previousCounter: state.previousCounter,
    counter: chain.index,
  });
  // §3.4: ENCRYPT(mk, plaintext, CONCAT(AD, header)).
  const ciphertext = await seal(provider, messageKey, plaintext, concatBytes(state.associatedData, headerBytes));
  messageKey.fill(0);
  return {
    state: { ...state, sendingChain: { key: chainKey, index: chain.index + 1 } },
    message: encodeRatchetMessage(headerBytes, ciphertext),
  };
}

/** A working copy of the mutable parts of the state during one decryption; committed only on success. */
interface Draft {
  rootKey: Uint8Array;
  sendingRatchetKey: KeyPair;
  sendingChain: ChainState | undefined;
  previousCounter: number;
  receivingRatchetKey: Uint8Array | undefined;
  receivingChain: ChainState | undefined;
  skipped: SkippedMessageKey[];
  previousReceivingKeys: Uint8Array[];
}

/** §3.5 SkipMessageKeys, with MAX_SKIP per call and MAX_SKIPPED_TOTAL overall (oldest evicted). */
async function skipMessageKeys(provider: CryptoProvider, d: Draft, until: number): Promise<void> {
  const chain = d.receivingChain;
  if (!chain || d.receivingRatchetKey === undefined) return;
  if (chain.index + MAX_SKIP < until) {
    throw new ProtocolError(ProtocolErrorCode.TooManySkipped, 'message would skip more than MAX_SKIP keys');
  }
  let { key, index } = chain;
  while (index < until) {
    const next = await kdfChainKey(provider, key);
    d.skipped.push({ ratchetKey: d.receivingRatchetKey, index, messageKey: next.messageKey });
    key = next.chainKey;
    index++;
  }
  if (d.skipped.length > MAX_SKIPPED_TOTAL) d.skipped.splice(0, d.skipped.length - MAX_SKIPPED_TOTAL);
  d.receivingChain = { key, index };
}

/** §3.5 DHRatchet. */
async function dhRatchet(provider: CryptoProvider, d: Draft, theirRatchetKey: Uint8Array): Promise<void> {
  if (d.receivingRatchetKey) {
    d.previousReceivingKeys.push(d.receivingRatchetKey);
    if (d.previousReceivingKeys.length > MAX_PREVIOUS_RECEIVING_KEYS) d.previousReceivingKeys.shift();
  }
  d.previousCounter = d.sendingChain?.index ?? 0;
  d.receivingRatchetKey = theirRatchetKey;
  const received = await kdfRootKey(
    provider,
    d.rootKey,
    await provider.x25519(d.sendingRatchetKey.privateKey, theirRatchetKey),
  );
  d.receivingChain = { key: received.chainKey, index: 0 };
  const next = await provider.x25519GenerateAndAgree([theirRatchetKey]);
  d.sendingRatchetKey = next.keyPair;
  const sent = await kdfRootKey(provider, received.rootKey, next.shared[0] as Uint8Array);
  d.rootKey = sent.rootKey;
  d.sendingChain = { key: sent.chainKey, index: 0 };
}

/**
 * §3.5 RatchetDecrypt, plus duplicate detection: a message whose key was already used (same chain, lower counter,
 * no skipped key; or a remembered earlier chain with no skipped key) throws DUPLICATE_MESSAGE.
 */
export async function ratchetDecrypt(
  provider: CryptoProvider,
  state: SessionState,
  message: RatchetMessage,
): Promise<{ state: SessionState; plaintext: Uint8Array }> {
  const { header } = message;
  if (header.ratchetKey.length !== X25519_KEY_LENGTH) {
    throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'ratchet key must be 32 bytes');
  }
  const aad = concatBytes(state.associatedData, message.headerBytes);

  // §3.5 TrySkippedMessageKeys.
  const skippedAt = state.skipped.findIndex(
    (k) => k.index === header.counter && constantTimeEqual(k.ratchetKey, header.ratchetKey),
  );
  if (skippedAt >= 0) {
    const entry = state.skipped[skippedAt] as SkippedMessageKey;
    const plaintext = await open(provider, entry.messageKey, message.ciphertext, aad);
    const skipped = state.skipped.slice();
    skipped.splice(skippedAt, 1);
    return { state: { ...state, skipped, received: true, pendingPreKey: undefined }, plaintext };
  }

  const current = state.receivingRatchetKey !== undefined && constantTimeEqual(state.receivingRatchetKey, header.ratchetKey);
  if (current && state.receivingChain && header.counter < state.receivingChain.index) {
    throw new ProtocolError(ProtocolErrorCode.Duplicate, 'message key already used');
  }
  if (!current && state.previousReceivingKeys.some((k) => constantTimeEqual(k, header.ratchetKey))) {
    throw new ProtocolError(ProtocolErrorCode.Duplicate, 'message key already used or expired');
  }

  const d: Draft = {
    rootKey: state.rootKey,
    sendingRatchetKey: state.sendingRatchetKey,
    sendingChain: state.sendingChain,
    previousCounter: state.previousCounter,
    receivingRatchetKey: state.receivingRatchetKey,
    receivingChain: state.receivingChain,
    skipped: state.skipped.slice(),
    previousReceivingKeys: state.previousReceivingKeys.slice(),
  };
  if (!current) {
    await skipMessageKeys(provider, d, header.previousCounter);
    await dhRatchet(provider, d, header.ratchetKey);
  }
  await skipMessageKeys(provider, d, header.counter);
  const chain = d.receivingChain as ChainState;
  const { chainKey, messageKey } = await kdfChainKey(provider, chain.key);
  const plaintext = await open(provider, messageKey, message.ciphertext, aad);
  messageKey.fill(0);
  return {
    state: {
      ...state,
      ...d,
      receivingChain: { key: chainKey, index: chain.index + 1 },
      received: true,
      // PQXDH: once Bob has answered, Alice stops repeating the initial-message fields.
      pendingPreKey: undefined,
    },
    plaintext,
  };
}
