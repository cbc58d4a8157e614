/** Helpers shared by the HTTP routes: base64 fields, key checks. */
import { ApiError } from './errors.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes standard or URL-safe base64; INVALID_BASE64 if it is neither, INVALID_KEY if `length` is not met. */
export function fromBase64(value: string, field: string, length?: number): Uint8Array {
  if (!(BASE64.test(value) && value.length % 4 === 0) && !BASE64URL.test(value)) {
    throw new ApiError('INVALID_BASE64', `${field} is not valid base64`);
  }
  const bytes = new Uint8Array(Buffer.from(value, BASE64URL.test(value) ? 'base64url' : 'base64'));
  if (length !== undefined && bytes.length !== length) {
    throw new ApiError('INVALID_KEY', `${field} must be ${length} bytes`);
  }
  return bytes;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
