/**
 * Base64 (RFC 4648 §4) and base64url (§5), strict: one accepted text per byte string — no whitespace, no stray
 * characters, padding exactly as asked for, zero unused bits in the last character (§3.5). Isomorphic (no Buffer,
 * no atob, which tolerates whitespace). Used by the client's JSON API codec, message content and link codes.
 */
const STANDARD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function table(alphabet: string): Int16Array {
  const values = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
}

const STANDARD_VALUES = table(STANDARD_ALPHABET);
const URL_VALUES = table(URL_ALPHABET);

export interface Base64Options {
  /** base64url (RFC 4648 §5) instead of standard base64. Default false. */
  readonly url?: boolean;
  /** Padded with "=" to a multiple of 4 (§3.2). Default: padded for standard, unpadded for base64url. */
  readonly padded?: boolean;
}

export function encodeBase64(bytes: Uint8Array, options: Base64Options = {}): string {
  const url = options.url ?? false;
  const padded = options.padded ?? !url;
  const alphabet = url ? URL_ALPHABET : STANDARD_ALPHABET;
  const parts: string[] = [];
  // Built in chunks, so that a large blob does not make one long chain of string concatenations.
  for (let start = 0; start < bytes.length; start += 3 * 4096) {
    const end = Math.min(bytes.length, start + 3 * 4096);
    let out = '';
    for (let i = start; i < end; i += 3) {
      const n = ((bytes[i] as number) << 16) | ((i + 1 < end ? (bytes[i + 1] as number) : 0) << 8) | (i + 2 < end ? (bytes[i + 2] as number) : 0);
      const chars = Math.min(4, Math.ceil(((end - i) * 8) / 6));
      for (let j = 0; j < 4; j++) {
        if (j < chars) out += alphabet[(n >> (18 - 6 * j)) & 63];
        else if (padded) out += '=';
      }
    }
    parts.push(out);
  }
  return parts.join('');
}

/** Decodes strictly (see the module comment); undefined for any text that is not the canonical encoding. */
export function decodeBase64(text: string, options: Base64Options = {}): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  const url = options.url ?? false;
  const padded = options.padded ?? !url;
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) return undefined;
    body = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  }
  if (body.length % 4 === 1) return undefined;
  const values = url ? URL_VALUES : STANDARD_VALUES;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const v = code < 128 ? (values[code] as number) : -1;
    if (v < 0) return undefined;
    buffer = ((buffer << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  // Non-zero leftover bits: a second text for the same bytes.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
