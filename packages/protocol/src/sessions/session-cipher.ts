/**
 * Encrypting to and decrypting from one remote device, with the session-selection rules of Sesame
 * (signal.org/docs/specifications/sesame §3): one active session per device, inactive ones kept for messages in
 * flight, a new initial message installing a new active session, and a message that decrypts with an inactive
 * session making it active — which is how both sides of a simultaneous initiation converge on one session
 * (docs/protocol.md, "Sessions").
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { constantTimeEqual } from '../crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import type { PreKeyBundle } from '../keys/bundle.js';
import { decodeIdentityKey, encodeIdentityKey } from '../keys/identity.js';
import { pqxdhInitiate, pqxdhRespond } from '../pqxdh.js';
import { initializeAsInitiator, initializeAsResponder, ratchetDecrypt, ratchetEncrypt } from '../ratchet/double-ratchet.js';
import type { SessionState } from '../ratchet/session-state.js';
import { MAX_MESSAGE_PLAINTEXT } from '../wire/envelope.js';
import { pad, unpad } from '../wire/padding.js';
import type { PreKeyMessage } from '../wire/prekey-message.js';
import { decodePreKeyMessage, encodePreKeyMessage } from '../wire/prekey-message.js';
import { decodeRatchetMessage } from '../wire/ratchet-message.js';
import type { SessionRecord } from './session-record.js';
import { decodeSessionRecord, EMPTY_RECORD, encodeSessionRecord, promote, replace, retire } from './session-record.js';
import type { ProtocolAddress, ProtocolStore } from './stores.js';

/** The two kinds of ciphertext a device sends (the same numbers as the envelope types). */
export const CiphertextType = { PreKey: 1, Ratchet: 2 } as const;
export type CiphertextType = (typeof CiphertextType)[keyof typeof CiphertextType];

export interface CiphertextMessage {
  readonly type: CiphertextType;
  readonly body: Uint8Array;
}

export type DecryptResult =
  | {
      readonly kind: 'message';
      readonly plaintext: Uint8Array;
      /** True when this message started a new session (an initial PQXDH message). */
      readonly newSession: boolean;
      /** True when the sender's identity key differs from the one pinned before. */
      readonly identityChanged: boolean;
      /**
       * The encoded identity key of the session that decrypted the message: whoever sent it holds its private key
       * (sealed sender checks that it is the identity that sealed the envelope).
       */
      readonly remoteIdentity: Uint8Array;
    }
  /** The message's key was already used: a redelivery. Not an error; callers acknowledge it silently. */
  | { readonly kind: 'duplicate' };

async function loadRecord(store: ProtocolStore, address: ProtocolAddress): Promise<SessionRecord> {
  const bytes = await store.loadSession(address);
  return bytes ? decodeSessionRecord(bytes) : EMPTY_RECORD;
}

async function checkTrust(
  store: ProtocolStore,
  address: ProtocolAddress,
  identityKey: Uint8Array,
  direction: 'sending' | 'receiving',
): Promise<void> {
  if (!(await store.isTrustedIdentity(address.account, identityKey, direction))) {
    throw new ProtocolError(ProtocolErrorCode.UntrustedIdentity, 'identity key of this account is not trusted');
  }
}

/** PQXDH as Alice with a bundle fetched for `address`; the new session becomes active (Sesame §3.3). */
export async function processPreKeyBundle(
  provider: CryptoProvider,
  store: ProtocolStore,
  address: ProtocolAddress,
  bundle: PreKeyBundle,
): Promise<{ identityChanged: boolean }> {
  const remoteIdentity = encodeIdentityKey(bundle.identityKey);
  await checkTrust(store, address, remoteIdentity, 'sending');
  const ours = await store.getIdentityKeyPair();
  const result = await pqxdhInitiate(provider, ours, bundle);
  const state = await initializeAsInitiator(provider, {
    sharedSecret: result.sharedSecret,
    associatedData: result.associatedData,
    theirRatchetKey: bundle.signedPreKey.publicKey,
    baseKey: result.baseKey,
    pendingPreKey: {
      signedPreKeyId: result.signedPreKeyId,
      oneTimePreKeyId: result.oneTimePreKeyId,
      kyberPreKeyId: result.kyberPreKeyId,
      kemCiphertext: result.kemCiphertext,
    },
  });
  const record = await loadRecord(store, address);
  await store.storeSession(address, encodeSessionRecord(promote(record, state)));
  const identityChanged = await store.saveIdentity(address.account, remoteIdentity);
  return { identityChanged };
}

/** Pads and encrypts `plaintext` with the active session of `address`. */
export async function encryptMessage(
  provider: CryptoProvider,
  store: ProtocolStore,
  address: ProtocolAddress,
  plaintext: Uint8Array,
): Promise<CiphertextMessage> {
  if (plaintext.length > MAX_MESSAGE_PLAINTEXT) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `plaintext longer than ${MAX_MESSAGE_PLAINTEXT} bytes`);
  }
  const record = await loadRecord(store, address);
  const active = record.active;
  if (!active) throw new ProtocolError(ProtocolErrorCode.NoSession, 'no session with this device');
  await checkTrust(store, address, active.remoteIdentityKey, 'sending');
  const { state, message } = await ratchetEncrypt(provider, active, pad(plaintext));
  await store.storeSession(address, encodeSessionRecord(replace(record, active, state)));
  const pending = state.pendingPreKey;
  if (!pending) return { type: CiphertextType.Ratchet, body: message };
  // PQXDH §3.3: until Bob answers, every message carries the initial-message fields.
  const ours = await store.getIdentityKeyPair();
  const body = encodePreKeyMessage({
    identityKey: encodeIdentityKey(ours.publicKey),
    baseKey: state.baseKey,
    signedPreKeyId: pending.signedPreKeyId,
    oneTimePreKeyId: pending.oneTimePreKeyId,
    kyberPreKeyId: pending.kyberPreKeyId,
    kemCiphertext: pending.kemCiphertext,
    message,
  });
  return { type: CiphertextType.PreKey, body };
}

/** SHA-256 over the PQXDH fields of a prekey message (everything but the embedded ratchet message). */
function initialMessageDigest(provider: CryptoProvider, message: PreKeyMessage): Promise<Uint8Array> {
  return provider.sha256(encodePreKeyMessage({ ...message, message: new Uint8Array(0) }));
}

function notFound(what: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.PreKeyNotFound, `${what} referenced by the message is unknown`);
}

/** PQXDH §3.4 for an initial message that names no existing session: build the responder's session. */
async function newResponderSession(
  provider: CryptoProvider,
  store: ProtocolStore,
  message: PreKeyMessage,
): Promise<SessionState> {
  const signedPreKey = await store.loadSignedPreKey(message.signedPreKeyId);
  if (!signedPreKey) throw notFound('signed prekey');
  const kyberPreKey = await store.loadKyberPreKey(message.kyberPreKeyId);
  if (!kyberPreKey) throw notFound('ML-KEM prekey');
  if (kyberPreKey.lastResort && (await store.hasKyberBaseKey(kyberPreKey.id, message.baseKey))) {
    // A replay of an initial message whose session is gone: refuse instead of building it again.
    throw new ProtocolError(ProtocolErrorCode.Duplicate, 'initial message already processed');
  }
  let oneTimePreKey;
  if (message.oneTimePreKeyId !== undefined) {
    // PQXDH §3.4: a one-time prekey is used at most once; a second message naming it finds nothing.
    oneTimePreKey = await store.loadOneTimePreKey(message.oneTimePreKeyId);
    if (!oneTimePreKey) throw notFound('one-time prekey');
  }
  const ours = await store.getIdentityKeyPair();
  const { sharedSecret, associatedData } = await pqxdhRespond(provider, ours, {
    theirIdentity: decodeIdentityKey(message.identityKey),
    baseKey: message.baseKey,
    kemCiphertext: message.kemCiphertext,
    signedPreKey: signedPreKey.keyPair,
    oneTimePreKey: oneTimePreKey?.keyPair,
    kyberPreKey: kyberPreKey.keyPair,
  });
  return initializeAsResponder({
    sharedSecret,
    associatedData,
    ourRatchetKey: signedPreKey.keyPair,
    baseKey: message.baseKey,
    initialMessageDigest: await initialMessageDigest(provider, message),
  });
}

/**
 * The Double Ratchet public key in a message's header, or undefined when the message does not parse. A retry request
 * names it (as libsignal's DecryptionErrorMessage does), so that the sender can tell which of its sessions failed.
 */
export function ratchetKeyOf(ciphertext: CiphertextMessage): Uint8Array | undefined {
  try {
    const ratchet = ciphertext.type === CiphertextType.PreKey ? decodePreKeyMessage(ciphertext.body).message : ciphertext.body;
    return decodeRatchetMessage(ratchet).header.ratchetKey;
  } catch {
    return undefined;
  }
}

/**
 * The base key (which names a session) of the active session with `address` if it sends with `ratchetKey` now
 * (libsignal's current_ratchet_key_matches, checked on a DecryptionErrorMessage): then the message the peer could
 * not decrypt came from the session we use, and retireSession may retire it. Undefined for any other key (an older
 * session's, a forged one).
 */
export async function sessionSendingWith(store: ProtocolStore, address: ProtocolAddress, ratchetKey: Uint8Array): Promise<Uint8Array | undefined> {
  const active = (await loadRecord(store, address)).active;
  return active && constantTimeEqual(active.sendingRatchetKey.publicKey, ratchetKey) ? active.baseKey : undefined;
}

/**
 * Retires the active session with `address` if it is still the one named by `baseKey`: it stays among the inactive
 * ones (messages in flight on it still decrypt, and one that does makes it active again, Sesame §3), and the next
 * message to the device needs a new session from a fresh bundle. Returns whether it did.
 */
export async function retireSession(store: ProtocolStore, address: ProtocolAddress, baseKey: Uint8Array): Promise<boolean> {
  const record = await loadRecord(store, address);
  if (!record.active || !constantTimeEqual(record.active.baseKey, baseKey)) return false;
  await store.storeSession(address, encodeSessionRecord(retire(record)));
  return true;
}

function isRetryable(err: unknown): boolean {
  return ProtocolError.is(err) && err.code !== ProtocolErrorCode.Decode && err.code !== ProtocolErrorCode.UnknownVersion;
}

/** Decrypts a message from `address`, choosing the session as Sesame §3 describes; stores the new state. */
export async function decryptMessage(
  provider: CryptoProvider,
  store: ProtocolStore,
  address: ProtocolAddress,
  ciphertext: CiphertextMessage,
): Promise<DecryptResult> {
  const record = await loadRecord(store, address);
  if (ciphertext.type === CiphertextType.PreKey) return decryptPreKey(provider, store, address, record, ciphertext.body);
  if (ciphertext.type !== CiphertextType.Ratchet) {
    throw new ProtocolError(ProtocolErrorCode.Decode, 'unknown ciphertext type');
  }
  const message = decodeRatchetMessage(ciphertext.body);
  const candidates = [record.active, ...record.inactive].filter((s): s is SessionState => s !== undefined);
  if (candidates.length === 0) throw new ProtocolError(ProtocolErrorCode.NoSession, 'no session with this device');
  // Sessions that already know the message's ratchet key first: only they can hold its key without a DH step.
  const knows = (s: SessionState) =>
    (s.receivingRatchetKey !== undefined && constantTimeEqual(s.receivingRatchetKey, message.header.ratchetKey)) ||
    s.previousReceivingKeys.some((k) => constantTimeEqual(k, message.header.ratchetKey));
  candidates.sort((a, b) => Number(knows(b)) - Number(knows(a)));
  let firstError: unknown;
  let duplicate = false;
  for (const session of candidates) {
    try {
      const { state, plaintext } = await ratchetDecrypt(provider, session, message);
      await checkTrust(store, address, state.remoteIdentityKey, 'receiving');
      // Sesame §3: a message that decrypts with an inactive session makes it the active one (the peer uses it).
      const next = session === record.active ? replace(record, session, state) : promote(record, state, session);
      await store.storeSession(address, encodeSessionRecord(next));
      return { kind: 'message', plaintext: unpad(plaintext), newSession: false, identityChanged: false, remoteIdentity: state.remoteIdentityKey };
    } catch (err) {
      if (ProtocolError.is(err, ProtocolErrorCode.Duplicate)) duplicate = true;
      else if (!isRetryable(err) || ProtocolError.is(err, ProtocolErrorCode.UntrustedIdentity)) throw err;
      firstError ??= err;
    }
  }
  if (duplicate) return { kind: 'duplicate' };
  throw firstError;
}

async function decryptPreKey(
  provider: CryptoProvider,
  store: ProtocolStore,
  address: ProtocolAddress,
  record: SessionRecord,
  body: Uint8Array,
): Promise<DecryptResult> {
  const message = decodePreKeyMessage(body);
  const inner = decodeRatchetMessage(message.message);
  await checkTrust(store, address, message.identityKey, 'receiving');
  const existing = [record.active, ...record.inactive].find(
    (s) => s !== undefined && constantTimeEqual(s.baseKey, message.baseKey),
  );
  if (existing) {
    // Another message of a session we already built: decrypt in place, no change of active session. Its PQXDH
    // fields no longer feed any key, so check that they are the ones the session was built from.
    const digest = await initialMessageDigest(provider, message);
    if (!existing.initialMessageDigest || !constantTimeEqual(existing.initialMessageDigest, digest)) {
      throw new ProtocolError(ProtocolErrorCode.BadMac, 'initial message fields differ from the session they name');
    }
    try {
      const { state, plaintext } = await ratchetDecrypt(provider, existing, inner);
      await store.storeSession(address, encodeSessionRecord(replace(record, existing, state)));
      return { kind: 'message', plaintext: unpad(plaintext), newSession: false, identityChanged: false, remoteIdentity: existing.remoteIdentityKey };
    } catch (err) {
      if (ProtocolError.is(err, ProtocolErrorCode.Duplicate)) return { kind: 'duplicate' };
      throw err;
    }
  }
  let fresh: SessionState;
  try {
    fresh = await newResponderSession(provider, store, message);
  } catch (err) {
    if (ProtocolError.is(err, ProtocolErrorCode.Duplicate)) return { kind: 'duplicate' };
    throw err;
  }
  const { state, plaintext } = await ratchetDecrypt(provider, fresh, inner);
  const unpadded = unpad(plaintext);
  await store.storeSession(address, encodeSessionRecord(promote(record, state)));
  if (message.oneTimePreKeyId !== undefined) await store.removeOneTimePreKey(message.oneTimePreKeyId);
  await store.markKyberPreKeyUsed(message.kyberPreKeyId, message.baseKey);
  const identityChanged = await store.saveIdentity(address.account, message.identityKey);
  return { kind: 'message', plaintext: unpadded, newSession: true, identityChanged, remoteIdentity: message.identityKey };
}
