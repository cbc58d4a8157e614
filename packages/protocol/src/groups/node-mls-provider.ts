/**
 * A ts-mls CryptoProvider on node:crypto (OpenSSL), so that MLS group operations in Node are not bound by the
 * default provider's async WebCrypto calls and pure-JS curve arithmetic (docs/dependencies.md, "ts-mls 1.6.4").
 * This file picks an implementation for each algorithm a cipher suite names; the primitives are in ./node-provider/:
 *
 * - hash.ts, kdf.ts: hash, HMAC and the KDF (RFC 5869 HKDF extract / expand), synchronous node:crypto calls.
 * - hpke.ts: HPKE (RFC 9180, base mode, single shot + exporter), implemented here in full, over the KEMs:
 *   dhkem.ts (DHKEM over X25519 / X448 as KeyObjects, okp.ts, and P-256 / P-384 / P-521 with node's ECDH class,
 *   nist-curves.ts), ml-kem.ts (ML-KEM-512/768/1024, FIPS 203, @noble/post-quantum: node:crypto on Node 20 has none)
 *   and x-wing.ts (draft-connolly-cfrg-xwing-kem, as @hpke/hybridkem-x-wing 0.7.0 implements it).
 * - aead.ts: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.
 * - signature.ts: Ed25519, Ed448, ECDSA P-256/384/521 (DER, as RFC 9420 §5.1.2 and the default provider), ML-DSA-87
 *   (@noble/post-quantum).
 *
 * The suite we ship (DEFAULT_GROUP_CIPHER_SUITE) needs only X-Wing, HKDF-SHA512, AES-256-GCM and Ed25519. The others
 * stay because the tests run every suite through this provider: ts-mls's own suite (`npm run test:ts-mls`, project
 * ts-mls-node: every scenario for every cipher suite ts-mls defines), the official MLS vectors (suites 1–7,
 * test/groups/mls-vectors.test.ts) and the cross-check against the default provider (test/groups/node-mls-provider.test.ts)
 * — and because MlsEngine takes any suite ts-mls defines (`MlsEngineOptions.cipherSuite`).
 *
 * Every serialization (private and public keys, KEM outputs) is byte-identical to ts-mls's default provider, so a
 * group state written by one provider is read by the other and members on different providers interoperate.
 *
 * Node only: the browser keeps ts-mls's default provider. Exported from `@samizdat/protocol/groups-node`.
 */
import type { Ciphersuite, CiphersuiteImpl, CryptoProvider, KemAlgorithm, Rng } from 'ts-mls';
import { randomBytes } from './node-provider/bytes.js';
import { makeNistDhKem, makeOkpDhKem } from './node-provider/dhkem.js';
import { makeHash } from './node-provider/hash.js';
import { makeHpke } from './node-provider/hpke.js';
import { makeKdf } from './node-provider/kdf.js';
import type { Kem } from './node-provider/kem.js';
import { makeMlKem1024, makeMlKem512, makeMlKem768 } from './node-provider/ml-kem.js';
import { P256, P384, P521 } from './node-provider/nist-curves.js';
import { checkOkpImport } from './node-provider/okp.js';
import { makeSignature } from './node-provider/signature.js';
import { makeXWing } from './node-provider/x-wing.js';

const kemCache = new Map<KemAlgorithm, Kem>();

/** The KEM for `algorithm`, made once and shared by every CiphersuiteImpl that uses it. */
function getKem(algorithm: KemAlgorithm): Kem {
  let kem = kemCache.get(algorithm);
  if (kem === undefined) {
    kem = makeKem(algorithm);
    kemCache.set(algorithm, kem);
  }
  return kem;
}

function makeKem(algorithm: KemAlgorithm): Kem {
  switch (algorithm) {
    case 'DHKEM-X25519-HKDF-SHA256':
      return makeOkpDhKem('X25519');
    case 'DHKEM-X448-HKDF-SHA512':
      return makeOkpDhKem('X448');
    case 'DHKEM-P256-HKDF-SHA256':
      return makeNistDhKem(P256);
    case 'DHKEM-P384-HKDF-SHA384':
      return makeNistDhKem(P384);
    case 'DHKEM-P521-HKDF-SHA512':
      return makeNistDhKem(P521);
    case 'ML-KEM-512':
      return makeMlKem512();
    case 'ML-KEM-768':
      return makeMlKem768();
    case 'ML-KEM-1024':
      return makeMlKem1024();
    case 'X-Wing':
      return makeXWing();
  }
}

const nodeRng: Rng = { randomBytes };

/** ts-mls CryptoProvider on node:crypto, for every cipher suite ts-mls 1.6.4 defines. */
export const nodeMlsCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs: Ciphersuite): Promise<CiphersuiteImpl> {
    checkOkpImport();
    return {
      hash: makeHash(cs.hash),
      kdf: makeKdf(cs.hpke.kdf),
      hpke: makeHpke(getKem(cs.hpke.kem), cs.hpke.kdf, cs.hpke.aead),
      signature: makeSignature(cs.signature),
      rng: nodeRng,
      name: cs.name,
    };
  },
};
