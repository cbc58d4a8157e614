/**
 * Plaintext padding, applied before encryption so that a ciphertext's length tells the server and the network as
 * little as possible about the message's length (docs/wire-format.md "Padding").
 *
 * Scheme: ISO/IEC 7816-4 padding — one 0x80 byte, then zero bytes — up to a bucket length chosen by Padmé
 * (Nikitin, Barman, Lueks, Underwood, Hubaux, Ford: "Reducing Metadata Leakage from Encrypted Files and Communication
 * with PURBs", PoPETs 2019(4), §4), never less than MIN_PADDED_LENGTH bytes.
 * - The 0x80 terminator is the one Signal uses (libsignal-service PushTransportDetails pads to a multiple of 160
 *   bytes); 160 bytes is also our floor, so every short message (up to 159 bytes) has the same length.
 * - Above the floor, Padmé keeps the mantissa's top bits and rounds up the rest: the padded length leaks
 *   O(log log n) bits instead of the O(log n) a plain length would, at a bounded relative cost.
 *
 * Overhead (plaintext of n bytes, padded length p):
 * - n ≤ 159: p = 160 (at most 160 bytes added, for the empty message).
 * - n ≥ 160: p − n ≤ 1 + 15 = 16 bytes below 256, and p / n ≤ 1 + 1/16 (6.25 %) above 256 bytes, ≤ 1 + 1/32
 *   (3.125 %) above 64 KiB; in general p − (n + 1) < 2^(E − S) with E = ⌊log2(n + 1)⌋, S = ⌊log2 E⌋ + 1 (Padmé).
 *
 * Unpadding does not check that the length is the bucket a sender would have chosen: the sender's padding policy
 * can change (say, to a larger floor) without a wire version. It only checks that the padding is well formed.
 * Padding is applied inside the AEAD, so unpadding sees only authenticated bytes and no padding oracle exists.
 */
import { ProtocolError, ProtocolErrorCode } from '../errors.js';

/** ISO/IEC 7816-4 §5.2.3: the padding starts with this byte; zero bytes follow. */
export const PADDING_MARKER = 0x80;

/** Every padded plaintext is at least this long (Signal's block size), so short messages cannot be told apart. */
export const MIN_PADDED_LENGTH = 160;

/** ⌊log2 n⌋ for 1 ≤ n < 2^53, exact (Math.log2 may round up just below a power of two). */
function floorLog2(n: number): number {
  let e = 0;
  while (2 ** (e + 1) <= n) e++;
  return e;
}

/** Padmé (PURBs §4, Algorithm 1): the bucket length for `length` bytes of content. */
function padme(length: number): number {
  if (length < 2) return length;
  const e = floorLog2(length);
  const s = floorLog2(e) + 1;
  const unit = 2 ** (e - s);
  return Math.ceil(length / unit) * unit;
}

/**
 * The length `pad` produces for a plaintext of `plaintextLength` bytes: the Padmé bucket of plaintext + marker,
 * and at least MIN_PADDED_LENGTH.
 * @example paddedLength(0) === 160; paddedLength(200) === 208
 */
export function paddedLength(plaintextLength: number): number {
  if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0 || plaintextLength >= Number.MAX_SAFE_INTEGER) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'plaintext length must be a non-negative integer');
  }
  return Math.max(MIN_PADDED_LENGTH, padme(plaintextLength + 1));
}

/** Pads `plaintext` (which is not modified) to its bucket length: plaintext || 0x80 || 0x00…0x00. */
export function pad(plaintext: Uint8Array): Uint8Array {
  if (!(plaintext instanceof Uint8Array)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'plaintext must be a Uint8Array');
  }
  const out = new Uint8Array(paddedLength(plaintext.length));
  out.set(plaintext);
  out[plaintext.length] = PADDING_MARKER;
  return out;
}

/**
 * Removes the padding: the last non-zero byte must be the 0x80 marker; what precedes it is the plaintext (a copy).
 * Throws ProtocolError DECODE_ERROR when there is no marker (empty or all-zero input) or when the last non-zero byte
 * is anything else.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  if (!(padded instanceof Uint8Array)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'padded plaintext must be a Uint8Array');
  }
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0) throw new ProtocolError(ProtocolErrorCode.Decode, 'padding marker missing');
  if (padded[i] !== PADDING_MARKER) throw new ProtocolError(ProtocolErrorCode.Decode, 'invalid padding');
  return padded.slice(0, i);
}
