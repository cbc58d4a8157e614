/**
 * The HPKE (RFC 9180) cipher suite of sealed sender — KEM 0x647a X-Wing, KDF 0x0001 HKDF-SHA256, AEAD 0x0002
 * AES-256-GCM (§7) — as an @hpke/core CipherSuite whose parts run on the caller's CryptoProvider where it can: the
 * X-Wing of x-wing-kem.ts (the provider's X25519), HKDF (RFC 5869) from @noble/hashes, AES-256-GCM from the provider.
 * @hpke/core keeps the protocol (§5.1 key schedule, §5.2 encryption context, §5.3 secret export); its own KDF and
 * AEAD go through WebCrypto for every HMAC and key import, which cost more than the KEM (~1.2 ms per context on
 * Node; docs/benchmarks.md "Sealed sender"). test/sealed-sender/hpke-suite.test.ts checks the suite against the
 * plain @hpke suite both ways and on RFC 9180's own vectors for the KDF and AEAD.
 */
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import type { AeadEncryptionContext, AeadInterface } from '@hpke/core';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ProviderXWing } from './x-wing-kem.js';

function bytesOf(input: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
}

const buffer = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer;

/** HKDF-SHA256 (RFC 5869 §2.2 Extract, §2.3 Expand) from @noble/hashes; the labeled forms (RFC 9180 §4) are @hpke's. */
export class NobleHkdfSha256 extends HkdfSha256 {
  override async extract(salt: ArrayBufferLike | ArrayBufferView, ikm: ArrayBufferLike | ArrayBufferView): Promise<ArrayBuffer> {
    return buffer(extract(sha256, bytesOf(ikm), bytesOf(salt)));
  }

  override async expand(prk: ArrayBufferLike | ArrayBufferView, info: ArrayBufferLike | ArrayBufferView, len: number): Promise<ArrayBuffer> {
    return buffer(expand(sha256, bytesOf(prk), bytesOf(info), len));
  }

  override async extractAndExpand(salt: ArrayBufferLike | ArrayBufferView, ikm: ArrayBufferLike | ArrayBufferView, info: ArrayBufferLike | ArrayBufferView, len: number): Promise<ArrayBuffer> {
    return this.expand(await this.extract(salt, ikm), info, len);
  }
}

/** AES-256-GCM (RFC 9180 §7.3 AEAD 0x0002) on the provider. */
export class ProviderAes256Gcm implements AeadInterface {
  readonly id = 0x0002;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = 16;

  constructor(private readonly crypto: CryptoProvider) {}

  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const raw = bytesOf(key).slice();
    return {
      seal: async (iv, data, aad) => buffer(await this.crypto.aesGcmEncrypt(raw, bytesOf(iv), bytesOf(data), bytesOf(aad))),
      open: async (iv, data, aad) => buffer(await this.crypto.aesGcmDecrypt(raw, bytesOf(iv), bytesOf(data), bytesOf(aad))),
    };
  }
}

const suites = new WeakMap<CryptoProvider, CipherSuite>();

/** The sealed-sender suite on `crypto` (one per provider, so that the KEM's expanded private keys are reused). */
export function sealedSenderSuite(crypto: CryptoProvider): CipherSuite {
  let suite = suites.get(crypto);
  if (!suite) {
    suite = new CipherSuite({ kem: new ProviderXWing(crypto), kdf: new NobleHkdfSha256(), aead: new ProviderAes256Gcm(crypto) });
    suites.set(crypto, suite);
  }
  return suite;
}
