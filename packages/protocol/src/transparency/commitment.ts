/**
 * Commitments to a label's value at a version (draft-ietf-keytrans-protocol-06 §"Commitment", §"Update Format",
 * §"Verifiable Random Function"): the prefix tree holds `HMAC-SHA256(Kc, CommitmentValue)` for each label-version
 * pair, never the value; the log opens a commitment (its random 16-byte opening and the value) only to who may look
 * the label up. The VRF input for a label-version pair is `VrfInput` below.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { ProtocolError, ProtocolErrorCode } from '../errors.js';
import { TlsWriter } from './tls.js';

/** KT_128_SHA256_Ed25519 (§"KT Cipher Suites"): `Nc`, the size of an opening. */
export const COMMITMENT_OPENING_LENGTH = 16;
/** §"KT Cipher Suites": `Kc`, the fixed HMAC key of commitments. */
export const COMMITMENT_KEY = Uint8Array.from([0xd8, 0x21, 0xf8, 0x79, 0x0d, 0x97, 0x70, 0x97, 0x96, 0xb4, 0xd7, 0x90, 0x33, 0x57, 0xc3, 0xf5]);
/** Labels are `opaque label<0..2^8-1>`. */
export const MAX_LABEL_LENGTH = 255;
/** Our values are small (an identity key and a KEM key at most); the draft allows 2^32 - 1. */
export const MAX_VALUE_LENGTH = 4096;

function checkLabel(label: Uint8Array, version: number): void {
  if (label.length === 0 || label.length > MAX_LABEL_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'a label is 1 to 255 bytes');
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, 'a version is a uint32');
}

/** §"Verifiable Random Function": `struct { opaque label<0..2^8-1>; uint32 version; } VrfInput`. */
export function vrfInput(label: Uint8Array, version: number): Uint8Array {
  checkLabel(label, version);
  return new TlsWriter().vector(label, 1).u32(version).finish();
}

/**
 * §"Commitment": HMAC(Kc, CommitmentValue), where CommitmentValue is `opaque opening[Nc]; opaque label<0..2^8-1>;
 * uint32 version; UpdateValue update` and, outside Third-Party Management, UpdateValue is `opaque value<0..2^32-1>`
 * with an empty suffix.
 */
export async function commitment(crypto: CryptoProvider, opening: Uint8Array, label: Uint8Array, version: number, value: Uint8Array): Promise<Uint8Array> {
  checkLabel(label, version);
  if (opening.length !== COMMITMENT_OPENING_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `an opening is ${COMMITMENT_OPENING_LENGTH} bytes`);
  if (value.length > MAX_VALUE_LENGTH) throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `a value is at most ${MAX_VALUE_LENGTH} bytes`);
  const tbs = new TlsWriter().fixed(opening).vector(label, 1).u32(version).vector(value, 4).finish();
  return crypto.hmacSha256(COMMITMENT_KEY, tbs);
}
