/** Shared fixtures of the attachment tests: the known-answer vectors and byte helpers. */
import { readFileSync } from 'node:fs';
import { ClientError } from '../../src/errors.js';

export interface AttachmentVectors {
  readonly key: string;
  readonly iv: string;
  readonly cases: ReadonlyArray<{
    readonly size: number;
    readonly paddedLength: number;
    readonly plaintext: string;
    readonly blob: string;
    readonly digest: string;
  }>;
}

export const vectors = JSON.parse(
  readFileSync(new URL('../vectors/attachments/attachment-cipher.json', import.meta.url), 'utf8'),
) as AttachmentVectors;

export const MiB = 1024 * 1024;

export const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Random bytes of any length (getRandomValues fills at most 64 KiB per call). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65_536)));
  return out;
}

/** Byte equality without vitest's element-by-element deep equality, which takes seconds on MiB-sized arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The code of the ClientError `promise` rejects with; fails if it resolves (no plaintext may come back). */
export async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (ClientError.is(err)) return err.code;
    throw err;
  }
  throw new Error('expected a ClientError, but the call succeeded');
}
