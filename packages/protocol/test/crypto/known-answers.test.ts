/** The published known-answer vectors of each primitive (test/vectors/, sources in its README) on both providers. */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import { providers, readVectors } from './providers.js';

interface HashCase {
  readonly name: string;
  readonly message: string;
  readonly repeat?: number;
  readonly digest: string;
}
interface HmacCase {
  readonly name: string;
  readonly key: string;
  readonly data: string;
  readonly hmacSha256: string;
  readonly truncatedTo?: number;
}
interface HkdfCase {
  readonly name: string;
  readonly ikm: string;
  readonly salt: string;
  readonly info: string;
  readonly length: number;
  readonly prk: string;
  readonly okm: string;
}
interface X25519Vectors {
  readonly scalarMult: ReadonlyArray<{ name: string; scalar: string; u: string; output: string }>;
  readonly iterated: { start: string; after: ReadonlyArray<{ iterations: number; k: string }> };
  readonly diffieHellman: Record<
    'basePoint' | 'alicePrivate' | 'alicePublic' | 'bobPrivate' | 'bobPublic' | 'shared',
    string
  >;
}
interface Ed25519Case {
  readonly name: string;
  readonly secretKey: string;
  readonly publicKey: string;
  readonly message: string;
  readonly signature: string;
}

const sha = readVectors<{ sha256: readonly HashCase[]; sha512: readonly HashCase[] }>('fips-180-sha.json');
const hmac = readVectors<{ cases: readonly HmacCase[] }>('rfc-4231-hmac-sha256.json');
const hkdf = readVectors<{ cases: readonly HkdfCase[] }>('rfc-5869-hkdf-sha256.json');
const x25519 = readVectors<X25519Vectors>('rfc-7748-x25519.json');
const ed25519 = readVectors<{ cases: readonly Ed25519Case[] }>('rfc-8032-ed25519.json');

function message(c: HashCase): Uint8Array {
  const unit = fromHex(c.message);
  const out = new Uint8Array(unit.length * (c.repeat ?? 1));
  for (let i = 0; i < out.length; i += unit.length) out.set(unit, i);
  return out;
}

describe.each(providers)('known-answer vectors, %s provider', (_name, provider) => {
  it('computes the FIPS 180 SHA-256 and SHA-512 examples', async () => {
    for (const c of sha.sha256) expect(toHex(await provider.sha256(message(c))), c.name).toBe(c.digest);
    for (const c of sha.sha512) expect(toHex(await provider.sha512(message(c))), c.name).toBe(c.digest);
    expect(sha.sha256.length + sha.sha512.length).toBe(8);
  });

  it('computes the RFC 4231 HMAC-SHA-256 test cases', async () => {
    for (const c of hmac.cases) {
      const tag = await provider.hmacSha256(fromHex(c.key), fromHex(c.data));
      expect(toHex(tag.subarray(0, c.truncatedTo ?? tag.length)), c.name).toBe(c.hmacSha256);
    }
    expect(hmac.cases.length).toBe(7);
  });

  it('computes the RFC 5869 HKDF-SHA256 test cases, extract step included', async () => {
    for (const c of hkdf.cases) {
      const [ikm, salt, info] = [fromHex(c.ikm), fromHex(c.salt), fromHex(c.info)];
      // HKDF-Extract is HMAC(salt, IKM); an empty salt is HashLen zeros, which HMAC's key padding makes the same.
      expect(toHex(await provider.hmacSha256(salt, ikm)), c.name).toBe(c.prk);
      expect(toHex(await provider.hkdfSha256(ikm, salt, info, c.length)), c.name).toBe(c.okm);
    }
    expect(hkdf.cases.length).toBe(3);
  });

  it('computes the RFC 7748 §5.2 X25519 scalar multiplications', async () => {
    for (const c of x25519.scalarMult) {
      expect(toHex(await provider.x25519(fromHex(c.scalar), fromHex(c.u))), c.name).toBe(c.output);
    }
    // §5.2 iterated test: k, u := X25519(k, u), k.
    let k = fromHex(x25519.iterated.start);
    let u = fromHex(x25519.iterated.start);
    let done = 0;
    for (const { iterations, k: expected } of x25519.iterated.after) {
      for (; done < iterations; done++) [k, u] = [await provider.x25519(k, u), k];
      expect(toHex(k), `after ${iterations} iterations`).toBe(expected);
    }
    expect(done).toBe(1000);
  });

  it('derives the RFC 7748 §6.1 Alice and Bob keys and their shared secret', async () => {
    const v = x25519.diffieHellman;
    const base = fromHex(v.basePoint);
    expect(toHex(await provider.x25519(fromHex(v.alicePrivate), base))).toBe(v.alicePublic);
    expect(toHex(await provider.x25519(fromHex(v.bobPrivate), base))).toBe(v.bobPublic);
    expect(toHex(await provider.x25519(fromHex(v.alicePrivate), fromHex(v.bobPublic)))).toBe(v.shared);
    expect(toHex(await provider.x25519(fromHex(v.bobPrivate), fromHex(v.alicePublic)))).toBe(v.shared);
  });

  it('signs and verifies the RFC 8032 §7.1 Ed25519 tests', async () => {
    for (const c of ed25519.cases) {
      const [publicKey, msg, signature] = [fromHex(c.publicKey), fromHex(c.message), fromHex(c.signature)];
      expect(toHex(await provider.ed25519Sign(fromHex(c.secretKey), msg)), c.name).toBe(c.signature);
      expect(await provider.ed25519Verify(publicKey, msg, signature), c.name).toBe(true);
    }
    expect(ed25519.cases.length).toBe(4);
  });
});
