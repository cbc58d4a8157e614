/**
 * The ts-mls CryptoProvider the browser uses: ts-mls's default provider (WebCrypto, @hpke, @noble), with one
 * workaround for a dependency mismatch, kept here in one named place.
 *
 * P-521 signing keys. ts-mls 1.6.4 signs ECDSA P-521 (cipher suites 5 and 7's signature algorithm, RFC 9420 §5.1)
 * with `p521.sign` from @noble/curves. Our root `overrides` force @noble/curves 2.4.0 (one copy for every package),
 * whose `sign` accepts only a 66-byte scalar (`Field.fromBytes: expected 66 bytes, got 65`); 2.0.1, which ts-mls
 * pins, accepted shorter ones. A P-521 scalar is below 2^521, so its big-endian encoding may start with a zero byte
 * that an encoder drops: the official MLS interop vectors carry 65-byte keys (mls-implementations #176), and so may
 * any other implementation's. Left-padding with zeros to the field length is the same integer, so the signature
 * is the one the unpadded key would give; a key longer than 66 bytes is passed through for @noble to refuse.
 * Tested on the official vectors (test/groups/mls-vectors.test.ts) and by test/groups/default-mls-provider.test.ts.
 */
import { defaultCryptoProvider } from 'ts-mls';
import type { CiphersuiteImpl, CryptoProvider } from 'ts-mls';

/** RFC 9420 §5.1 / SEC 1: a P-521 private key is a 66-byte big-endian scalar. */
export const P521_SCALAR_LENGTH = 66;

/** `key` left-padded with zero bytes to `length` (the same big-endian integer); returned as is if not shorter. */
export function leftPad(key: Uint8Array, length: number): Uint8Array {
  if (key.length >= length) return key;
  const padded = new Uint8Array(length);
  padded.set(key, length - key.length);
  return padded;
}

function withPaddedP521Keys(impl: CiphersuiteImpl): CiphersuiteImpl {
  const signature = impl.signature;
  return {
    ...impl,
    signature: {
      ...signature,
      sign: (signKey, message) => signature.sign(leftPad(signKey, P521_SCALAR_LENGTH), message),
    },
  };
}

/** ts-mls's default provider, with P-521 signing keys padded to 66 bytes. */
export const defaultMlsCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs) {
    const impl = await defaultCryptoProvider.getCiphersuiteImpl(cs);
    return cs.signature === 'P521' ? withPaddedP521Keys(impl) : impl;
  },
};
