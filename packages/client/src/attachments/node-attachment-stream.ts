/**
 * Attachment encryption for files in Node, streaming (node:crypto over file handles and streams), for files of
 * hundreds of MiB that should never sit whole in memory. The construction, the padding and the checks are those of
 * attachment-cipher.ts (Signal's attachment cipher, Padmé padding; read its comment first), and the output is
 * byte-identical to `encryptAttachment` for the same key and IV (test/attachments/node-attachment-stream.test.ts).
 *
 * Encryption streams: IV, then AES-256-CBC output as the plaintext arrives, then the zero padding, the final block
 * and the HMAC; SHA-256 over everything written gives the digest. The plaintext length must be known first (it fixes
 * the padded length): a source that yields more or fewer bytes than declared is INVALID_ARGUMENT.
 *
 * Decryption takes a file, because the MAC and the digest are checked before anything is decrypted (Signal
 * AttachmentCipherInputStream.createForAttachment does the same): pass 1 reads the whole blob to check SHA-256(blob)
 * and HMAC(IV || ciphertext) in constant time; pass 2 decrypts into a private temporary file (mode 0600) next to the
 * destination while recomputing the MAC, so a blob changed between the passes is caught too; only then is the file
 * renamed into place. On any failure nothing is left at the destination and the error is ATTACHMENT_CORRUPTED.
 * Download a blob to a temporary file first (e.g. `pipeline(response.body, createWriteStream(path))`).
 *
 * File-system failures (a missing directory, a full disk) are thrown as Node's own errors: they are not corruption.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { AttachmentPointer } from './attachment-cipher.js';
import {
  ATTACHMENT_IV_LENGTH,
  ATTACHMENT_KEY_LENGTH,
  ATTACHMENT_MAC_LENGTH,
  assertBlobLength,
  assertPointer,
  attachmentPaddedLength,
  corrupted,
  encryptedAttachmentLength,
} from './attachment-cipher.js';

/** How much is read, encrypted or decrypted at a time: memory stays O(1 MiB) whatever the file size. */
const CHUNK_BYTES = 1024 * 1024;
const AES_KEY_LENGTH = 32;

/** What encrypting a file returns: the key, digest and size for the pointer, and the blob's length. */
export interface EncryptedAttachmentFile {
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
  /** The plaintext's length in bytes. */
  readonly size: number;
  /** The blob's length in bytes (encryptedAttachmentLength(size)). */
  readonly blobLength: number;
}

/**
 * Encrypts the file at `inputPath` with a fresh key and IV, writing the blob to `destination`: a file path (replaced;
 * removed again on failure) or a writable stream (an upload request body, say), which is ended when done.
 * @example
 * const body = new PassThrough();
 * const [upload, encrypted] = await Promise.all([uploadStream(body, length), encryptAttachmentFile(path, body)]);
 */
export async function encryptAttachmentFile(
  inputPath: string,
  destination: string | Writable,
): Promise<EncryptedAttachmentFile> {
  return encryptFile(inputPath, destination, freshKey(), freshIv());
}

/**
 * Encrypts `size` bytes read from `source` (a readable stream or any async iterable of byte chunks) with a fresh key
 * and IV, writing the blob to `destination`, which is ended when done.
 */
export async function encryptAttachmentStream(
  source: AsyncIterable<Uint8Array>,
  size: number,
  destination: Writable,
): Promise<EncryptedAttachmentFile> {
  return encryptAttachmentStreamWith(source, size, destination, freshKey(), freshIv());
}

/** @internal encryptAttachmentFile with a given key and IV, for cross-check tests only: never reuse a key or IV. */
export async function encryptAttachmentFileWith(
  inputPath: string,
  destination: string | Writable,
  key: Uint8Array,
  iv: Uint8Array,
): Promise<EncryptedAttachmentFile> {
  return encryptFile(inputPath, destination, key, iv);
}

/** @internal encryptAttachmentStream with a given key and IV, for cross-check tests only: never reuse a key or IV. */
export async function encryptAttachmentStreamWith(
  source: AsyncIterable<Uint8Array>,
  size: number,
  destination: Writable,
  key: Uint8Array,
  iv: Uint8Array,
): Promise<EncryptedAttachmentFile> {
  let paddedLength: number;
  try {
    if (!(key instanceof Uint8Array) || key.length !== ATTACHMENT_KEY_LENGTH) {
      throw invalidArgument(`an attachment key is ${ATTACHMENT_KEY_LENGTH} bytes`);
    }
    if (!(iv instanceof Uint8Array) || iv.length !== ATTACHMENT_IV_LENGTH) {
      throw invalidArgument(`an attachment IV is ${ATTACHMENT_IV_LENGTH} bytes`);
    }
    paddedLength = attachmentPaddedLength(size);
  } catch (err) {
    // As pipeline does on a failure: the destination (an upload body, say) must not wait for an end that never comes.
    destination.destroy(err as Error);
    throw err;
  }
  const state: { digest?: Uint8Array } = {};
  await pipeline(Readable.from(encryptChunks(source, size, paddedLength, key, iv, state), { objectMode: false }), destination);
  if (state.digest === undefined) throw new Error('attachment encryption ended early');
  return { key: key.slice(), digest: state.digest, size, blobLength: encryptedAttachmentLength(size) };
}

/**
 * Verifies the blob file at `blobPath` against the pointer (length, digest, MAC), then decrypts it to `outputPath`
 * (created with mode 0600, replacing any file there). Throws ClientError ATTACHMENT_CORRUPTED, leaving nothing at
 * `outputPath`, when a check fails.
 */
export async function decryptAttachmentFile(
  blobPath: string,
  outputPath: string,
  pointer: Pick<AttachmentPointer, 'key' | 'digest' | 'size'>,
): Promise<void> {
  assertPointer(pointer);
  const aesKey = pointer.key.subarray(0, AES_KEY_LENGTH);
  const macKey = pointer.key.subarray(AES_KEY_LENGTH);
  const blob = await open(blobPath, 'r');
  try {
    const stat = await blob.stat();
    if (!stat.isFile()) throw invalidArgument('the blob path is not a file');
    assertBlobLength(stat.size, pointer.size);
    const macOffset = stat.size - ATTACHMENT_MAC_LENGTH;
    const theirMac = await readExactly(blob, macOffset, ATTACHMENT_MAC_LENGTH);

    // Pass 1: digest and MAC, before any decryption.
    const hash = createHash('sha256');
    const mac = createHmac('sha256', macKey);
    await readRange(blob, 0, macOffset, (chunk) => {
      hash.update(chunk);
      mac.update(chunk);
    });
    hash.update(theirMac);
    const digestMatches = timingSafeEqual(hash.digest(), pointer.digest);
    const macMatches = timingSafeEqual(mac.digest(), theirMac);
    if (!digestMatches || !macMatches) throw corrupted();

    // Pass 2: decrypt into a private temporary file, re-checking the MAC over what is actually decrypted.
    const iv = await readExactly(blob, 0, ATTACHMENT_IV_LENGTH);
    const recheck = createHmac('sha256', macKey).update(iv);
    const decipher = createDecipheriv('aes-256-cbc', aesKey, iv);
    const temporary = join(dirname(outputPath), `.${basename(outputPath)}.${randomBytes(8).toString('hex')}.partial`);
    const out = await open(temporary, 'wx', 0o600);
    let closed = false;
    let done = false;
    try {
      let written = 0;
      const write = async (plaintext: Buffer): Promise<void> => {
        const take = Math.min(plaintext.length, pointer.size - written);
        if (take > 0) await writeAll(out, plaintext.subarray(0, take));
        written += take;
        plaintext.fill(0);
      };
      await readRange(blob, ATTACHMENT_IV_LENGTH, macOffset, async (chunk) => {
        recheck.update(chunk);
        await write(decipher.update(chunk));
      });
      let last: Buffer;
      try {
        last = decipher.final();
      } catch {
        // Authenticated yet badly padded: the sender's encryptor is broken.
        throw corrupted();
      }
      await write(last);
      if (!timingSafeEqual(recheck.digest(), theirMac) || written !== pointer.size) throw corrupted();
      await out.sync();
      await out.close();
      closed = true;
      await rename(temporary, outputPath);
      done = true;
    } finally {
      if (!closed) await out.close().catch(() => undefined);
      if (!done) await unlink(temporary).catch(() => undefined);
    }
  } finally {
    await blob.close();
  }
}

async function encryptFile(
  inputPath: string,
  destination: string | Writable,
  key: Uint8Array,
  iv: Uint8Array,
): Promise<EncryptedAttachmentFile> {
  const input = await open(inputPath, 'r');
  try {
    const stat = await input.stat();
    if (!stat.isFile()) throw invalidArgument('the attachment path is not a file');
    const source = input.createReadStream({ start: 0, highWaterMark: CHUNK_BYTES, autoClose: false });
    if (typeof destination !== 'string') return await encryptAttachmentStreamWith(source, stat.size, destination, key, iv);
    try {
      return await encryptAttachmentStreamWith(source, stat.size, createWriteStream(destination), key, iv);
    } catch (err) {
      await unlink(destination).catch(() => undefined);
      throw err;
    }
  } finally {
    await input.close();
  }
}

/** The blob, chunk by chunk: IV, ciphertext of plaintext and zero padding, final block, MAC; digest into `state`. */
async function* encryptChunks(
  source: AsyncIterable<Uint8Array>,
  size: number,
  paddedLength: number,
  key: Uint8Array,
  iv: Uint8Array,
  state: { digest?: Uint8Array },
): AsyncGenerator<Buffer> {
  const cipher = createCipheriv('aes-256-cbc', key.subarray(0, AES_KEY_LENGTH), iv);
  const mac = createHmac('sha256', key.subarray(AES_KEY_LENGTH));
  const hash = createHash('sha256');
  const emit = (bytes: Buffer): Buffer => {
    mac.update(bytes);
    hash.update(bytes);
    return bytes;
  };
  yield emit(Buffer.from(iv));
  let read = 0;
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw invalidArgument('the attachment source must yield bytes');
    read += chunk.length;
    if (read > size) throw changedWhileReading();
    const out = cipher.update(chunk);
    if (out.length > 0) yield emit(out);
  }
  if (read !== size) throw changedWhileReading();
  let padding = paddedLength - size;
  const zeros = Buffer.alloc(Math.min(padding, CHUNK_BYTES));
  while (padding > 0) {
    const n = Math.min(padding, zeros.length);
    padding -= n;
    const out = cipher.update(zeros.subarray(0, n));
    if (out.length > 0) yield emit(out);
  }
  yield emit(cipher.final());
  const tag = mac.digest();
  hash.update(tag);
  yield tag;
  state.digest = new Uint8Array(hash.digest());
}

/** Calls `onChunk` with the bytes of [start, end), at most CHUNK_BYTES at a time (the view is reused: copy to keep). */
async function readRange(
  file: FileHandle,
  start: number,
  end: number,
  onChunk: (chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(0, end - start)));
  for (let position = start; position < end; ) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, end - position), position);
    // The file shrank under us.
    if (bytesRead === 0) throw corrupted();
    await onChunk(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function readExactly(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let offset = 0;
  await readRange(file, position, position + length, (chunk) => {
    chunk.copy(out, offset);
    offset += chunk.length;
  });
  return out;
}

async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

function freshKey(): Uint8Array {
  return new Uint8Array(randomBytes(ATTACHMENT_KEY_LENGTH));
}

function freshIv(): Uint8Array {
  return new Uint8Array(randomBytes(ATTACHMENT_IV_LENGTH));
}

function changedWhileReading(): ClientError {
  return invalidArgument('the attachment changed size while it was being encrypted');
}

function invalidArgument(message: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidArgument, message);
}
