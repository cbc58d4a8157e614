/**
 * Base64 for the JSON API (docs/api.md): we send standard base64 with padding; we accept standard or URL-safe, as the
 * server does. Decoding is strict (no whitespace, no stray characters, canonical padding bits), because the server is
 * untrusted input. Isomorphic: no Buffer, no atob (which tolerates whitespace and is slow on large inputs).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
DECODE['-'.charCodeAt(0)] = 62;
DECODE['_'.charCodeAt(0)] = 63;

export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  // Build in chunks so that a large envelope does not make one huge string concatenation chain.
  for (let start = 0; start < bytes.length; start += 3 * 4096) {
    const end = Math.min(bytes.length, start + 3 * 4096);
    let out = '';
    for (let i = start; i < end; i += 3) {
      const a = bytes[i] as number;
      const b = i + 1 < end ? (bytes[i + 1] as number) : 0;
      const c = i + 2 < end ? (bytes[i + 2] as number) : 0;
      out += ALPHABET[a >> 2];
      out += ALPHABET[((a & 3) << 4) | (b >> 4)];
      out += i + 1 < end ? ALPHABET[((b & 15) << 2) | (c >> 6)] : '=';
      out += i + 2 < end ? ALPHABET[c & 63] : '=';
    }
    parts.push(out);
  }
  return parts.join('');
}

/** Decodes standard (padded) or URL-safe (unpadded) base64; undefined when `text` is neither. */
export function fromBase64(text: string): Uint8Array | undefined {
  let body: string;
  if (STANDARD.test(text) && text.length % 4 === 0) body = text.replace(/=+$/, '');
  else if (URL_SAFE.test(text)) body = text;
  else return undefined;
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let buffer = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    buffer = (buffer << 6) | (DECODE[body.charCodeAt(i)] as number);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  // Non-zero leftover bits mean a non-canonical encoding (two texts for one value): refuse it.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
