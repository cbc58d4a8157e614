/**
 * Byte helpers of the node:crypto MLS provider (../node-mls-provider.ts): plain Uint8Arrays from node's Buffers,
 * I2OSP (RFC 8017 §4.1, as RFC 9180 uses it), randomness, base64url for JWK imports, constant-time comparison.
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { CryptoError } from '../ts-mls-internals.js';

export const EMPTY = new Uint8Array(0);
export const encoder = new TextEncoder();

/** node:crypto returns Buffers; ts-mls compares with toStrictEqual in places, so hand back plain Uint8Arrays. */
export function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  randomFillSync(out);
  return out;
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function fromBase64url(text: string | undefined): Uint8Array {
  if (text === undefined) throw new CryptoError('node:crypto exported an unexpected JWK');
  return plain(Buffer.from(text, 'base64url'));
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
