/** Properties every CryptoProvider output has, whatever the primitive: shapes, lengths, fresh randomness. */
import { describe, expect, it } from 'vitest';
import type { KeyPair } from '../../src/crypto/provider.js';
import { providers } from './providers.js';

/** A plain Uint8Array (not a Buffer) over memory of its own, not a view into a shared pool. */
function expectOwnPlainBytes(bytes: Uint8Array, length: number): void {
  expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  expect(bytes.length).toBe(length);
  expect(bytes.buffer.byteLength).toBe(length);
}

function expectKeyPair(keyPair: KeyPair, publicLength: number, privateLength: number): void {
  expectOwnPlainBytes(keyPair.publicKey, publicLength);
  expectOwnPlainBytes(keyPair.privateKey, privateLength);
}

describe.each(providers)('provider contract, %s provider', (name, provider) => {
  it(`is named ${name}`, () => {
    expect(provider.name).toBe(name);
  });

  it('returns plain Uint8Arrays of the documented lengths', async () => {
    const data = provider.randomBytes(100);
    const key = provider.randomBytes(32);
    const iv = provider.randomBytes(12);
    expectOwnPlainBytes(data, 100);
    expectOwnPlainBytes(await provider.sha256(data), 32);
    expectOwnPlainBytes(await provider.sha512(data), 64);
    expectOwnPlainBytes(await provider.hmacSha256(key, data), 32);
    expectOwnPlainBytes(await provider.hkdfSha256(key, data, data, 42), 42);
    expectOwnPlainBytes(await provider.hkdfSha256(key, data, data, 0), 0);
    const sealed = await provider.aesGcmEncrypt(key, iv, data, data);
    expectOwnPlainBytes(sealed, 116);
    expectOwnPlainBytes(await provider.aesGcmDecrypt(key, iv, sealed, data), 100);

    const dh = await provider.x25519GenerateKeyPair();
    expectKeyPair(dh, 32, 32);
    expectOwnPlainBytes(await provider.x25519(dh.privateKey, (await provider.x25519GenerateKeyPair()).publicKey), 32);
    const signing = await provider.ed25519GenerateKeyPair();
    expectKeyPair(signing, 32, 32);
    expectOwnPlainBytes(await provider.ed25519Sign(signing.privateKey, data), 64);

    const kem = await provider.mlkem1024GenerateKeyPair();
    expect(kem.publicKey.length).toBe(1568);
    expect(kem.privateKey.length).toBe(3168);
    const { ciphertext, sharedSecret } = await provider.mlkem1024Encapsulate(kem.publicKey);
    expect(ciphertext.length).toBe(1568);
    expectOwnPlainBytes(sharedSecret, 32);
    expectOwnPlainBytes(await provider.mlkem1024Decapsulate(ciphertext, kem.privateKey), 32);
  });

  it('draws fresh randomness for random bytes and every generated key', async () => {
    expect(provider.randomBytes(0).length).toBe(0);
    expect(provider.randomBytes(100_000).length).toBe(100_000); // beyond getRandomValues' 65536-byte limit
    const seen = new Set<string>();
    const remember = (bytes: Uint8Array): void => {
      seen.add(Buffer.from(bytes).toString('hex'));
    };
    for (let i = 0; i < 4; i++) {
      remember(provider.randomBytes(32));
      remember((await provider.x25519GenerateKeyPair()).privateKey);
      remember((await provider.ed25519GenerateKeyPair()).privateKey);
      remember((await provider.mlkem1024GenerateKeyPair()).privateKey);
    }
    expect(seen.size).toBe(16);
    const tail = provider.randomBytes(100_000).subarray(65_536);
    expect(tail.some((b) => b !== 0)).toBe(true);
  });

  it('leaves its inputs untouched', async () => {
    const key = provider.randomBytes(32);
    const iv = provider.randomBytes(12);
    const data = provider.randomBytes(50);
    const before = [key, iv, data].map((b) => b.slice());
    const sealed = await provider.aesGcmEncrypt(key, iv, data, data);
    const sealedBefore = sealed.slice();
    await provider.aesGcmDecrypt(key, iv, sealed, data);
    await provider.aesGcmDecrypt(key, iv, sealed, iv).catch(() => undefined);
    await provider.x25519(key, (await provider.x25519GenerateKeyPair()).publicKey);
    await provider.ed25519Sign(key, data);
    await provider.hkdfSha256(key, iv, data, 64);
    expect([key, iv, data]).toEqual(before);
    expect(sealed).toEqual(sealedBefore);
  });
});
