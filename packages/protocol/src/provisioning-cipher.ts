/**
 * The provisioning cipher: how an existing device encrypts the provisioning message (the account identity key pair,
 * the account id, the server's link code…) to a new device of the same account, through a server that only relays
 * it (docs/architecture.md "Identities"; the server side is packages/server/src/routes/devices.ts).
 *
 * The new device opens the provisioning socket, gets a one-use address from the server (32 random bytes, 43 base64url
 * characters), makes a fresh X25519 key pair and shows both as a link code (text and QR). The existing device reads
 * the code, seals the provisioning message to the public key and PUTs it to the address; the new device opens it.
 *
 * Construction: HPKE, RFC 9180, base mode (§5.1.1 SetupBaseS/SetupBaseR) through the single-shot API (§6.1
 * SealBase/OpenBase), with the cipher suite
 *   KEM  0x0020 DHKEM(X25519, HKDF-SHA256)  (§4.1, §7.1)
 *   KDF  0x0001 HKDF-SHA256                  (§7.2)
 *   AEAD 0x0002 AES-256-GCM                  (§7.3)
 * implemented by @hpke/core on WebCrypto (X25519 in Node ≥ 20 and current browsers; no extension package needed).
 * - info = PROVISIONING_INFO || address (32 bytes), aad = empty. RFC 9180 §8.1: applications that use only the
 *   single-shot APIs should put their auxiliary authenticated information in `info`, not in `aad`. Binding the
 *   address means a message sealed for one linking attempt does not open at another address. PROVISIONING_INFO has
 *   a fixed length, so the concatenation is unambiguous.
 * - Authenticity comes from the link code, not from HPKE (base mode authenticates no sender): the public key is
 *   shown only on the new device's screen and never goes to the server, so only whoever read the code can seal a
 *   message the new device will open. The server knows the address but not the key.
 * - One message per key pair, so the §9.7.3 replay and §5.2 sequence-number concerns do not arise: the key pair is
 *   thrown away once a message has been opened or the socket closes.
 *
 * Wire format of a sealed message (RFC 9180 §10 leaves the encoding to the application):
 *   u8 version (PROVISIONING_CIPHER_VERSION = 1) || enc (32 bytes, §4.1 SerializePublicKey(pkE)) || ct
 * where ct is the AES-256-GCM output, plaintext then the 16-byte tag (§10). The whole must fit a provisioning frame
 * (MAX_PROVISIONING_BODY_BYTES), which bounds the plaintext to MAX_PROVISIONING_PLAINTEXT.
 *
 * Link code (what the QR holds, and what a user can copy and paste): base64url without padding (RFC 4648 §5) of
 *   u8 version (LINK_CODE_VERSION = 1) || address (32 bytes) || pkR (32 bytes, §7.1.1 SerializePublicKey)
 * which is LINK_CODE_LENGTH = 87 characters.
 *
 * Errors (ProtocolError): UNKNOWN_VERSION for a sealed message of another version; DECODE_ERROR for one too short or
 * too long, and for any malformed link code; BAD_MAC when the message does not open (wrong key, wrong address,
 * tampered); INVALID_KEY when a public key is a low-order point (§7.1.4: the all-zero X25519 output is refused by
 * WebCrypto, and we abort); INVALID_ARGUMENT for malformed arguments. Messages name no key or plaintext bytes.
 */
import {
  Aes256Gcm,
  CipherSuite,
  DecapError,
  DeserializeError,
  DhkemX25519HkdfSha256,
  EncapError,
  HkdfSha256,
  OpenError,
} from '@hpke/core';
import { concatBytes, utf8 } from './crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { decodeBase64, encodeBase64 } from './wire/base64.js';
import { MAX_PROVISIONING_BODY_BYTES } from './wire/frames.js';

/** The version byte of a sealed provisioning message this code writes and the only one it opens. */
export const PROVISIONING_CIPHER_VERSION = 1;

/** The version byte inside a link code. */
export const LINK_CODE_VERSION = 1;

/** RFC 9180 §5.1 `info` label (followed by the 32 address bytes): separates this use of HPKE from any other. */
export const PROVISIONING_INFO = 'Samizdat provisioning v1';

/** The length of a provisioning address once decoded: 32 random bytes chosen by the server. */
export const PROVISIONING_ADDRESS_LENGTH = 32;

/** RFC 9180 §7.1: Nenc = Npk = 32 for DHKEM(X25519, HKDF-SHA256). */
export const PROVISIONING_PUBLIC_KEY_LENGTH = 32;

/** RFC 9180 §7.3: Nt = 16 for AES-256-GCM. */
const AEAD_TAG_LENGTH = 16;

/** version || enc: what precedes the AEAD ciphertext in a sealed message. */
const SEALED_HEADER_LENGTH = 1 + PROVISIONING_PUBLIC_KEY_LENGTH;

/** The largest plaintext whose sealed message still fits a provisioning frame. */
export const MAX_PROVISIONING_PLAINTEXT = MAX_PROVISIONING_BODY_BYTES - SEALED_HEADER_LENGTH - AEAD_TAG_LENGTH;

/** Characters of a link code: base64url of 1 + 32 + 32 = 65 bytes, without padding (RFC 4648 §5, §3.2). */
export const LINK_CODE_LENGTH = Math.ceil(((1 + PROVISIONING_ADDRESS_LENGTH + PROVISIONING_PUBLIC_KEY_LENGTH) * 4) / 3);

const INFO_LABEL = utf8(PROVISIONING_INFO);

/** @internal The cipher suite (exported for the RFC 9180 test vectors, whose later encryptions need a context). */
export const provisioningSuite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
const suite = provisioningSuite;

/**
 * A new device's ephemeral provisioning key pair. The private key is held inside this module (a non-extractable
 * WebCrypto key, reachable only through `openProvisioningMessage`); it is never serialized. Drop the object once the
 * provisioning message has been opened.
 */
export interface ProvisioningKeyPair {
  /** The X25519 public key (32 bytes), for the link code. */
  readonly publicKey: Uint8Array;
}

const privateKeys = new WeakMap<ProvisioningKeyPair, CryptoKeyPair>();

function invalidArgument(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidArgument, message);
}

function decodeError(message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.Decode, message);
}

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

function wrapKeyPair(pair: CryptoKeyPair, publicKey: Uint8Array): ProvisioningKeyPair {
  const keyPair: ProvisioningKeyPair = Object.freeze({ publicKey });
  privateKeys.set(keyPair, pair);
  return keyPair;
}

/**
 * A fresh key pair for one linking attempt (RFC 9180 §4 GenerateKeyPair, here WebCrypto's X25519 key generation with
 * a non-extractable private key).
 */
export async function generateProvisioningKeyPair(): Promise<ProvisioningKeyPair> {
  const pair = (await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return wrapKeyPair(pair, publicKey);
}

/**
 * @internal For the RFC 9180 test vectors only: a ProvisioningKeyPair holding a known private key (§7.1.2
 * DeserializePrivateKey). Real key pairs come from generateProvisioningKeyPair.
 */
export async function importProvisioningKeyPair(privateKey: Uint8Array): Promise<ProvisioningKeyPair> {
  assertBytes(privateKey, 'provisioning private key', 32);
  const sk = await suite.kem.deserializePrivateKey(privateKey);
  // WebCrypto has no "public key from private key"; the JWK export of a private OKP key carries both (RFC 8037 §2).
  const jwk = await subtle().exportKey('jwk', sk);
  const x = typeof jwk.x === 'string' ? fromBase64Url(jwk.x) : undefined;
  if (x === undefined || x.length !== PROVISIONING_PUBLIC_KEY_LENGTH) throw invalidArgument('cannot derive the public key');
  const pk = await suite.kem.deserializePublicKey(x);
  return wrapKeyPair({ privateKey: sk, publicKey: pk }, x);
}

/**
 * Seals `plaintext` to a new device: HPKE SealBase(pkR, info, "", plaintext) (RFC 9180 §6.1), framed as
 * version || enc || ct. `recipientPublicKey` and `address` come from the new device's link code (decodeLinkCode).
 * @example
 * const { address, publicKey } = decodeLinkCode(scanned);
 * const sealed = await sealProvisioningMessage(publicKey, address, encodeProvisioningMessage(message));
 */
export async function sealProvisioningMessage(
  recipientPublicKey: Uint8Array,
  address: string,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  assertBytes(recipientPublicKey, 'provisioning public key', PROVISIONING_PUBLIC_KEY_LENGTH);
  assertBytes(plaintext, 'provisioning plaintext');
  if (plaintext.length > MAX_PROVISIONING_PLAINTEXT) {
    throw invalidArgument(`a provisioning message holds at most ${MAX_PROVISIONING_PLAINTEXT} bytes`);
  }
  const info = provisioningInfo(addressBytes(address));
  const { enc, ct } = await hpkeSealBase(recipientPublicKey, info, new Uint8Array(0), plaintext);
  return concatBytes(Uint8Array.of(PROVISIONING_CIPHER_VERSION), enc, ct);
}

/**
 * Opens a sealed provisioning message with the new device's key pair: HPKE OpenBase(enc, skR, info, "", ct)
 * (RFC 9180 §6.1). Throws BAD_MAC when it was not sealed to this key for this address or was altered in transit.
 */
export async function openProvisioningMessage(
  keyPair: ProvisioningKeyPair,
  address: string,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  const pair = privateKeys.get(keyPair);
  if (pair === undefined) throw invalidArgument('not a key pair from generateProvisioningKeyPair');
  const info = provisioningInfo(addressBytes(address));
  assertBytes(sealed, 'sealed provisioning message');
  if (sealed.length === 0) throw decodeError('the provisioning message is empty');
  // Versions first: another version may lay out the rest differently (docs/wire-format.md "Versions").
  if (sealed[0] !== PROVISIONING_CIPHER_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.UnknownVersion, `provisioning message version ${sealed[0]} is not supported`);
  }
  if (sealed.length < SEALED_HEADER_LENGTH + AEAD_TAG_LENGTH) throw decodeError('the provisioning message is truncated');
  if (sealed.length > MAX_PROVISIONING_BODY_BYTES) throw decodeError('the provisioning message is too long');
  const enc = sealed.subarray(1, SEALED_HEADER_LENGTH);
  const ct = sealed.subarray(SEALED_HEADER_LENGTH);
  return hpkeOpenBase(pair, enc, info, new Uint8Array(0), ct);
}

/**
 * @internal RFC 9180 §6.1 SealBase with this module's suite, returning enc and ct apart. `ephemeralPrivateKey` is
 * for the test vectors only (their skEm); real calls draw a fresh ephemeral key (§4.1 Encap).
 */
export async function hpkeSealBase(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  ephemeralPrivateKey?: Uint8Array,
): Promise<{ enc: Uint8Array; ct: Uint8Array }> {
  try {
    const pkR = await suite.kem.deserializePublicKey(recipientPublicKey);
    const ekm =
      ephemeralPrivateKey === undefined
        ? undefined
        : keyPairOf(await importProvisioningKeyPair(ephemeralPrivateKey));
    const sealed = await suite.seal(
      { recipientPublicKey: pkR, info, ...(ekm === undefined ? {} : { ekm }) },
      plaintext,
      aad,
    );
    return { enc: new Uint8Array(sealed.enc), ct: new Uint8Array(sealed.ct) };
  } catch (err) {
    // §7.1.4: a low-order pkR gives an all-zero DH output, which WebCrypto refuses (EncapError here).
    if (err instanceof EncapError || err instanceof DeserializeError) {
      throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'the provisioning public key is not a usable X25519 key');
    }
    throw err;
  }
}

/** @internal RFC 9180 §6.1 OpenBase with this module's suite. */
export async function hpkeOpenBase(
  recipient: CryptoKeyPair,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
): Promise<Uint8Array> {
  try {
    return new Uint8Array(await suite.open({ recipientKey: recipient, enc, info }, ct, aad));
  } catch (err) {
    if (err instanceof OpenError) {
      throw new ProtocolError(ProtocolErrorCode.BadMac, 'the provisioning message does not decrypt with this key and address');
    }
    // §7.1.4: recipients must abort on an all-zero DH output (a low-order enc); WebCrypto refuses it (DecapError).
    if (err instanceof DecapError || err instanceof DeserializeError) {
      throw new ProtocolError(ProtocolErrorCode.InvalidKey, 'the provisioning message carries an unusable ephemeral key');
    }
    throw err;
  }
}

/** @internal The WebCrypto key pair behind a ProvisioningKeyPair (for the test vectors' multi-message contexts). */
export function keyPairOf(keyPair: ProvisioningKeyPair): CryptoKeyPair {
  const pair = privateKeys.get(keyPair);
  if (pair === undefined) throw invalidArgument('not a provisioning key pair');
  return pair;
}

/** @internal The RFC 9180 §5.1 `info` for an address: PROVISIONING_INFO || address bytes. */
export function provisioningInfo(address: Uint8Array): Uint8Array {
  return concatBytes(INFO_LABEL, address);
}

/**
 * The link code a new device shows (as text and as a QR code) for its provisioning address and public key.
 * @example encodeLinkCode({ address, publicKey: keyPair.publicKey }) // 87 base64url characters
 */
export function encodeLinkCode(code: { readonly address: string; readonly publicKey: Uint8Array }): string {
  assertBytes(code.publicKey, 'provisioning public key', PROVISIONING_PUBLIC_KEY_LENGTH);
  return toBase64Url(concatBytes(Uint8Array.of(LINK_CODE_VERSION), addressBytes(code.address), code.publicKey));
}

/**
 * Reads a link code (surrounding whitespace is ignored). Throws ProtocolError DECODE_ERROR, with a message meant for
 * the user, when it is not one.
 */
export function decodeLinkCode(text: string): { address: string; publicKey: Uint8Array } {
  if (typeof text !== 'string') throw invalidArgument('the link code must be a string');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw decodeError('the link code is empty');
  if (!/^[A-Za-z0-9_-]+$/.test(trimmed)) {
    throw decodeError('the link code has characters that do not belong in it; copy it again, all of it');
  }
  if (trimmed.length !== LINK_CODE_LENGTH) {
    throw decodeError(
      trimmed.length < LINK_CODE_LENGTH
        ? `the link code is too short (${trimmed.length} of ${LINK_CODE_LENGTH} characters); copy it again, all of it`
        : `the link code is too long (${trimmed.length} characters instead of ${LINK_CODE_LENGTH})`,
    );
  }
  const bytes = fromBase64Url(trimmed);
  if (bytes === undefined) throw decodeError('the link code is damaged; copy it again');
  if (bytes[0] !== LINK_CODE_VERSION) {
    throw decodeError('this link code comes from another version of Samizdat; update both devices and try again');
  }
  return {
    address: toBase64Url(bytes.slice(1, 1 + PROVISIONING_ADDRESS_LENGTH)),
    publicKey: bytes.slice(1 + PROVISIONING_ADDRESS_LENGTH),
  };
}

function assertBytes(bytes: Uint8Array, what: string, length?: number): void {
  if (!(bytes instanceof Uint8Array) || (length !== undefined && bytes.length !== length)) {
    throw invalidArgument(`${what} must be ${length === undefined ? 'a Uint8Array' : `${length} bytes`}`);
  }
}

/** The 32 bytes of a provisioning address (43 canonical base64url characters); INVALID_ARGUMENT otherwise. */
function addressBytes(address: string): Uint8Array {
  const bytes = typeof address === 'string' ? fromBase64Url(address) : undefined;
  if (bytes === undefined || bytes.length !== PROVISIONING_ADDRESS_LENGTH) {
    throw invalidArgument('a provisioning address is 43 base64url characters (32 bytes)');
  }
  return bytes;
}

/** RFC 4648 §5 base64url, without padding (§3.2). */
function toBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes, { url: true });
}

/** Strict RFC 4648 §5 base64url without padding: every byte string has exactly one accepted text. */
function fromBase64Url(text: string): Uint8Array | undefined {
  return decodeBase64(text, { url: true });
}
