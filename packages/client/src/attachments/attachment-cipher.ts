/**
 * Attachment encryption, one-shot, on WebCrypto (`globalThis.crypto.subtle`: the same API in Node ≥ 20 and browsers).
 * Files too large to hold in memory go through the streaming twin in node-attachment-stream.ts, which produces the
 * same bytes.
 *
 * Construction: Signal's attachment cipher, unchanged (Signal-Android libsignal-service
 * `AttachmentCipherOutputStream` / `AttachmentCipherInputStream`, Signal-Desktop `AttachmentCrypto`):
 * - a fresh 64-byte key per attachment = AES-256 key (bytes 0–31) || HMAC-SHA256 key (bytes 32–63);
 * - a fresh random 16-byte IV; AES-256-CBC with PKCS#7 padding (Java's "AES/CBC/PKCS5Padding");
 * - blob = IV || ciphertext || HMAC-SHA256(macKey, IV || ciphertext);
 * - digest = SHA-256(blob), carried in the pointer with the key, so the blob is bound to the message that names it.
 * The server stores the blob and learns only its length.
 *
 * Padding (to hide the file's exact size): before encryption the plaintext is extended with zero bytes to
 * `paddedLength(size)` of @samizdat/protocol (src/wire/padding.ts: the Padmé bucket of PURBs §4, at least 160 bytes),
 * and the true size travels in the pointer. We use Padmé rather than Signal's 1.05-geometric attachment buckets
 * (PaddingInputStream) so that one padding policy serves messages and attachments; Padmé leaks O(log log n) bits of
 * the size at ≤ 6.25 % overhead above 256 bytes (≤ 3.1 % above 64 KiB). The receiver does not check which bucket
 * the sender chose, nor that the padding is zero (the MAC covers it; a later sender may pad differently): it only
 * needs size ≤ decrypted length.
 *
 * Decryption checks, in this order, and only then decrypts (Signal AttachmentCipherInputStream.verifyMac): the blob
 * length (IV + at least one block + MAC, whole blocks), SHA-256(blob) against the pointer's digest, then the HMAC
 * against the blob's last 32 bytes — both compared in constant time. Any failure is ClientError ATTACHMENT_CORRUPTED,
 * whose message names no key or content byte. A malformed pointer (key not 64 bytes, digest not 32, size not an
 * integer from 0 to MAX_ATTACHMENT_SIZE) is INVALID_ARGUMENT: pointers are validated when content is decoded
 * (content.ts).
 */
import { constantTimeEqual, paddedLength } from '@samizdat/protocol';
import { ClientError, ClientErrorCode } from '../errors.js';

/** AES-256 key (32 bytes) || HMAC-SHA256 key (32 bytes). */
export const ATTACHMENT_KEY_LENGTH = 64;
/** The AES-CBC IV that starts every blob (the AES block size). */
export const ATTACHMENT_IV_LENGTH = 16;
/** The HMAC-SHA256 tag that ends every blob. */
export const ATTACHMENT_MAC_LENGTH = 32;
/** SHA-256 of the whole blob. */
export const ATTACHMENT_DIGEST_LENGTH = 32;

/**
 * The largest attachment size a pointer may state: 1 TiB, far above any server limit, so that every size is exact in
 * a double and its padded length is computable.
 */
export const MAX_ATTACHMENT_SIZE = 2 ** 40;

const AES_KEY_LENGTH = 32;
const AES_BLOCK = 16;
/** IV + one block (PKCS#7 always adds at least one byte, so even an empty plaintext gives a block) + MAC. */
const MIN_BLOB_LENGTH = ATTACHMENT_IV_LENGTH + AES_BLOCK + ATTACHMENT_MAC_LENGTH;

/** What a message carries about an attachment: where the blob is and what opens it. */
export interface AttachmentPointer {
  /** The server's blob id (POST /v1/attachments): 64 lowercase hex characters. */
  readonly id: string;
  /** ATTACHMENT_KEY_LENGTH bytes: AES-256 key || HMAC-SHA256 key. */
  readonly key: Uint8Array;
  /** SHA-256 of the blob. */
  readonly digest: Uint8Array;
  /** The plaintext's length in bytes (the blob is padded). */
  readonly size: number;
  /** MIME type, e.g. "image/jpeg". */
  readonly contentType: string;
  readonly fileName?: string;
  /** Pixel dimensions of an image or video. */
  readonly width?: number;
  readonly height?: number;
}

/** The result of encrypting an attachment: the blob to upload, and the key, digest and size for its pointer. */
export interface EncryptedAttachment {
  readonly blob: Uint8Array;
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
  readonly size: number;
}

/** The length of the padded plaintext that is encrypted for an attachment of `size` bytes. */
export function attachmentPaddedLength(size: number): number {
  assertSize(size);
  return paddedLength(size);
}

/**
 * The blob length for an attachment of `size` bytes (for a Content-Length before streaming): IV, the padded plaintext
 * rounded up to the next whole block by PKCS#7 (a full block when already aligned), MAC.
 */
export function encryptedAttachmentLength(size: number): number {
  const padded = attachmentPaddedLength(size);
  return ATTACHMENT_IV_LENGTH + (padded - (padded % AES_BLOCK) + AES_BLOCK) + ATTACHMENT_MAC_LENGTH;
}

/**
 * Encrypts an attachment with a fresh key and IV.
 * @example
 * const { blob, key, digest, size } = await encryptAttachment(bytes);
 * const { id } = await upload(blob);
 * const pointer: AttachmentPointer = { id, key, digest, size, contentType: 'image/png' };
 */
export async function encryptAttachment(plaintext: Uint8Array): Promise<EncryptedAttachment> {
  if (!(plaintext instanceof Uint8Array)) throw invalidArgument('the attachment must be a Uint8Array');
  const key = globalThis.crypto.getRandomValues(new Uint8Array(ATTACHMENT_KEY_LENGTH));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(ATTACHMENT_IV_LENGTH));
  return encryptAttachmentWith(plaintext, key, iv);
}

/**
 * @internal Encryption with a given key and IV, for known-answer and cross-check tests only: never reuse a key or IV
 * (encryptAttachment draws both fresh).
 */
export async function encryptAttachmentWith(plaintext: Uint8Array, key: Uint8Array, iv: Uint8Array): Promise<EncryptedAttachment> {
  assertKey(key);
  if (!(iv instanceof Uint8Array) || iv.length !== ATTACHMENT_IV_LENGTH) {
    throw invalidArgument(`an attachment IV is ${ATTACHMENT_IV_LENGTH} bytes`);
  }
  const subtle = globalThis.crypto.subtle;
  const size = plaintext.length;
  const padded = new Uint8Array(attachmentPaddedLength(size));
  padded.set(plaintext);
  const aesRaw = key.slice(0, AES_KEY_LENGTH);
  const macRaw = key.slice(AES_KEY_LENGTH);
  try {
    const aesKey = await subtle.importKey('raw', aesRaw, 'AES-CBC', false, ['encrypt']);
    const macKey = await subtle.importKey('raw', macRaw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    // WebCrypto AES-CBC applies PKCS#7 padding (WebCrypto §27.6, "AES-CBC" encrypt), as Java's PKCS5Padding does.
    const ciphertext = new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv: iv.slice() }, aesKey, padded));
    const blob = new Uint8Array(ATTACHMENT_IV_LENGTH + ciphertext.length + ATTACHMENT_MAC_LENGTH);
    blob.set(iv, 0);
    blob.set(ciphertext, ATTACHMENT_IV_LENGTH);
    const macInput = blob.subarray(0, ATTACHMENT_IV_LENGTH + ciphertext.length);
    const mac = new Uint8Array(await subtle.sign('HMAC', macKey, macInput));
    blob.set(mac, macInput.length);
    const digest = new Uint8Array(await subtle.digest('SHA-256', blob));
    return { blob, key: key.slice(), digest, size };
  } finally {
    padded.fill(0);
    aesRaw.fill(0);
    macRaw.fill(0);
  }
}

/**
 * Verifies and decrypts a downloaded blob: length, digest, MAC (constant time), and only then AES-CBC; returns the
 * first `pointer.size` bytes. Throws ClientError ATTACHMENT_CORRUPTED when any check fails.
 */
export async function decryptAttachment(
  blob: Uint8Array,
  pointer: Pick<AttachmentPointer, 'key' | 'digest' | 'size'>,
): Promise<Uint8Array> {
  if (!(blob instanceof Uint8Array)) throw invalidArgument('the blob must be a Uint8Array');
  assertPointer(pointer);
  assertBlobLength(blob.length, pointer.size);
  const subtle = globalThis.crypto.subtle;
  const bytes = source(blob);
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  if (!constantTimeEqual(digest, pointer.digest)) throw corrupted();

  const macOffset = blob.length - ATTACHMENT_MAC_LENGTH;
  const aesRaw = pointer.key.slice(0, AES_KEY_LENGTH);
  const macRaw = pointer.key.slice(AES_KEY_LENGTH);
  try {
    const macKey = await subtle.importKey('raw', macRaw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await subtle.sign('HMAC', macKey, bytes.subarray(0, macOffset)));
    if (!constantTimeEqual(mac, bytes.subarray(macOffset))) throw corrupted();

    const aesKey = await subtle.importKey('raw', aesRaw, 'AES-CBC', false, ['decrypt']);
    const iv = bytes.slice(0, ATTACHMENT_IV_LENGTH);
    let padded: Uint8Array;
    try {
      padded = new Uint8Array(await subtle.decrypt({ name: 'AES-CBC', iv }, aesKey, bytes.subarray(ATTACHMENT_IV_LENGTH, macOffset)));
    } catch {
      // Authenticated yet badly padded: the sender's encryptor is broken. Same answer as any other corruption.
      throw corrupted();
    }
    if (padded.length < pointer.size) {
      padded.fill(0);
      throw corrupted();
    }
    const plaintext = padded.slice(0, pointer.size);
    padded.fill(0);
    return plaintext;
  } finally {
    aesRaw.fill(0);
    macRaw.fill(0);
  }
}

/** @internal ATTACHMENT_CORRUPTED, with a message that names nothing secret. Shared with the Node streaming cipher. */
export function corrupted(): ClientError {
  return new ClientError(ClientErrorCode.AttachmentCorrupted, 'the attachment is corrupted or was tampered with');
}

/** @internal INVALID_ARGUMENT unless the pointer fields used for decryption are well formed. */
export function assertPointer(pointer: Pick<AttachmentPointer, 'key' | 'digest' | 'size'>): void {
  assertKey(pointer.key);
  if (!(pointer.digest instanceof Uint8Array) || pointer.digest.length !== ATTACHMENT_DIGEST_LENGTH) {
    throw invalidArgument(`an attachment digest is ${ATTACHMENT_DIGEST_LENGTH} bytes`);
  }
  assertSize(pointer.size);
}

/**
 * @internal ATTACHMENT_CORRUPTED unless a blob of `blobLength` bytes can be IV || whole blocks || MAC and its
 * ciphertext can hold `size` bytes plus at least one byte of PKCS#7 padding.
 */
export function assertBlobLength(blobLength: number, size: number): void {
  const ciphertextLength = blobLength - ATTACHMENT_IV_LENGTH - ATTACHMENT_MAC_LENGTH;
  if (blobLength < MIN_BLOB_LENGTH || ciphertextLength % AES_BLOCK !== 0 || ciphertextLength < size + 1) {
    throw corrupted();
  }
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== ATTACHMENT_KEY_LENGTH) {
    throw invalidArgument(`an attachment key is ${ATTACHMENT_KEY_LENGTH} bytes`);
  }
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ATTACHMENT_SIZE) {
    throw invalidArgument(`an attachment size is an integer from 0 to ${MAX_ATTACHMENT_SIZE}`);
  }
}

function invalidArgument(message: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidArgument, message);
}

/** WebCrypto's BufferSource wants an ArrayBuffer-backed view; copy only when the input is not one. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
