/**
 * Safety numbers: a fingerprint of two accounts' identity keys that both people can compare, read aloud as 60 digits
 * or scanned as a QR code, to detect a key substituted by the server or a man in the middle
 * (docs/wire-format.md "Safety numbers").
 *
 * The computation is Signal's numeric fingerprint (libsignal rust/protocol/src/fingerprint.rs), unchanged, so that
 * libsignal's published test vector checks it (test/vectors/safety-number.json):
 * - Each party's fingerprint is 5200 chained SHA-512 iterations over its identity key and stable identifier:
 *   h₀ = version(2 bytes, 0x0000) || key || identifier, then 5200 times h = SHA-512(h || key).
 * - Its first 30 bytes are six 5-byte big-endian integers, each taken mod 100000 and written as 5 digits: 30 digits.
 * - The displayed number is the two 30-digit strings, the smaller first, so both sides show the same 60 digits.
 * - The scannable form carries both fingerprints (first 32 bytes of each) from its owner's point of view; the
 *   other side's code must hold the same two, swapped.
 *
 * The identity key is opaque here (our 65-byte identity encoding; its length is fixed, so key || identifier cannot be
 * split two ways); the identifier is the 16-byte account id or the username's bytes. Nothing here is secret.
 */
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { CryptoProvider } from './crypto/provider.js';
import { concatBytes, constantTimeEqual } from './crypto/bytes.js';
import { BinaryReader, BinaryWriter } from './wire/binary.js';

/** libsignal fingerprint.rs: the 2-byte version that starts the hash input (0x0000). */
export const FINGERPRINT_HASH_VERSION = 0;

/** libsignal fingerprint.rs (the iteration count Signal clients use): chained SHA-512 iterations per fingerprint. */
export const FINGERPRINT_ITERATIONS = 5200;

/** Version of our scannable (QR) encoding; a code of another version cannot be compared. */
export const SCANNABLE_VERSION = 1;

/** libsignal fingerprint.rs: each fingerprint contributes its first 32 bytes to the scannable form. */
export const SCANNABLE_FINGERPRINT_LENGTH = 32;

/** Length of the displayable safety number: 30 digits per party. */
export const SAFETY_NUMBER_DIGITS = 60;

/** 6 chunks of 5 bytes → 6 groups of 5 digits per party (libsignal fingerprint.rs get_encoded_string). */
const DIGIT_CHUNKS = 6;
const CHUNK_BYTES = 5;
const CHUNK_DIGITS = 5;
const CHUNK_MODULUS = 100_000;

/** One side of a conversation: a stable identifier and the account identity public key (opaque bytes). */
export interface SafetyNumberParty {
  /** The account id (16 bytes) or username bytes; must be what both sides know the account by. */
  readonly identifier: Uint8Array;
  /** The account identity public key in its wire encoding. */
  readonly identityKey: Uint8Array;
}

export interface SafetyNumber {
  /** 60 decimal digits, the same on both sides (display with formatSafetyNumber). */
  readonly digits: string;
  /** Our QR payload: version || our fingerprint || their fingerprint (see compareScannable). */
  readonly scannable: Uint8Array;
}

function assertNonEmptyBytes(bytes: Uint8Array, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `${what} must be a non-empty Uint8Array`);
  }
}

/** libsignal fingerprint.rs get_fingerprint: the 64-byte iterated hash of one party. */
async function fingerprint(provider: Pick<CryptoProvider, 'sha512'>, party: SafetyNumberParty): Promise<Uint8Array> {
  const key = party.identityKey;
  const version = new Uint8Array([FINGERPRINT_HASH_VERSION >> 8, FINGERPRINT_HASH_VERSION & 0xff]);
  let hash = concatBytes(version, key, party.identifier);
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) hash = await provider.sha512(concatBytes(hash, key));
  return hash;
}

/** Six 5-digit groups from the first 30 bytes (each 5 bytes big-endian, mod 100000). */
function displayDigits(hash: Uint8Array): string {
  let out = '';
  for (let chunk = 0; chunk < DIGIT_CHUNKS; chunk++) {
    let value = 0;
    for (let i = 0; i < CHUNK_BYTES; i++) value = value * 256 + (hash[chunk * CHUNK_BYTES + i] as number);
    out += (value % CHUNK_MODULUS).toString().padStart(CHUNK_DIGITS, '0');
  }
  return out;
}

function encodeScannable(local: Uint8Array, remote: Uint8Array): Uint8Array {
  return new BinaryWriter(1 + 2 * SCANNABLE_FINGERPRINT_LENGTH)
    .u8(SCANNABLE_VERSION)
    .fixed(local.subarray(0, SCANNABLE_FINGERPRINT_LENGTH))
    .fixed(remote.subarray(0, SCANNABLE_FINGERPRINT_LENGTH))
    .finish();
}

function decodeScannable(bytes: Uint8Array, what: string): { local: Uint8Array; remote: Uint8Array } {
  const reader = new BinaryReader(bytes);
  const version = reader.u8(`${what} version`);
  if (version !== SCANNABLE_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, `${what} has version ${version}`);
  }
  const local = reader.fixed(SCANNABLE_FINGERPRINT_LENGTH, `${what} local fingerprint`);
  const remote = reader.fixed(SCANNABLE_FINGERPRINT_LENGTH, `${what} remote fingerprint`);
  reader.end(what);
  return { local, remote };
}

/**
 * The safety number of a conversation between `local` and `remote` (both accounts' identifiers and identity keys).
 * Symmetric: the other side, swapping the arguments, gets the same digits; its scannable code holds the same two
 * fingerprints in the other order.
 * @example const { digits, scannable } = await safetyNumber(provider, me, them); show(formatSafetyNumber(digits));
 */
export async function safetyNumber(
  provider: Pick<CryptoProvider, 'sha512'>,
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<SafetyNumber> {
  assertNonEmptyBytes(local.identifier, 'local identifier');
  assertNonEmptyBytes(local.identityKey, 'local identity key');
  assertNonEmptyBytes(remote.identifier, 'remote identifier');
  assertNonEmptyBytes(remote.identityKey, 'remote identity key');

  const localHash = await fingerprint(provider, local);
  const remoteHash = await fingerprint(provider, remote);
  const localDigits = displayDigits(localHash);
  const remoteDigits = displayDigits(remoteHash);
  const digits = localDigits < remoteDigits ? localDigits + remoteDigits : remoteDigits + localDigits;
  return { digits, scannable: encodeScannable(localHash, remoteHash) };
}

/**
 * The 60 digits as 12 groups of 5 separated by spaces, as Signal shows them.
 * @example formatSafetyNumber('0123401234…') === '01234 01234 …'
 */
export function formatSafetyNumber(digits: string): string {
  if (typeof digits !== 'string' || digits.length !== SAFETY_NUMBER_DIGITS || !/^[0-9]+$/.test(digits)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `a safety number has ${SAFETY_NUMBER_DIGITS} digits`);
  }
  const groups: string[] = [];
  for (let i = 0; i < SAFETY_NUMBER_DIGITS; i += CHUNK_DIGITS) groups.push(digits.slice(i, i + CHUNK_DIGITS));
  return groups.join(' ');
}

/**
 * True when the code scanned from the other device shows the same two fingerprints as ours, seen from their side
 * (their local = our remote and their remote = our local), compared in constant time.
 * Throws ProtocolError UNKNOWN_VERSION when either code has a scannable version other than SCANNABLE_VERSION (the
 * other app must update, or we must), and DECODE_ERROR when either is not a well-formed code.
 */
export function compareScannable(ours: Uint8Array, scannedFromThem: Uint8Array): boolean {
  const mine = decodeScannable(ours, 'our scannable safety number');
  const theirs = decodeScannable(scannedFromThem, 'scanned safety number');
  const sameRemote = constantTimeEqual(theirs.local, mine.remote);
  const sameLocal = constantTimeEqual(theirs.remote, mine.local);
  return sameRemote && sameLocal;
}
