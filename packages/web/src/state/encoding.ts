import { decodeBase64, encodeBase64 } from '@samizdat/protocol';

/** base64url without padding, as the CLI prints safety-number codes (`verify`: "Code for the other side"). */
export function toBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes, { url: true });
}

/** Undefined when `text` (surrounding whitespace aside: it is pasted) is not canonical base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  return decodeBase64(text.trim(), { url: true });
}
