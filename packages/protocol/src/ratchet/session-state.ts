/**
 * The state of one Double Ratchet session (Double Ratchet §3.2 state variables, plus what PQXDH and Sesame need),
 * and its versioned binary serialization. A persistent client stores this after every message, so the encoding is
 * compact and decoding does no key imports: keys are raw bytes, imported only when a DH actually runs.
 */
import type { KeyPair } from '../crypto/provider.js';
import { MLKEM1024_CIPHERTEXT_LENGTH, X25519_KEY_LENGTH } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { IDENTITY_KEY_LENGTH } from '../keys/identity.js';
import { BinaryReader, BinaryWriter } from '../wire/binary.js';

export const SESSION_STATE_VERSION = 1;
const KEY = X25519_KEY_LENGTH;

export interface ChainState {
  readonly key: Uint8Array;
  /** Ns or Nr of §3.2: the number of the next message in this chain. */
  readonly index: number;
}

export interface SkippedMessageKey {
  readonly ratchetKey: Uint8Array;
  readonly index: number;
  readonly messageKey: Uint8Array;
}

/** What the initiator repeats in every message until the responder answers (PQXDH §3.3 initial message). */
export interface PendingPreKey {
  readonly signedPreKeyId: number;
  readonly oneTimePreKeyId: number | undefined;
  readonly kyberPreKeyId: number;
  readonly kemCiphertext: Uint8Array;
}

export interface SessionState {
  /** RK. */
  readonly rootKey: Uint8Array;
  /** AD of PQXDH §3.3: Encode(IK_initiator) || Encode(IK_responder). */
  readonly associatedData: Uint8Array;
  /** The peer's encoded identity key (one half of the AD). */
  readonly remoteIdentityKey: Uint8Array;
  /** DHs. */
  readonly sendingRatchetKey: KeyPair;
  /** CKs and Ns; absent until the first DH ratchet step on the responder's side. */
  readonly sendingChain: ChainState | undefined;
  /** PN. */
  readonly previousCounter: number;
  /** DHr. */
  readonly receivingRatchetKey: Uint8Array | undefined;
  /** CKr and Nr. */
  readonly receivingChain: ChainState | undefined;
  /** MKSKIPPED, oldest first; bounded by MAX_SKIPPED_TOTAL. */
  readonly skipped: readonly SkippedMessageKey[];
  /** Earlier DHr values, newest last: a message on one of them with no skipped key is a duplicate. */
  readonly previousReceivingKeys: readonly Uint8Array[];
  /** EK_A of the PQXDH run that created the session: identifies it, and breaks ties in simultaneous initiation. */
  readonly baseKey: Uint8Array;
  /** True on the side that ran PQXDH as Alice. */
  readonly initiator: boolean;
  /** Set on the initiator until the first message from the responder decrypts. */
  readonly pendingPreKey: PendingPreKey | undefined;
  /** True once any message of this session has decrypted on our side. */
  readonly received: boolean;
  /**
   * On the responder: SHA-256 of the initial message's PQXDH fields. Later prekey messages of the same session must
   * repeat them byte for byte; the fields are otherwise unauthenticated once the session exists.
   */
  readonly initialMessageDigest: Uint8Array | undefined;
}

function writeChain(w: BinaryWriter, chain: ChainState | undefined): void {
  w.bool(chain !== undefined);
  if (chain) w.fixed(chain.key).varint(chain.index);
}

function readChain(r: BinaryReader, what: string): ChainState | undefined {
  if (!r.bool(`${what} flag`)) return undefined;
  return { key: r.fixed(KEY, `${what} key`), index: r.varint(`${what} index`) };
}

export function encodeSessionState(s: SessionState): Uint8Array {
  const w = new BinaryWriter(512 + s.skipped.length * 70 + (s.pendingPreKey ? MLKEM1024_CIPHERTEXT_LENGTH : 0));
  w.u8(SESSION_STATE_VERSION)
    .fixed(s.rootKey)
    .fixed(s.associatedData)
    .fixed(s.remoteIdentityKey)
    .fixed(s.sendingRatchetKey.publicKey)
    .fixed(s.sendingRatchetKey.privateKey);
  writeChain(w, s.sendingChain);
  w.varint(s.previousCounter).bool(s.receivingRatchetKey !== undefined);
  if (s.receivingRatchetKey) w.fixed(s.receivingRatchetKey);
  writeChain(w, s.receivingChain);
  w.varint(s.skipped.length);
  for (const k of s.skipped) w.fixed(k.ratchetKey).varint(k.index).fixed(k.messageKey);
  w.varint(s.previousReceivingKeys.length);
  for (const k of s.previousReceivingKeys) w.fixed(k);
  w.fixed(s.baseKey).bool(s.initiator).bool(s.received).bool(s.initialMessageDigest !== undefined);
  if (s.initialMessageDigest) w.fixed(s.initialMessageDigest);
  w.bool(s.pendingPreKey !== undefined);
  const p = s.pendingPreKey;
  if (p) {
    w.varint(p.signedPreKeyId).bool(p.oneTimePreKeyId !== undefined);
    if (p.oneTimePreKeyId !== undefined) w.varint(p.oneTimePreKeyId);
    w.varint(p.kyberPreKeyId).fixed(p.kemCiphertext);
  }
  return w.finish();
}

/** Upper bounds on decoded list lengths, so a corrupted record cannot make us allocate without limit. */
const MAX_DECODED_SKIPPED = 100_000;
const MAX_DECODED_PREVIOUS_KEYS = 1_000;

export function decodeSessionState(bytes: Uint8Array): SessionState {
  const r = new BinaryReader(bytes);
  if (r.u8('session state version') !== SESSION_STATE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, 'unknown session state version');
  }
  const rootKey = r.fixed(KEY, 'root key');
  const associatedData = r.fixed(2 * IDENTITY_KEY_LENGTH, 'associated data');
  const remoteIdentityKey = r.fixed(IDENTITY_KEY_LENGTH, 'remote identity key');
  const sendingRatchetKey = { publicKey: r.fixed(KEY, 'ratchet public key'), privateKey: r.fixed(KEY, 'ratchet key') };
  const sendingChain = readChain(r, 'sending chain');
  const previousCounter = r.varint('previous counter');
  const receivingRatchetKey = r.bool('receiving ratchet key flag') ? r.fixed(KEY, 'receiving ratchet key') : undefined;
  const receivingChain = readChain(r, 'receiving chain');
  const skippedCount = r.varint('skipped key count', MAX_DECODED_SKIPPED);
  const skipped: SkippedMessageKey[] = [];
  for (let i = 0; i < skippedCount; i++) {
    skipped.push({
      ratchetKey: r.fixed(KEY, 'skipped ratchet key'),
      index: r.varint('skipped index'),
      messageKey: r.fixed(KEY, 'skipped message key'),
    });
  }
  const previousCount = r.varint('previous key count', MAX_DECODED_PREVIOUS_KEYS);
  const previousReceivingKeys: Uint8Array[] = [];
  for (let i = 0; i < previousCount; i++) previousReceivingKeys.push(r.fixed(KEY, 'previous receiving key'));
  const baseKey = r.fixed(KEY, 'base key');
  const initiator = r.bool('initiator flag');
  const received = r.bool('received flag');
  const initialMessageDigest = r.bool('digest flag') ? r.fixed(32, 'initial message digest') : undefined;
  let pendingPreKey: PendingPreKey | undefined;
  if (r.bool('pending prekey flag')) {
    const signedPreKeyId = r.varint('signed prekey id');
    const oneTimePreKeyId = r.bool('one-time prekey flag') ? r.varint('one-time prekey id') : undefined;
    const kyberPreKeyId = r.varint('ML-KEM prekey id');
    const kemCiphertext = r.fixed(MLKEM1024_CIPHERTEXT_LENGTH, 'ML-KEM ciphertext');
    pendingPreKey = { signedPreKeyId, oneTimePreKeyId, kyberPreKeyId, kemCiphertext };
  }
  r.end('session state');
  return {
    rootKey,
    associatedData,
    remoteIdentityKey,
    sendingRatchetKey,
    sendingChain,
    previousCounter,
    receivingRatchetKey,
    receivingChain,
    skipped,
    previousReceivingKeys,
    baseKey,
    initiator,
    pendingPreKey,
    received,
    initialMessageDigest,
  };
}
