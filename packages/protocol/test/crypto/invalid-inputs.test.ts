/**
 * What each provider does with inputs it must refuse, by ProtocolError code:
 * - INVALID_KEY: an X25519 / Ed25519 / ML-KEM key of the wrong length or failing validation, an all-zero X25519 output;
 * - INVALID_ARGUMENT: any other argument of the wrong length or range;
 * - BAD_MAC: an AES-GCM ciphertext that does not authenticate (any flipped bit, a wrong key, too short for a tag);
 * and ed25519Verify answers false rather than throwing.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/crypto/bytes.js';
import { ProtocolErrorCode } from '../../src/errors.js';
import { flipBit, providers, rejectionCode } from './providers.js';

const { BadMac, InvalidArgument, InvalidKey } = ProtocolErrorCode;
const p = 2n ** 255n - 19n;
const littleEndian = (n: bigint): Uint8Array =>
  Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));

/**
 * RFC 7748 §6.1 low-order u-coordinates: 0, 1, the two points of order 8, p - 1, and the non-canonical p and p + 1;
 * each also with the ignored top bit set (RFC 7748 §5 masks it).
 */
const LOW_ORDER_U = [
  0n,
  1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  p - 1n,
  p,
  p + 1n,
].flatMap((u) => [littleEndian(u), littleEndian(u | (1n << 255n))]);

describe.each(providers)('invalid inputs, %s provider', (_name, provider) => {
  const key = provider.randomBytes(32);
  const iv = provider.randomBytes(12);
  const plaintext = provider.randomBytes(16);
  const aad = provider.randomBytes(8);

  it('rejects an AES-GCM ciphertext with any one bit flipped in the ciphertext or the tag', async () => {
    const sealed = await provider.aesGcmEncrypt(key, iv, plaintext, aad);
    expect(sealed.length).toBe(32);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const tampered = flipBit(sealed, bit);
      expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, tampered, aad)), `bit ${bit}`).toBe(BadMac);
    }
  });

  it('rejects an AES-GCM ciphertext when any one bit of the associated data or the IV differs', async () => {
    const sealed = await provider.aesGcmEncrypt(key, iv, plaintext, aad);
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const tampered = flipBit(aad, bit);
      expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, sealed, tampered)), `aad bit ${bit}`).toBe(BadMac);
    }
    for (let bit = 0; bit < iv.length * 8; bit++) {
      const tampered = flipBit(iv, bit);
      expect(await rejectionCode(provider.aesGcmDecrypt(key, tampered, sealed, aad)), `iv bit ${bit}`).toBe(BadMac);
    }
  });

  it('rejects an AES-GCM ciphertext under another key, with the AAD dropped, or too short to hold a tag', async () => {
    const sealed = await provider.aesGcmEncrypt(key, iv, plaintext, aad);
    expect(await rejectionCode(provider.aesGcmDecrypt(provider.randomBytes(32), iv, sealed, aad))).toBe(BadMac);
    expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, sealed, new Uint8Array(0)))).toBe(BadMac);
    for (const length of [0, 1, 15]) {
      expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, sealed.subarray(0, length), aad))).toBe(BadMac);
    }
    const empty = await provider.aesGcmEncrypt(key, iv, new Uint8Array(0), aad);
    expect(await rejectionCode(provider.aesGcmDecrypt(key, iv, flipBit(empty, 0), aad))).toBe(BadMac);
  });

  it('refuses AES keys and IVs of the wrong length with INVALID_ARGUMENT', async () => {
    for (const badKey of [new Uint8Array(16), new Uint8Array(24), new Uint8Array(33)]) {
      expect(await rejectionCode(provider.aesGcmEncrypt(badKey, iv, plaintext, aad))).toBe(InvalidArgument);
      expect(await rejectionCode(provider.aesGcmDecrypt(badKey, iv, new Uint8Array(32), aad))).toBe(InvalidArgument);
    }
    for (const badIv of [new Uint8Array(0), new Uint8Array(8), new Uint8Array(16)]) {
      expect(await rejectionCode(provider.aesGcmEncrypt(key, badIv, plaintext, aad))).toBe(InvalidArgument);
      expect(await rejectionCode(provider.aesGcmDecrypt(key, badIv, new Uint8Array(32), aad))).toBe(InvalidArgument);
    }
  });

  it('rejects every low-order X25519 public key with INVALID_KEY (RFC 7748 §6.1)', async () => {
    expect(LOW_ORDER_U.length).toBe(14);
    for (const u of LOW_ORDER_U) {
      expect(await rejectionCode(provider.x25519(provider.randomBytes(32), u))).toBe(InvalidKey);
    }
  });

  it('refuses X25519 keys of the wrong length with INVALID_KEY', async () => {
    const good = (await provider.x25519GenerateKeyPair()).publicKey;
    for (const length of [0, 31, 33, 64]) {
      expect(await rejectionCode(provider.x25519(new Uint8Array(length).fill(7), good))).toBe(InvalidKey);
      expect(await rejectionCode(provider.x25519(key, new Uint8Array(length).fill(7)))).toBe(InvalidKey);
    }
  });

  it('refuses Ed25519 private keys of the wrong length with INVALID_KEY', async () => {
    for (const length of [0, 31, 33, 64]) {
      expect(await rejectionCode(provider.ed25519Sign(new Uint8Array(length), plaintext))).toBe(InvalidKey);
    }
  });

  it('answers false, without throwing, for malformed Ed25519 keys and signatures', async () => {
    const keyPair = await provider.ed25519GenerateKeyPair();
    const signature = await provider.ed25519Sign(keyPair.privateKey, plaintext);
    expect(await provider.ed25519Verify(keyPair.publicKey, plaintext, signature)).toBe(true);
    const notOnCurve = fromHex('0200000000000000000000000000000000000000000000000000000000000000');
    const garbage: Array<[Uint8Array, Uint8Array]> = [
      [keyPair.publicKey.subarray(0, 31), signature],
      [new Uint8Array(33), signature],
      [notOnCurve, signature],
      [keyPair.publicKey, signature.subarray(0, 63)],
      [keyPair.publicKey, new Uint8Array(65)],
      [keyPair.publicKey, new Uint8Array(64)],
      [keyPair.publicKey, new Uint8Array(64).fill(0xff)],
    ];
    for (const [publicKey, sig] of garbage) {
      expect(await provider.ed25519Verify(publicKey, plaintext, sig)).toBe(false);
    }
    const notBytes = 'not bytes' as unknown as Uint8Array;
    expect(await provider.ed25519Verify(notBytes, plaintext, signature)).toBe(false);
    expect(await provider.ed25519Verify(keyPair.publicKey, notBytes, signature)).toBe(false);
    expect(await provider.ed25519Verify(keyPair.publicKey, plaintext, notBytes)).toBe(false);
  });

  it('rejects a non-canonical S (S + L) although the equation still holds', async () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const keyPair = await provider.ed25519GenerateKeyPair();
    const signature = await provider.ed25519Sign(keyPair.privateKey, plaintext);
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i] as number);
    const malleated = signature.slice();
    malleated.set(littleEndian(s + L), 32);
    expect(await provider.ed25519Verify(keyPair.publicKey, plaintext, malleated)).toBe(false);
  });

  it('checks ML-KEM-1024 key, ciphertext and seed lengths', async () => {
    const keyPair = await provider.mlkem1024GenerateKeyPair();
    const { ciphertext } = await provider.mlkem1024Encapsulate(keyPair.publicKey);
    for (const length of [0, 1567, 1569]) {
      expect(await rejectionCode(provider.mlkem1024Encapsulate(new Uint8Array(length)))).toBe(InvalidKey);
      expect(await rejectionCode(provider.mlkem1024Decapsulate(new Uint8Array(length), keyPair.privateKey))).toBe(
        InvalidArgument,
      );
    }
    for (const length of [0, 3167, 3169]) {
      expect(await rejectionCode(provider.mlkem1024Decapsulate(ciphertext, new Uint8Array(length)))).toBe(InvalidKey);
    }
    for (const length of [0, 32, 63, 65]) {
      expect(await rejectionCode(provider.mlkem1024GenerateKeyPair(new Uint8Array(length)))).toBe(InvalidArgument);
    }
    const m = new Uint8Array(31);
    const fixed = provider.mlkem1024EncapsulateWithRandomness(keyPair.publicKey, m);
    expect(await rejectionCode(fixed)).toBe(InvalidArgument);
  });

  it('rejects an ML-KEM-1024 encapsulation key with an unreduced coefficient (FIPS 203 §7.2)', async () => {
    const { publicKey } = await provider.mlkem1024GenerateKeyPair();
    const bad = publicKey.slice();
    // ByteDecode12: the first coefficient is b0 | (b1 & 0x0f) << 8, here 0xfff = 4095 >= q = 3329.
    bad[0] = 0xff;
    bad[1] = (bad[1] as number) | 0x0f;
    expect(await rejectionCode(provider.mlkem1024Encapsulate(bad))).toBe(InvalidKey);
  });

  it('rejects an ML-KEM-1024 decapsulation key whose embedded H(ek) is wrong (FIPS 203 §7.3)', async () => {
    const keyPair = await provider.mlkem1024GenerateKeyPair();
    const { ciphertext } = await provider.mlkem1024Encapsulate(keyPair.publicKey);
    const tampered = flipBit(keyPair.privateKey, (3168 - 64) * 8); // first byte of h = H(ek)
    expect(await rejectionCode(provider.mlkem1024Decapsulate(ciphertext, tampered))).toBe(InvalidKey);
  });

  it('rejects a tampered ML-KEM-1024 ciphertext implicitly, with an unrelated secret', async () => {
    const keyPair = await provider.mlkem1024GenerateKeyPair();
    const { ciphertext, sharedSecret } = await provider.mlkem1024Encapsulate(keyPair.publicKey);
    const other = await provider.mlkem1024Decapsulate(flipBit(ciphertext, 5), keyPair.privateKey);
    expect(other.length).toBe(32);
    expect(other).not.toEqual(sharedSecret);
  });

  it('refuses HKDF output lengths and info beyond the limits with INVALID_ARGUMENT', async () => {
    const ikm = provider.randomBytes(32);
    const none = new Uint8Array(0);
    for (const length of [-1, 1.5, 8161, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await rejectionCode(provider.hkdfSha256(ikm, none, none, length))).toBe(InvalidArgument);
    }
    expect((await provider.hkdfSha256(ikm, none, new Uint8Array(1024), 32)).length).toBe(32);
    expect(await rejectionCode(provider.hkdfSha256(ikm, none, new Uint8Array(1025), 32))).toBe(InvalidArgument);
  });

  it('refuses negative and fractional random byte counts with INVALID_ARGUMENT', async () => {
    for (const length of [-1, 0.5, Number.NaN]) {
      expect(await rejectionCode(Promise.resolve().then(() => provider.randomBytes(length)))).toBe(InvalidArgument);
    }
  });
});
