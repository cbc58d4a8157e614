/** The one-shot attachment cipher (WebCrypto): round trips, every kind of tampering, known answers from @noble. */
import { cbc } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { paddedLength } from '@samizdat/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ATTACHMENT_IV_LENGTH,
  ATTACHMENT_KEY_LENGTH,
  ATTACHMENT_MAC_LENGTH,
  MAX_ATTACHMENT_SIZE,
  attachmentPaddedLength,
  decryptAttachment,
  encryptAttachment,
  encryptAttachmentWith,
  encryptedAttachmentLength,
} from '../../src/attachments/attachment-cipher.js';
import type { EncryptedAttachment } from '../../src/attachments/attachment-cipher.js';
import { ClientError, ClientErrorCode } from '../../src/errors.js';
import { MiB, fromHex, randomBytes, rejection, sameBytes, toHex, vectors } from './fixtures.js';

function sha256Of(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

/** Signal's construction computed with @noble (pure JS), independent of the WebCrypto code under test. */
function nobleBlob(plaintext: Uint8Array, padded: number, key: Uint8Array, iv: Uint8Array): Uint8Array {
  const input = new Uint8Array(padded);
  input.set(plaintext);
  const ciphertext = cbc(key.slice(0, 32), iv).encrypt(input);
  const body = new Uint8Array([...iv, ...ciphertext]);
  return new Uint8Array([...body, ...hmac(sha256, key.slice(32), body)]);
}

describe('attachment cipher, known answers', () => {
  const key = fromHex(vectors.key);
  const iv = fromHex(vectors.iv);

  it('matches the vector file, recomputed with @noble', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(6);
    for (const c of vectors.cases) {
      const blob = nobleBlob(fromHex(c.plaintext), c.paddedLength, key, iv);
      expect(toHex(blob), `size ${c.size}`).toBe(c.blob);
      expect(toHex(sha256Of(blob)), `size ${c.size}`).toBe(c.digest);
    }
  });

  it('pads to the Padmé bucket of @samizdat/protocol', () => {
    for (const c of vectors.cases) {
      expect(attachmentPaddedLength(c.size)).toBe(c.paddedLength);
      expect(paddedLength(c.size)).toBe(c.paddedLength);
    }
  });

  it('encrypts to the vector blob and digest with the vector key and IV', async () => {
    for (const c of vectors.cases) {
      const out = await encryptAttachmentWith(fromHex(c.plaintext), key, iv);
      expect(toHex(out.blob), `size ${c.size}`).toBe(c.blob);
      expect(toHex(out.digest), `size ${c.size}`).toBe(c.digest);
      expect(out.size).toBe(c.size);
      expect(toHex(out.key)).toBe(vectors.key);
      expect(out.blob.length).toBe(encryptedAttachmentLength(c.size));
    }
  });

  it('decrypts the vector blobs', async () => {
    for (const c of vectors.cases) {
      const plaintext = await decryptAttachment(fromHex(c.blob), { key, digest: fromHex(c.digest), size: c.size });
      expect(toHex(plaintext), `size ${c.size}`).toBe(c.plaintext);
    }
  });
});

describe('attachment cipher, round trips', () => {
  it.each([0, 1, 15, 16, 17, MiB, 5 * MiB])('round-trips %i bytes', async (size) => {
    const plaintext = randomBytes(size);
    const encrypted = await encryptAttachment(plaintext);
    expect(encrypted.size).toBe(size);
    expect(encrypted.key.length).toBe(ATTACHMENT_KEY_LENGTH);
    expect(encrypted.blob.length).toBe(encryptedAttachmentLength(size));
    expect((encrypted.blob.length - ATTACHMENT_IV_LENGTH - ATTACHMENT_MAC_LENGTH) % 16).toBe(0);
    expect(encrypted.blob.length).toBeGreaterThan(size + ATTACHMENT_IV_LENGTH + ATTACHMENT_MAC_LENGTH);
    expect(toHex(encrypted.digest)).toBe(toHex(sha256Of(encrypted.blob)));
    expect(sameBytes(await decryptAttachment(encrypted.blob, encrypted), plaintext)).toBe(true);
  });

  it('hides the exact size: sizes in one bucket give blobs of one length', async () => {
    const lengths = new Set<number>();
    for (const size of [0, 1, 100, 159]) lengths.add((await encryptAttachment(randomBytes(size))).blob.length);
    expect([...lengths]).toEqual([16 + 176 + 32]);
  });

  it('draws a fresh key and IV every time', async () => {
    const plaintext = randomBytes(100);
    const a = await encryptAttachment(plaintext);
    const b = await encryptAttachment(plaintext);
    expect(toHex(a.key)).not.toBe(toHex(b.key));
    expect(toHex(a.blob.subarray(0, 16))).not.toBe(toHex(b.blob.subarray(0, 16)));
  });

  it('does not modify the plaintext or keep the caller key', async () => {
    const plaintext = randomBytes(40);
    const copy = plaintext.slice();
    const key = randomBytes(64);
    const out = await encryptAttachmentWith(plaintext, key, randomBytes(16));
    expect(plaintext).toEqual(copy);
    key.fill(0);
    expect(out.key.some((b) => b !== 0)).toBe(true);
  });

  it('accepts a blob that is a view into a larger buffer', async () => {
    const encrypted = await encryptAttachment(randomBytes(1000));
    const framed = new Uint8Array(encrypted.blob.length + 10);
    framed.set(encrypted.blob, 5);
    const view = framed.subarray(5, 5 + encrypted.blob.length);
    expect((await decryptAttachment(view, encrypted)).length).toBe(1000);
  });
});

describe('attachment cipher, corruption', () => {
  let sample: EncryptedAttachment;
  const corruptedBy = async (blob: Uint8Array, pointer: Partial<Pick<EncryptedAttachment, 'key' | 'digest' | 'size'>> = {}) =>
    rejection(decryptAttachment(blob, { key: sample.key, digest: sample.digest, size: sample.size, ...pointer }));

  beforeAll(async () => {
    sample = await encryptAttachment(randomBytes(1000));
  });

  const flipped = (blob: Uint8Array, index: number) => {
    const out = blob.slice();
    out[index] = (out[index] as number) ^ 0x01;
    return out;
  };

  it.each([
    ['the IV', (b: Uint8Array) => flipped(b, 0)],
    ['the last IV byte', (b: Uint8Array) => flipped(b, 15)],
    ['the first ciphertext byte', (b: Uint8Array) => flipped(b, 16)],
    ['a middle ciphertext byte', (b: Uint8Array) => flipped(b, 500)],
    ['the last ciphertext byte', (b: Uint8Array) => flipped(b, b.length - 33)],
    ['the first MAC byte', (b: Uint8Array) => flipped(b, b.length - 32)],
    ['the last MAC byte', (b: Uint8Array) => flipped(b, b.length - 1)],
    ['truncated by one byte', (b: Uint8Array) => b.subarray(0, b.length - 1)],
    ['truncated by a block', (b: Uint8Array) => b.subarray(0, b.length - 16)],
    ['without its MAC', (b: Uint8Array) => b.subarray(0, b.length - 32)],
    ['cut to the minimum length', (b: Uint8Array) => b.subarray(0, 64)],
    ['cut below the minimum length', (b: Uint8Array) => b.subarray(0, 63)],
    ['empty', () => new Uint8Array(0)],
    ['extended by one byte', (b: Uint8Array) => new Uint8Array([...b, 0])],
    ['extended by a block', (b: Uint8Array) => new Uint8Array([...b, ...new Uint8Array(16)])],
    ['with blocks swapped', (b: Uint8Array) => new Uint8Array([...b.subarray(0, 16), ...b.subarray(32, 48), ...b.subarray(16, 32), ...b.subarray(48)])],
  ])('rejects a blob with %s, whether or not the digest is updated to match', async (_name, tamper) => {
    const blob = tamper(sample.blob);
    expect(await corruptedBy(blob)).toBe(ClientErrorCode.AttachmentCorrupted);
    // A matching digest alone is not enough: the MAC is checked too.
    expect(await corruptedBy(blob, { digest: sha256Of(blob) })).toBe(ClientErrorCode.AttachmentCorrupted);
  });

  it('rejects every single-byte change of a small blob', async () => {
    const small = await encryptAttachment(randomBytes(17));
    for (let i = 0; i < small.blob.length; i++) {
      const blob = flipped(small.blob, i);
      expect(await rejection(decryptAttachment(blob, small)), `byte ${i}`).toBe(ClientErrorCode.AttachmentCorrupted);
      const withDigest = { key: small.key, size: small.size, digest: sha256Of(blob) };
      expect(await rejection(decryptAttachment(blob, withDigest)), `byte ${i}`).toBe(ClientErrorCode.AttachmentCorrupted);
    }
  });

  it('rejects a wrong digest', async () => {
    const digest = sample.digest.slice();
    digest[31] = (digest[31] as number) ^ 0x80;
    expect(await corruptedBy(sample.blob, { digest })).toBe(ClientErrorCode.AttachmentCorrupted);
  });

  it('rejects a wrong key', async () => {
    expect(await corruptedBy(sample.blob, { key: randomBytes(64) })).toBe(ClientErrorCode.AttachmentCorrupted);
    const macHalfChanged = sample.key.slice();
    macHalfChanged[63] = (macHalfChanged[63] as number) ^ 1;
    expect(await corruptedBy(sample.blob, { key: macHalfChanged })).toBe(ClientErrorCode.AttachmentCorrupted);
  });

  it('rejects a size the blob cannot hold', async () => {
    const padded = attachmentPaddedLength(1000);
    // Within the ciphertext's capacity but past the decrypted (padded) length.
    expect(await corruptedBy(sample.blob, { size: padded + 1 })).toBe(ClientErrorCode.AttachmentCorrupted);
    expect(await corruptedBy(sample.blob, { size: sample.blob.length })).toBe(ClientErrorCode.AttachmentCorrupted);
  });

  it('returns the prefix the pointer states when it states less (the pointer is authenticated with the message)', async () => {
    const full = await decryptAttachment(sample.blob, sample);
    expect(await decryptAttachment(sample.blob, { ...sample, size: 10 })).toEqual(full.subarray(0, 10));
  });

  it('rejects malformed pointers as invalid arguments, not as corruption', async () => {
    const invalid = ClientErrorCode.InvalidArgument;
    expect(await corruptedBy(sample.blob, { key: sample.key.subarray(0, 63) })).toBe(invalid);
    expect(await corruptedBy(sample.blob, { digest: sample.digest.subarray(0, 31) })).toBe(invalid);
    for (const size of [-1, 1.5, Number.NaN, MAX_ATTACHMENT_SIZE + 1, Number.MAX_SAFE_INTEGER]) {
      expect(await corruptedBy(sample.blob, { size }), String(size)).toBe(invalid);
    }
    expect(await rejection(encryptAttachmentWith(randomBytes(1), randomBytes(32), randomBytes(16)))).toBe(invalid);
    expect(await rejection(encryptAttachmentWith(randomBytes(1), randomBytes(64), randomBytes(12)))).toBe(invalid);
  });

  it('puts no key or content in its error message', async () => {
    try {
      await decryptAttachment(flipped(sample.blob, 20), sample);
      throw new Error('expected a rejection');
    } catch (err) {
      expect(ClientError.is(err, ClientErrorCode.AttachmentCorrupted)).toBe(true);
      const message = (err as Error).message;
      expect(message).not.toContain(toHex(sample.key).slice(0, 8));
      expect(message).not.toMatch(/[0-9a-f]{16}/);
    }
  });
});
