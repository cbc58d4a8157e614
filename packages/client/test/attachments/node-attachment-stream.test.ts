/** The Node streaming attachment cipher: byte-identical to the one-shot cipher, verify-before-decrypt, clean failures. */
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptAttachment,
  encryptAttachment,
  encryptAttachmentWith,
  encryptedAttachmentLength,
} from '../../src/attachments/attachment-cipher.js';
import {
  decryptAttachmentFile,
  encryptAttachmentFile,
  encryptAttachmentFileWith,
  encryptAttachmentStream,
  encryptAttachmentStreamWith,
} from '../../src/attachments/node-attachment-stream.js';
import { ClientErrorCode } from '../../src/errors.js';
import { MiB, fromHex, randomBytes, rejection, sameBytes, toHex, vectors } from './fixtures.js';

let dir: string;
let counter = 0;
const path = (name: string) => join(dir, `${counter++}-${name}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samizdat-attachments-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeTemp(bytes: Uint8Array): Promise<string> {
  const file = path('input');
  await writeFile(file, bytes);
  return file;
}

/** Collects what a stream receives, as the upload request body would. */
function sink(): { stream: PassThrough; bytes: () => Uint8Array } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, bytes: () => new Uint8Array(Buffer.concat(chunks)) };
}

async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield bytes.subarray(offset, offset + n);
    offset += n;
  }
}

describe('streaming encryption', () => {
  it.each([0, 1, 15, 16, 17, 159, 160, MiB + 3, 5 * MiB])('writes the same blob as the one-shot cipher for %i bytes', async (size) => {
    const plaintext = randomBytes(size);
    const key = randomBytes(64);
    const iv = randomBytes(16);
    const expected = await encryptAttachmentWith(plaintext, key, iv);

    const input = await writeTemp(plaintext);
    const output = path('blob');
    const toFile = await encryptAttachmentFileWith(input, output, key, iv);
    const blob = new Uint8Array(await readFile(output));
    expect(sameBytes(blob, expected.blob)).toBe(true);
    expect(toHex(toFile.digest)).toBe(toHex(expected.digest));
    expect(toFile.size).toBe(size);
    expect(toFile.blobLength).toBe(blob.length);
    expect(toFile.blobLength).toBe(encryptedAttachmentLength(size));

    const { stream, bytes } = sink();
    const toStream = await encryptAttachmentFileWith(input, stream, key, iv);
    expect(sameBytes(bytes(), expected.blob)).toBe(true);
    expect(toHex(toStream.digest)).toBe(toHex(expected.digest));
  });

  it('gives the same blob whatever the chunking of the source', async () => {
    const plaintext = randomBytes(70_000);
    const key = randomBytes(64);
    const iv = randomBytes(16);
    const expected = await encryptAttachmentWith(plaintext, key, iv);
    for (const sizes of [[1], [7, 9], [15, 16, 17], [4096], [65_536, 1]]) {
      const { stream, bytes } = sink();
      const result = await encryptAttachmentStreamWith(chunked(plaintext, sizes), plaintext.length, stream, key, iv);
      expect(sameBytes(bytes(), expected.blob), JSON.stringify(sizes)).toBe(true);
      expect(toHex(result.digest)).toBe(toHex(expected.digest));
    }
  });

  it('matches the known-answer vectors', async () => {
    for (const c of vectors.cases) {
      const { stream, bytes } = sink();
      const result = await encryptAttachmentStreamWith(
        chunked(fromHex(c.plaintext), [5]),
        c.size,
        stream,
        fromHex(vectors.key),
        fromHex(vectors.iv),
      );
      expect(toHex(bytes()), `size ${c.size}`).toBe(c.blob);
      expect(toHex(result.digest)).toBe(c.digest);
    }
  });

  it('draws a fresh key and IV, and the one-shot cipher opens the result', async () => {
    const plaintext = randomBytes(3000);
    const input = await writeTemp(plaintext);
    const a = sink();
    const first = await encryptAttachmentFile(input, a.stream);
    const b = sink();
    const second = await encryptAttachmentStream(chunked(plaintext, [1000]), plaintext.length, b.stream);
    expect(toHex(first.key)).not.toBe(toHex(second.key));
    expect(toHex(a.bytes().subarray(0, 16))).not.toBe(toHex(b.bytes().subarray(0, 16)));
    expect(sameBytes(await decryptAttachment(a.bytes(), first), plaintext)).toBe(true);
    expect(sameBytes(await decryptAttachment(b.bytes(), second), plaintext)).toBe(true);
  });

  it('refuses a source longer or shorter than declared, and destroys the destination', async () => {
    const plaintext = randomBytes(100);
    for (const declared of [99, 101, -1, 1.5]) {
      const destination = new PassThrough();
      destination.on('error', () => undefined);
      expect(await rejection(encryptAttachmentStream(chunked(plaintext, [10]), declared, destination)), String(declared)).toBe(
        ClientErrorCode.InvalidArgument,
      );
      expect(destination.destroyed).toBe(true);
    }
    const failing = (async function* () {
      yield plaintext.subarray(0, 10);
      throw new Error('disk error');
    })();
    await expect(encryptAttachmentStream(failing, 100, new PassThrough())).rejects.toThrow('disk error');
  });

  it('fails cleanly when the input is missing or not a file', async () => {
    const output = path('blob');
    await expect(encryptAttachmentFile(join(dir, 'missing'), output)).rejects.toThrow();
    await expect(stat(output)).rejects.toThrow();
    expect(await rejection(encryptAttachmentFile(dir, path('blob')))).toBe(ClientErrorCode.InvalidArgument);
  });
});

describe('streaming decryption', () => {
  async function encrypted(size: number) {
    const plaintext = randomBytes(size);
    const result = await encryptAttachment(plaintext);
    const blobPath = path('blob');
    await writeFile(blobPath, result.blob);
    return { plaintext, result, blobPath };
  }

  it.each([0, 1, 15, 16, 17, MiB + 3, 5 * MiB])('decrypts a %i-byte attachment to a private file', async (size) => {
    const { plaintext, result, blobPath } = await encrypted(size);
    const output = path('plain');
    await decryptAttachmentFile(blobPath, output, result);
    expect(sameBytes(new Uint8Array(await readFile(output)), plaintext)).toBe(true);
    expect((await stat(output)).mode & 0o777).toBe(0o600);
  });

  it('decrypts the known-answer vectors', async () => {
    for (const c of vectors.cases) {
      const blobPath = path('blob');
      await writeFile(blobPath, fromHex(c.blob));
      const output = path('plain');
      await decryptAttachmentFile(blobPath, output, { key: fromHex(vectors.key), digest: fromHex(c.digest), size: c.size });
      expect(toHex(new Uint8Array(await readFile(output))), `size ${c.size}`).toBe(c.plaintext);
    }
  });

  it('replaces an existing file on success', async () => {
    const { plaintext, result, blobPath } = await encrypted(500);
    const output = path('plain');
    await writeFile(output, 'old content');
    await decryptAttachmentFile(blobPath, output, result);
    expect(sameBytes(new Uint8Array(await readFile(output)), plaintext)).toBe(true);
  });

  const flip = (bytes: Uint8Array, index: number) => {
    const out = bytes.slice();
    out[index] = (out[index] as number) ^ 0x01;
    return out;
  };

  it.each([
    ['the IV', (b: Uint8Array) => flip(b, 3)],
    ['the ciphertext', (b: Uint8Array) => flip(b, 100)],
    ['the last ciphertext block', (b: Uint8Array) => flip(b, b.length - 40)],
    ['the MAC', (b: Uint8Array) => flip(b, b.length - 5)],
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 1)],
    ['truncated by a block', (b: Uint8Array) => b.subarray(0, b.length - 16)],
    ['cut below the minimum length', (b: Uint8Array) => b.subarray(0, 63)],
    ['empty', () => new Uint8Array(0)],
    ['extended', (b: Uint8Array) => new Uint8Array([...b, 0])],
    ['extended by a block', (b: Uint8Array) => new Uint8Array([...b, ...new Uint8Array(16)])],
  ])('rejects a blob with %s and leaves nothing behind', async (_name, tamper) => {
    const { result, blobPath } = await encrypted(1000);
    await writeFile(blobPath, tamper(result.blob));
    const output = path('plain');
    await writeFile(output, 'kept');
    const before = (await readdir(dir)).length;
    expect(await rejection(decryptAttachmentFile(blobPath, output, result))).toBe(ClientErrorCode.AttachmentCorrupted);
    // The existing file is untouched and no temporary file remains.
    expect(await readFile(output, 'utf8')).toBe('kept');
    expect((await readdir(dir)).length).toBe(before);
  });

  it('rejects a wrong digest, a wrong key and an impossible size', async () => {
    const { result, blobPath } = await encrypted(1000);
    const digest = result.digest.slice();
    digest[0] = (digest[0] as number) ^ 1;
    const cases = [
      { ...result, digest },
      { ...result, key: randomBytes(64) },
      { ...result, size: result.blob.length },
    ];
    for (const pointer of cases) {
      const output = path('plain');
      expect(await rejection(decryptAttachmentFile(blobPath, output, pointer))).toBe(ClientErrorCode.AttachmentCorrupted);
      await expect(stat(output)).rejects.toThrow();
    }
  });

  it('rejects malformed pointers as invalid arguments', async () => {
    const { result, blobPath } = await encrypted(10);
    for (const pointer of [
      { ...result, key: result.key.subarray(1) },
      { ...result, digest: new Uint8Array(31) },
      { ...result, size: -1 },
    ]) {
      expect(await rejection(decryptAttachmentFile(blobPath, path('plain'), pointer))).toBe(ClientErrorCode.InvalidArgument);
    }
  });
});
