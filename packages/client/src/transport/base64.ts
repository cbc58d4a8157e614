/**
 * Base64 for the JSON API (docs/api.md): we send standard base64 with padding; we accept standard (padded) or
 * URL-safe (unpadded), as the server does — strictly (@samizdat/protocol wire/base64.ts), because the server is
 * untrusted input.
 */
import { decodeBase64, encodeBase64 } from '@samizdat/protocol';

export function toBase64(bytes: Uint8Array): string {
  return encodeBase64(bytes);
}

/** Decodes standard (padded) or URL-safe (unpadded) base64; undefined when `text` is neither. */
export function fromBase64(text: string): Uint8Array | undefined {
  return decodeBase64(text) ?? decodeBase64(text, { url: true });
}
