/**
 * Wycheproof vectors (test/vectors/wycheproof/, see the README there) against both providers. `valid` cases
 * must give the expected output, `invalid` ones must be rejected with a ProtocolError, `acceptable` ones may go either
 * way but must not crash. Cases the CryptoProvider interface cannot express are filtered out, never skipped; each
 * test asserts how many cases ran, so a filter that matches nothing fails.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import { providers, readWycheproof, rejectionCode, settle } from './providers.js';

type Result = 'valid' | 'invalid' | 'acceptable';
interface Suite<G> {
  readonly algorithm: string;
  readonly testGroups: readonly G[];
}
interface Case {
  readonly tcId: number;
  readonly comment?: string;
  readonly flags?: readonly string[];
  readonly result: Result;
}
interface AeadGroup {
  readonly ivSize: number;
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: ReadonlyArray<Case & { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }>;
}
interface EddsaGroup {
  readonly publicKey: { readonly pk: string };
  readonly tests: ReadonlyArray<Case & { msg: string; sig: string }>;
}
interface HkdfGroup {
  readonly tests: ReadonlyArray<Case & { ikm: string; salt: string; info: string; size: number; okm: string }>;
}
interface MacGroup {
  readonly tagSize: number;
  readonly tests: ReadonlyArray<Case & { key: string; msg: string; tag: string }>;
}
interface XdhGroup {
  readonly curve: string;
  readonly tests: ReadonlyArray<Case & { public: string; private: string; shared: string }>;
}
interface MlkemGroup {
  readonly parameterSet: string;
  readonly tests: ReadonlyArray<Case & { seed: string; ek?: string; c: string; K: string }>;
}
interface MlkemEncapsGroup {
  readonly parameterSet: string;
  readonly tests: ReadonlyArray<Case & { ek: string; m: string; c: string; K: string }>;
}

const cases = <G extends { tests: readonly unknown[] }>(suite: Suite<G>, keep: (g: G) => boolean): G['tests'] =>
  suite.testGroups.filter(keep).flatMap((g) => g.tests);

const aesGcm = readWycheproof<Suite<AeadGroup>>('aes_gcm_test.json');
const ed25519 = readWycheproof<Suite<EddsaGroup>>('ed25519_test.json');
const hkdf = readWycheproof<Suite<HkdfGroup>>('hkdf_sha256_test.json');
const hmac = readWycheproof<Suite<MacGroup>>('hmac_sha256_test.json');
const x25519 = readWycheproof<Suite<XdhGroup>>('x25519_test.json');
const mlkem = readWycheproof<Suite<MlkemGroup>>('mlkem_1024_test.json');
const mlkemEncaps = readWycheproof<Suite<MlkemEncapsGroup>>('mlkem_1024_encaps_test.json');

describe.each(providers)('Wycheproof vectors, %s provider', (_name, provider) => {
  it('aes_gcm_test.json: AES-256-GCM with 96-bit IVs and 128-bit tags', async () => {
    const tests = aesGcm.testGroups
      .filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128)
      .flatMap((g) => g.tests);
    for (const t of tests) {
      const [key, iv, aad, msg] = [fromHex(t.key), fromHex(t.iv), fromHex(t.aad), fromHex(t.msg)];
      const sealed = concatBytes(fromHex(t.ct), fromHex(t.tag));
      const label = `tcId ${t.tcId}`;
      if (t.result === 'valid') {
        expect(toHex(await provider.aesGcmEncrypt(key, iv, msg, aad)), label).toBe(toHex(sealed));
        expect(toHex(await provider.aesGcmDecrypt(key, iv, sealed, aad)), label).toBe(t.msg);
      } else {
        expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, sealed, aad)), label).toBe(ProtocolErrorCode.BadMac);
      }
    }
    expect(tests.length).toBe(66);
  });

  it('ed25519_test.json: Ed25519 verification', async () => {
    let ran = 0;
    for (const group of ed25519.testGroups) {
      const publicKey = fromHex(group.publicKey.pk);
      for (const t of group.tests) {
        const ok = await provider.ed25519Verify(publicKey, fromHex(t.msg), fromHex(t.sig));
        if (t.result !== 'acceptable') expect(ok, `tcId ${t.tcId}`).toBe(t.result === 'valid');
        ran++;
      }
    }
    expect(ran).toBe(151);
  });

  it('hkdf_sha256_test.json: HKDF-SHA256', async () => {
    const tests = cases(hkdf, () => true);
    for (const t of tests) {
      const derive = provider.hkdfSha256(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size);
      if (t.result === 'valid') {
        expect(toHex(await derive), `tcId ${t.tcId}`).toBe(t.okm);
      } else {
        // The only invalid cases ask for more than 255 * HashLen bytes (RFC 5869 §2.3).
        expect(await rejectionCode(derive), `tcId ${t.tcId}`).toBe(ProtocolErrorCode.InvalidArgument);
      }
    }
    expect(tests.length).toBe(86);
  });

  it('hmac_sha256_test.json: HMAC-SHA256 with full 256-bit tags', async () => {
    // The interface returns the full tag; truncated-tag groups test a verifier we do not have.
    const tests = cases(hmac, (g) => g.tagSize === 256);
    for (const t of tests) {
      const tag = toHex(await provider.hmacSha256(fromHex(t.key), fromHex(t.msg)));
      if (t.result === 'valid') expect(tag, `tcId ${t.tcId}`).toBe(t.tag);
      else expect(tag, `tcId ${t.tcId}`).not.toBe(t.tag);
    }
    expect(tests.length).toBe(87);
  });

  it('x25519_test.json: X25519, rejecting all-zero outputs (RFC 7748 §6.1)', async () => {
    const tests = cases(x25519, (g) => g.curve === 'curve25519');
    const zero = '00'.repeat(32);
    let rejected = 0;
    for (const t of tests) {
      const label = `tcId ${t.tcId} ${t.comment ?? ''}`;
      const outcome = await settle(provider.x25519(fromHex(t.private), fromHex(t.public)));
      if (t.shared === zero) {
        // Wycheproof calls these `acceptable`; our interface requires the rejection.
        expect(outcome, label).toEqual({ ok: false, code: ProtocolErrorCode.InvalidKey });
        rejected++;
      } else if (t.result === 'valid') {
        expect(outcome.ok && toHex(outcome.value), label).toBe(t.shared);
      } else {
        // `acceptable` (twist points, non-canonical u): either the RFC 7748 result or INVALID_KEY.
        if (outcome.ok) expect(toHex(outcome.value), label).toBe(t.shared);
        else expect(outcome.code, label).toBe(ProtocolErrorCode.InvalidKey);
      }
    }
    expect(tests.length).toBe(518);
    expect(rejected).toBeGreaterThanOrEqual(30);
  });

  it('mlkem_1024_test.json: ML-KEM-1024 key generation from seed and decapsulation', async () => {
    const tests = cases(mlkem, (g) => g.parameterSet === 'ML-KEM-1024');
    for (const t of tests) {
      const label = `tcId ${t.tcId} ${t.comment ?? ''}`;
      const run = async (): Promise<Uint8Array> => {
        const keyPair = await provider.mlkem1024GenerateKeyPair(fromHex(t.seed));
        if (t.ek !== undefined) expect(toHex(keyPair.publicKey), label).toBe(t.ek);
        return provider.mlkem1024Decapsulate(fromHex(t.c), keyPair.privateKey);
      };
      if (t.result === 'valid') {
        expect(toHex(await run()), label).toBe(t.K);
      } else {
        // Invalid cases have a seed or ciphertext of the wrong length.
        expect(await rejectionCode(run()), label).toBe(ProtocolErrorCode.InvalidArgument);
      }
    }
    expect(tests.length).toBe(193);
  });

  it('mlkem_1024_encaps_test.json: ML-KEM-1024 encapsulation and the FIPS 203 §7.2 key check', async () => {
    const tests = cases(mlkemEncaps, (g) => g.parameterSet === 'ML-KEM-1024');
    let modulusFailures = 0;
    for (const t of tests) {
      const label = `tcId ${t.tcId} ${t.comment ?? ''}`;
      const ek = fromHex(t.ek);
      if (t.result === 'valid') {
        // Encaps with the vector's m goes through the same checks as mlkem1024Encapsulate (FIPS 203 §6.2).
        const fixed = await provider.mlkem1024EncapsulateWithRandomness(ek, fromHex(t.m));
        expect(toHex(fixed.ciphertext), label).toBe(t.c);
        expect(toHex(fixed.sharedSecret), label).toBe(t.K);
        expect((await provider.mlkem1024Encapsulate(ek)).ciphertext.length, label).toBe(1568);
      } else {
        // Unreduced coefficients (the modulus check) and wrong lengths are both bad keys.
        expect(await rejectionCode(provider.mlkem1024Encapsulate(ek)), label).toBe(ProtocolErrorCode.InvalidKey);
        expect(await rejectionCode(provider.mlkem1024EncapsulateWithRandomness(ek, fromHex(t.m))), label).toBe(
          ProtocolErrorCode.InvalidKey,
        );
        if (ek.length === 1568) modulusFailures++;
      }
    }
    expect(tests.length).toBe(269);
    expect(modulusFailures).toBe(116);
  });
});
