/**
 * ECVRF-EDWARDS25519-SHA512-TAI (src/transparency/vrf.ts): RFC 9381 Appendix B.3 on both providers, intermediate
 * values included; proofs that must not verify; and random round trips on which both providers agree.
 */
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import {
  ecvrfEncodeToCurve,
  ecvrfNonceGeneration,
  VRF_OUTPUT_LENGTH,
  VRF_PROOF_LENGTH,
  vrfGenerateKeyPair,
  vrfOutput32,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerify,
} from '../../src/transparency/vrf.js';
import { flipBit, readVectors, rejectionCode } from '../crypto/providers.js';
import { codeOf, nodeProvider as node, providers, webProvider as web } from '../helpers.js';

interface VrfCase {
  readonly name: string;
  readonly sk: string;
  readonly pk: string;
  readonly alpha: string;
  readonly x: string;
  readonly ctr: number;
  readonly h: string;
  readonly kString: string;
  readonly k: string;
  readonly u: string;
  readonly v: string;
  readonly pi: string;
  readonly beta: string;
}

const { cases } = readVectors<{ cases: readonly VrfCase[] }>('rfc9381-ecvrf-edwards25519-sha512-tai.json');
const { Point } = ed25519;
const q = Point.Fn.ORDER;

function vector(index: number): VrfCase {
  const c = cases[index];
  if (c === undefined) throw new Error(`no vector ${index}`);
  return c;
}

/** RFC 9381 §5.4.1.1 step 5b for this suite (§5.5), computed with @noble/hashes, without our code. */
function tryAndIncrementHash(pk: Uint8Array, alpha: Uint8Array, ctr: number): Uint8Array {
  return sha512(concatBytes(Uint8Array.of(0x03, 0x01), pk, alpha, Uint8Array.of(ctr, 0x00)));
}

function decodes(bytes: Uint8Array): boolean {
  try {
    Point.fromBytes(bytes, false);
    return true;
  } catch {
    return false;
  }
}

describe('RFC 9381 Appendix B.3 (ECVRF-EDWARDS25519-SHA512-TAI)', () => {
  it('holds Examples 16, 17 and 18, self-consistent with RFC 8032 §5.1.5 and §5.4.2.2', () => {
    expect(cases.map((c) => c.name)).toEqual(['Example 16', 'Example 17', 'Example 18']);
    for (const c of cases) {
      // x is the pruned lower half of SHA-512(SK), and PK = x*B.
      const s = sha512(fromHex(c.sk)).slice(0, 32);
      s[0] = (s[0] as number) & 0xf8;
      s[31] = ((s[31] as number) & 0x7f) | 0x40;
      expect(toHex(s), c.name).toBe(c.x);
      expect(toHex(Point.BASE.multiply(Point.Fn.create(bytesToNumberLE(s))).toBytes()), c.name).toBe(c.pk);
      expect(toHex(numberToBytesLE(bytesToNumberLE(fromHex(c.kString)) % q, 32)), c.name).toBe(c.k);
      // try_and_increment failed on every earlier counter and succeeded on ctr.
      const [pk, alpha] = [fromHex(c.pk), fromHex(c.alpha)];
      for (let ctr = 0; ctr < c.ctr; ctr++) {
        expect(decodes(tryAndIncrementHash(pk, alpha, ctr).subarray(0, 32)), `${c.name} ctr ${ctr}`).toBe(false);
      }
      const candidate = Point.fromBytes(tryAndIncrementHash(pk, alpha, c.ctr).subarray(0, 32), false);
      expect(toHex(candidate.clearCofactor().toBytes()), c.name).toBe(c.h);
    }
  });
});

describe.each(providers)('ECVRF-EDWARDS25519-SHA512-TAI, %s provider', (_name, crypto) => {
  it('derives each example public key from its seed', async () => {
    for (const c of cases) expect(toHex(await vrfPublicKey(crypto, fromHex(c.sk))), c.name).toBe(c.pk);
  });

  it('encodes alpha to the example point H by try-and-increment', async () => {
    for (const c of cases) {
      expect(toHex((await ecvrfEncodeToCurve(crypto, fromHex(c.pk), fromHex(c.alpha))).toBytes()), c.name).toBe(c.h);
    }
  });

  it('generates the example nonce k, and U = k*B and V = k*H', async () => {
    for (const c of cases) {
      const k = await ecvrfNonceGeneration(crypto, fromHex(c.sk), fromHex(c.h));
      expect(toHex(numberToBytesLE(k, 32)), c.name).toBe(c.k);
      expect(toHex(Point.BASE.multiply(k).toBytes()), c.name).toBe(c.u);
      expect(toHex(Point.fromHex(c.h).multiply(k).toBytes()), c.name).toBe(c.v);
    }
  });

  it('proves each example: the same pi, and proof_to_hash gives beta', async () => {
    for (const c of cases) {
      const pi = await vrfProve(crypto, fromHex(c.sk), fromHex(c.alpha));
      expect(toHex(pi), c.name).toBe(c.pi);
      expect(toHex(await vrfProofToHash(crypto, pi)), c.name).toBe(c.beta);
    }
  });

  it('verifies each example proof and returns its beta', async () => {
    for (const c of cases) {
      expect(toHex(await vrfVerify(crypto, fromHex(c.pk), fromHex(c.alpha), fromHex(c.pi))), c.name).toBe(c.beta);
    }
  });

  it('gives key transparency the first 32 bytes of beta', () => {
    const beta = fromHex(vector(0).beta);
    expect(toHex(vrfOutput32(beta))).toBe(vector(0).beta.slice(0, 64));
  });

  describe('rejects with INVALID_PROOF', () => {
    const c = vector(1);
    const [pk, alpha, pi] = [fromHex(c.pk), fromHex(c.alpha), fromHex(c.pi)];
    const verify = (key: Uint8Array, input: Uint8Array, proof: Uint8Array) =>
      rejectionCode(vrfVerify(crypto, key, input, proof));

    // Gamma: low bit, a middle bit, the sign bit of x; c: first, middle, last; s: first, middle, the top bit (s >= q).
    it.each([
      ['Gamma', [0, 130, 255]],
      ['c', [256, 320, 383]],
      ['s', [384, 500, 639]],
    ] as const)('a proof with a flipped bit in %s', async (_part, bits) => {
      for (const bit of bits) {
        expect(await verify(pk, alpha, flipBit(pi, bit)), `bit ${bit}`).toBe(ProtocolErrorCode.InvalidProof);
      }
    });

    it('a proof checked against another alpha', async () => {
      expect(await verify(pk, Uint8Array.of(0x73), pi)).toBe(ProtocolErrorCode.InvalidProof);
      expect(await verify(pk, new Uint8Array(0), pi)).toBe(ProtocolErrorCode.InvalidProof);
    });

    it('a proof checked against another public key', async () => {
      expect(await verify(fromHex(vector(2).pk), alpha, pi)).toBe(ProtocolErrorCode.InvalidProof);
    });

    it('every small-order public key (§5.4.5), even with a proof that passes the equations', async () => {
      for (const small of ED25519_TORSION_SUBGROUP) {
        expect(await verify(fromHex(small), alpha, pi), small).toBe(ProtocolErrorCode.InvalidProof);
      }
      // With Y the identity and Gamma the identity, U = s*B and V = s*H for any s: without validate_key this "proof"
      // verifies, for a beta fixed in advance. The challenge is §5.4.3 computed with @noble/hashes.
      const identity = Point.ZERO.toBytes();
      const h = await ecvrfEncodeToCurve(crypto, identity, alpha);
      const s = 12345n;
      const points = [Point.ZERO, h, Point.ZERO, Point.BASE.multiply(s), h.multiply(s)].map((p) => p.toBytes());
      const cString = sha512(concatBytes(Uint8Array.of(0x03, 0x02), ...points, Uint8Array.of(0x00))).slice(0, 16);
      const forged = concatBytes(identity, cString, numberToBytesLE(s, 32));
      expect(await verify(identity, alpha, forged)).toBe(ProtocolErrorCode.InvalidProof);
    });

    it('a public key that does not decode (y >= p)', async () => {
      const yIsP = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
      expect(await verify(yIsP, alpha, pi)).toBe(ProtocolErrorCode.InvalidProof);
    });

    it('a proof whose s is not below q, though s - q would verify', async () => {
      const s = bytesToNumberLE(pi.subarray(48));
      const malleated = concatBytes(pi.subarray(0, 48), numberToBytesLE(s + q, 32));
      expect(await verify(pk, alpha, malleated)).toBe(ProtocolErrorCode.InvalidProof);
      expect(await rejectionCode(vrfProofToHash(crypto, malleated))).toBe(ProtocolErrorCode.InvalidProof);
    });

    it('a proof whose Gamma does not decode', async () => {
      const bad = pi.slice();
      bad.set(fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), 0);
      expect(await verify(pk, alpha, bad)).toBe(ProtocolErrorCode.InvalidProof);
      expect(await rejectionCode(vrfProofToHash(crypto, bad))).toBe(ProtocolErrorCode.InvalidProof);
    });
  });

  it('rejects inputs of the wrong length with INVALID_ARGUMENT', async () => {
    const c = vector(0);
    const [sk, pk, pi] = [fromHex(c.sk), fromHex(c.pk), fromHex(c.pi)];
    const alpha = new Uint8Array(0);
    const codes = [
      await rejectionCode(vrfPublicKey(crypto, sk.subarray(1))),
      await rejectionCode(vrfProve(crypto, concatBytes(sk, Uint8Array.of(0)), alpha)),
      await rejectionCode(vrfVerify(crypto, pk.subarray(1), alpha, pi)),
      await rejectionCode(vrfVerify(crypto, pk, alpha, pi.subarray(1))),
      await rejectionCode(vrfVerify(crypto, pk, alpha, concatBytes(pi, Uint8Array.of(0)))),
      await rejectionCode(vrfProofToHash(crypto, pi.subarray(0, VRF_PROOF_LENGTH - 1))),
      codeOf(() => vrfOutput32(new Uint8Array(VRF_OUTPUT_LENGTH - 1))),
    ];
    expect(codes).toEqual(Array(codes.length).fill(ProtocolErrorCode.InvalidArgument));
  });

  it('uses Ed25519 key pairs: the provider key pair and vrfGenerateKeyPair agree with RFC 8032', async () => {
    const ed = await crypto.ed25519GenerateKeyPair();
    expect(toHex(await vrfPublicKey(crypto, ed.privateKey))).toBe(toHex(ed.publicKey));
    const fresh = await vrfGenerateKeyPair(crypto);
    expect(toHex(fresh.publicKey)).toBe(toHex(ed25519.getPublicKey(fresh.privateKey)));
    const pi = await vrfProve(crypto, fresh.privateKey, Uint8Array.of(1, 2, 3));
    const beta = await vrfProofToHash(crypto, pi);
    expect(toHex(await vrfVerify(crypto, fresh.publicKey, Uint8Array.of(1, 2, 3), pi))).toBe(toHex(beta));
  });
});

describe('ECVRF on random seeds and inputs', () => {
  it('verifies what it proves, and the node and web providers agree byte for byte', async () => {
    const seeds = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const alphas = fc.uint8Array({ maxLength: 100 });
    await fc.assert(
      fc.asyncProperty(seeds, alphas, async (seed, alpha) => {
        const pk = await vrfPublicKey(node, seed);
        const [piNode, piWeb] = [await vrfProve(node, seed, alpha), await vrfProve(web, seed, alpha)];
        expect(toHex(pk)).toBe(toHex(ed25519.getPublicKey(seed)));
        expect(toHex(piWeb)).toBe(toHex(piNode));
        const beta = toHex(await vrfProofToHash(node, piNode));
        expect(toHex(await vrfProofToHash(web, piNode))).toBe(beta);
        expect(toHex(await vrfVerify(node, pk, alpha, piWeb))).toBe(beta);
        expect(toHex(await vrfVerify(web, pk, alpha, piNode))).toBe(beta);
      }),
      { numRuns: 25 },
    );
  });
});
