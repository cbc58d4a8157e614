/**
 * Typed errors of the protocol package. Every failure carries a stable `code`; tests and callers branch on the code,
 * never on the message. Messages never contain key material, plaintext or ciphertext.
 */

export const ProtocolErrorCode = {
  /** An argument had the wrong length or range (a programming error or hostile input). */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** An AEAD tag, MAC or signature did not verify. */
  BadMac: 'BAD_MAC',
  /** A signature over a prekey or identity did not verify. */
  BadSignature: 'BAD_SIGNATURE',
  /** A DH output was all zeros (low-order point) or a public key was malformed. */
  InvalidKey: 'INVALID_KEY',
  /** Bytes could not be decoded: truncated, oversized, trailing data, bad tag. */
  Decode: 'DECODE_ERROR',
  /** A version byte we do not speak (message, envelope or stored state). */
  UnknownVersion: 'UNKNOWN_VERSION',
  /** The message was already decrypted once (its key is gone). */
  Duplicate: 'DUPLICATE_MESSAGE',
  /** Too many skipped message keys would be needed (Double Ratchet §3.5 MAX_SKIP or the total cap). */
  TooManySkipped: 'TOO_MANY_SKIPPED',
  /** No session exists for the address and the message cannot start one. */
  NoSession: 'NO_SESSION',
  /** A prekey referenced by an initial message is unknown or already consumed. */
  PreKeyNotFound: 'PREKEY_NOT_FOUND',
  /** The remote identity key of an address changed and the caller refused it. */
  UntrustedIdentity: 'UNTRUSTED_IDENTITY',
  /** A message arrived for a chain we have no key for (e.g. an old chain already evicted). */
  InvalidMessage: 'INVALID_MESSAGE',
  /**
   * An MLS handshake message (commit or proposal) is not for the group's current epoch, or an application message is
   * for a future epoch or one whose keys are gone. The Delivery Service orders commits per epoch; a client whose own
   * commit lost drops it, processes the winner's and retries; one that is behind catches up in order first.
   */
  WrongEpoch: 'WRONG_EPOCH',
  /**
   * A sealed sender's certificate does not verify: not signed by the pinned trust root's server certificate, or
   * naming another identity key than the one that sealed the message (sealed-sender/).
   */
  InvalidCertificate: 'INVALID_CERTIFICATE',
  /** A sealed sender's certificate has expired. */
  CertificateExpired: 'CERTIFICATE_EXPIRED',
  /**
   * A key-transparency proof does not verify: a VRF proof, a log-tree inclusion or consistency proof, a prefix-tree
   * search proof, or a tree head signature (transparency/).
   */
  InvalidProof: 'INVALID_PROOF',
} as const;

export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  /** True when `err` is a ProtocolError, and of `code` when one is given. */
  static is(err: unknown, code?: ProtocolErrorCode): err is ProtocolError {
    return err instanceof ProtocolError && (code === undefined || err.code === code);
  }
}

/** Throws INVALID_ARGUMENT unless `bytes` is exactly `length` long. */
export function assertLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new ProtocolError(ProtocolErrorCode.InvalidArgument, `${what} must be ${length} bytes`);
  }
}
