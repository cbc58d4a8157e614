import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../src/wire/base64.js';

describe('base64 (RFC 4648)', () => {
  it('round-trips any bytes in every form, and matches Node for the standard and URL alphabets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const options of [{}, { url: true }, { url: true, padded: true }, { padded: false }]) {
          expect(decodeBase64(encodeBase64(bytes, options), options)).toEqual(bytes);
        }
        expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        expect(encodeBase64(bytes, { url: true })).toBe(Buffer.from(bytes).toString('base64url'));
      }),
    );
  });

  it('matches the RFC 4648 §10 test vectors', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']];
    for (const [text, encoded] of vectors) {
      expect(encodeBase64(new TextEncoder().encode(text))).toBe(encoded);
      expect(new TextDecoder().decode(decodeBase64(encoded))).toBe(text);
    }
  });

  it('accepts only the one canonical text for each byte string', () => {
    const refused: [string, object][] = [
      ['Zg', {}], // padding required
      ['Zg=', {}],
      ['Zh==', {}], // non-zero unused bits (§3.5)
      ['Zg==', { url: true }], // padding forbidden in base64url by default
      ['Z+8=', { url: true }], // standard character in base64url
      ['Z-8=', {}], // base64url character in standard
      ['Zm9v\n', {}], // whitespace
      ['Zm9vY', { url: true }], // impossible length
      ['Zm9vé', { url: true }],
    ];
    for (const [text, options] of refused) expect(decodeBase64(text, options), text).toBeUndefined();
  });
});
