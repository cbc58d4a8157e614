/**
 * The node:crypto behaviour NodeCryptoProvider relies on. Its raw-key import passes Node a private JWK with a
 * placeholder `x` (see node-provider.ts): if a future Node starts using that `x`, these tests fail loudly.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { ED25519_TORSION_SUBGROUP, ed25519, x25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../../src/crypto/bytes.js';
import { nodeProvider as node } from './providers.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const PLACEHOLDER_X = b64(new Uint8Array(32));

describe('NodeCryptoProvider raw-key import', () => {
  it('relies on Node deriving the public key from d and ignoring the x of a private JWK', () => {
    for (const crv of ['X25519', 'Ed25519'] as const) {
      const reference = crv === 'X25519' ? x25519 : ed25519;
      for (let i = 0; i < 50; i++) {
        const d = node.randomBytes(32);
        for (const x of [PLACEHOLDER_X, b64(node.randomBytes(32)), '']) {
          const key = createPrivateKey({ key: { kty: 'OKP', crv, d: b64(d), x }, format: 'jwk' });
          expect(createPublicKey(key).export({ format: 'jwk' }).x).toBe(b64(reference.getPublicKey(d)));
        }
      }
    }
  });

  it('computes X25519 like @noble for many random raw keys', async () => {
    for (let i = 0; i < 300; i++) {
      const [ours, theirs] = [node.randomBytes(32), node.randomBytes(32)];
      const theirPublic = x25519.getPublicKey(theirs);
      expect(toHex(await node.x25519(ours, theirPublic))).toBe(toHex(x25519.getSharedSecret(ours, theirPublic)));
    }
  });

  it('signs like @noble for many random Ed25519 seeds', async () => {
    for (let i = 0; i < 200; i++) {
      const [seed, message] = [node.randomBytes(32), node.randomBytes(i)];
      expect(toHex(await node.ed25519Sign(seed, message))).toBe(toHex(ed25519.sign(message, seed)));
    }
  });

  it('rejects small-order Ed25519 keys that OpenSSL by itself accepts', async () => {
    // With A and R of small order and S = 0, OpenSSL's cofactorless SB = R + kA holds whenever kA = R: for some pairs
    // that is true for every message. We reject every small-order key, canonical or not (y = p, p + 1), as noble does.
    const p = 2n ** 255n - 19n;
    const le = (n: bigint): string =>
      toHex(Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n)));
    const keys = [...ED25519_TORSION_SUBGROUP, le(p), le(p + 1n), le(p + 1n | (1n << 255n))];
    const message = fromHex('616263');
    let acceptedByOpenSsl = 0;
    for (const a of keys) {
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(fromHex(a)) }, format: 'jwk' });
      for (const r of ED25519_TORSION_SUBGROUP) {
        const signature = concatBytes(fromHex(r), new Uint8Array(32));
        if (verify(null, message, publicKey, signature)) acceptedByOpenSsl++;
        expect(await node.ed25519Verify(fromHex(a), message, signature), `A=${a} R=${r}`).toBe(false);
      }
    }
    expect(acceptedByOpenSsl).toBeGreaterThan(0);
  });

  it('still signs with the real public key: a signature verifies under the key Node exports', async () => {
    const keyPair = await node.ed25519GenerateKeyPair();
    const message = fromHex('00ff');
    const signature = await node.ed25519Sign(keyPair.privateKey, message);
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64(keyPair.publicKey) };
    expect(verify(null, message, createPublicKey({ key: jwk, format: 'jwk' }), signature)).toBe(true);
    const privateKey = createPrivateKey({ key: { ...jwk, d: b64(keyPair.privateKey) }, format: 'jwk' });
    const direct = sign(null, message, privateKey);
    expect(toHex(signature)).toBe(toHex(direct));
  });

  it('generates many keys without hanging (Node 20 generateKeyPairSync + JWK export deadlock)', async () => {
    // The provider no longer uses generateKeyPairSync, whose JWK export can deadlock under GC on Node 20.20; this
    // loop (garbage-heavy, like the benchmark that found it) would hang again if it came back.
    const provider = node;
    let last = await provider.x25519GenerateKeyPair();
    for (let i = 0; i < 40_000; i++) {
      last = await provider.x25519GenerateKeyPair();
      await provider.ed25519GenerateKeyPair();
    }
    expect(Array.from(last.publicKey)).toEqual(Array.from(x25519.getPublicKey(last.privateKey)));
  });
});
