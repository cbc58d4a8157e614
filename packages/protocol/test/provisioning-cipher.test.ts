/** The provisioning cipher: RFC 9180 known answers for our suite, round trips, tampering, link codes. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../src/crypto/bytes.js';
import { ProtocolError, ProtocolErrorCode } from '../src/errors.js';
import {
  LINK_CODE_LENGTH,
  MAX_PROVISIONING_PLAINTEXT,
  PROVISIONING_CIPHER_VERSION,
  PROVISIONING_INFO,
  decodeLinkCode,
  encodeLinkCode,
  generateProvisioningKeyPair,
  hpkeOpenBase,
  hpkeSealBase,
  importProvisioningKeyPair,
  keyPairOf,
  openProvisioningMessage,
  provisioningInfo,
  provisioningSuite,
  sealProvisioningMessage,
} from '../src/provisioning-cipher.js';
import { MAX_PROVISIONING_BODY_BYTES } from '../src/wire/frames.js';
import { rejectionCode } from './crypto/providers.js';
import { codeOf } from './helpers.js';

interface HpkeVector {
  readonly mode: number;
  readonly kem_id: number;
  readonly kdf_id: number;
  readonly aead_id: number;
  readonly info: string;
  readonly skRm: string;
  readonly skEm: string;
  readonly pkRm: string;
  readonly pkEm: string;
  readonly encryptions: ReadonlyArray<{ readonly aad: string; readonly ct: string; readonly pt: string }>;
  readonly exports: ReadonlyArray<{ readonly exporter_context: string; readonly L: number; readonly exported_value: string }>;
}

const vector = JSON.parse(
  readFileSync(new URL('./vectors/hpke/rfc-9180-x25519-sha256-aes256gcm.json', import.meta.url), 'utf8'),
) as HpkeVector;

/** A provisioning address as the server makes one: 32 random bytes, base64url without padding. */
function randomAddress(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

/** The ProtocolError code `promise` rejects with; the test fails if it resolves (no data may ever come back). */
const rejection = rejectionCode;

describe('RFC 9180 test vectors, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, base mode', () => {
  it('is the entry for exactly our suite', () => {
    expect([vector.mode, vector.kem_id, vector.kdf_id, vector.aead_id]).toEqual([0, 0x20, 0x01, 0x02]);
    expect(vector.encryptions).toHaveLength(257);
    expect(provisioningSuite.kem.id).toBe(0x20);
    expect(provisioningSuite.kdf.id).toBe(0x01);
    expect(provisioningSuite.aead.id).toBe(0x02);
  });

  it('imports skRm and skEm as the key pairs whose public keys are pkRm and pkEm', async () => {
    expect(toHex((await importProvisioningKeyPair(fromHex(vector.skRm))).publicKey)).toBe(vector.pkRm);
    expect(toHex((await importProvisioningKeyPair(fromHex(vector.skEm))).publicKey)).toBe(vector.pkEm);
  });

  it('opens the first encryption single-shot, as openProvisioningMessage does', async () => {
    const recipient = keyPairOf(await importProvisioningKeyPair(fromHex(vector.skRm)));
    const first = vector.encryptions[0];
    if (first === undefined) throw new Error('no encryption');
    // §4.1: for DHKEM, enc = SerializePublicKey(pkE).
    const pt = await hpkeOpenBase(recipient, fromHex(vector.pkEm), fromHex(vector.info), fromHex(first.aad), fromHex(first.ct));
    expect(toHex(pt)).toBe(first.pt);
  });

  it('seals the first encryption byte for byte with the vector ephemeral key', async () => {
    const first = vector.encryptions[0];
    if (first === undefined) throw new Error('no encryption');
    const { enc, ct } = await hpkeSealBase(
      fromHex(vector.pkRm),
      fromHex(vector.info),
      fromHex(first.aad),
      fromHex(first.pt),
      fromHex(vector.skEm),
    );
    expect(toHex(enc)).toBe(vector.pkEm);
    expect(toHex(ct)).toBe(first.ct);
  });

  it('opens all 257 encryptions in sequence and computes the exported values (§5.2, §5.3)', async () => {
    const recipientKey = keyPairOf(await importProvisioningKeyPair(fromHex(vector.skRm)));
    const context = await provisioningSuite.createRecipientContext({
      recipientKey,
      enc: fromHex(vector.pkEm),
      info: fromHex(vector.info),
    });
    for (const [i, e] of vector.encryptions.entries()) {
      expect(toHex(new Uint8Array(await context.open(fromHex(e.ct), fromHex(e.aad)))), `encryption ${i}`).toBe(e.pt);
    }
    for (const x of vector.exports) {
      const value = new Uint8Array(await context.export(fromHex(x.exporter_context), x.L));
      expect(toHex(value)).toBe(x.exported_value);
    }
  });

  it('refuses a vector ciphertext under a different aad or info', async () => {
    const recipient = keyPairOf(await importProvisioningKeyPair(fromHex(vector.skRm)));
    const first = vector.encryptions[0];
    if (first === undefined) throw new Error('no encryption');
    const [enc, info, aad, ct] = [fromHex(vector.pkEm), fromHex(vector.info), fromHex(first.aad), fromHex(first.ct)];
    expect(await rejection(hpkeOpenBase(recipient, enc, info, utf8('Count-1'), ct))).toBe(ProtocolErrorCode.BadMac);
    expect(await rejection(hpkeOpenBase(recipient, enc, utf8('Ode'), aad, ct))).toBe(ProtocolErrorCode.BadMac);
  });
});

describe('provisioning cipher', () => {
  it('round-trips messages of every size up to the limit', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    for (const length of [0, 1, 15, 16, 17, 1000, MAX_PROVISIONING_PLAINTEXT]) {
      const plaintext = globalThis.crypto.getRandomValues(new Uint8Array(length));
      const sealed = await sealProvisioningMessage(keyPair.publicKey, address, plaintext);
      expect(sealed.length).toBe(1 + 32 + length + 16);
      expect(sealed.length).toBeLessThanOrEqual(MAX_PROVISIONING_BODY_BYTES);
      expect(await openProvisioningMessage(keyPair, address, sealed)).toEqual(plaintext);
    }
  });

  it('round-trips arbitrary messages (property)', async () => {
    const keyPair = await generateProvisioningKeyPair();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (plaintext) => {
        const address = randomAddress();
        const sealed = await sealProvisioningMessage(keyPair.publicKey, address, plaintext);
        expect(await openProvisioningMessage(keyPair, address, sealed)).toEqual(plaintext);
      }),
      { numRuns: 50 },
    );
  });

  it('lays out version, enc, then the AES-256-GCM ciphertext with its tag', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('hello'));
    expect(sealed[0]).toBe(PROVISIONING_CIPHER_VERSION);
    expect(sealed.length).toBe(1 + 32 + 5 + 16);
    // The same bytes open through the bare HPKE function with info = label || address and an empty aad.
    const info = provisioningInfo(new Uint8Array(Buffer.from(address, 'base64url')));
    expect(toHex(info.subarray(0, PROVISIONING_INFO.length))).toBe(toHex(utf8('Samizdat provisioning v1')));
    const opened = await hpkeOpenBase(keyPairOf(keyPair), sealed.subarray(1, 33), info, new Uint8Array(0), sealed.subarray(33));
    expect(opened).toEqual(utf8('hello'));
  });

  it('uses a fresh ephemeral key for every message', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const a = await sealProvisioningMessage(keyPair.publicKey, address, utf8('same'));
    const b = await sealProvisioningMessage(keyPair.publicKey, address, utf8('same'));
    expect(toHex(a.subarray(1, 33))).not.toBe(toHex(b.subarray(1, 33)));
  });

  it('never returns data when any byte of the sealed message is altered', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('the identity key and more'));
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = sealed.slice();
        tampered[i] = (tampered[i] as number) ^ mask;
        const code = await rejection(openProvisioningMessage(keyPair, address, tampered));
        expect(
          [ProtocolErrorCode.BadMac, ProtocolErrorCode.UnknownVersion, ProtocolErrorCode.InvalidKey],
          `byte ${i}, mask ${mask}`,
        ).toContain(code);
        if (i > 0) expect(code, `byte ${i}`).toBe(ProtocolErrorCode.BadMac);
      }
    }
  });

  it('rejects truncated, extended and empty messages', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('x'));
    expect(await rejection(openProvisioningMessage(keyPair, address, new Uint8Array(0)))).toBe(ProtocolErrorCode.Decode);
    for (const length of [1, 32, 33, 48]) {
      expect(await rejection(openProvisioningMessage(keyPair, address, sealed.subarray(0, length)))).toBe(
        ProtocolErrorCode.Decode,
      );
    }
    expect(await rejection(openProvisioningMessage(keyPair, address, sealed.subarray(0, sealed.length - 1)))).toBe(
      ProtocolErrorCode.BadMac,
    );
    expect(await rejection(openProvisioningMessage(keyPair, address, concatBytes(sealed, Uint8Array.of(0))))).toBe(
      ProtocolErrorCode.BadMac,
    );
    const tooLong = concatBytes(sealed, new Uint8Array(MAX_PROVISIONING_BODY_BYTES));
    expect(await rejection(openProvisioningMessage(keyPair, address, tooLong))).toBe(ProtocolErrorCode.Decode);
  });

  it('rejects another version before reading anything else', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    for (const version of [0, 2, 255]) {
      const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('x'));
      sealed[0] = version;
      expect(await rejection(openProvisioningMessage(keyPair, address, sealed))).toBe(ProtocolErrorCode.UnknownVersion);
      expect(await rejection(openProvisioningMessage(keyPair, address, Uint8Array.of(version)))).toBe(
        ProtocolErrorCode.UnknownVersion,
      );
    }
  });

  it('does not open at another address', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const sealed = await sealProvisioningMessage(keyPair.publicKey, randomAddress(), utf8('secret'));
    expect(await rejection(openProvisioningMessage(keyPair, randomAddress(), sealed))).toBe(ProtocolErrorCode.BadMac);
  });

  it('does not open with another key pair', async () => {
    const [keyPair, other] = await Promise.all([generateProvisioningKeyPair(), generateProvisioningKeyPair()]);
    const address = randomAddress();
    const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('secret'));
    expect(await rejection(openProvisioningMessage(other, address, sealed))).toBe(ProtocolErrorCode.BadMac);
  });

  it('refuses low-order public keys on both sides (RFC 9180 §7.1.4)', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    // RFC 7748 §5 / Wycheproof: 0 and 1 are points of small order on Curve25519.
    for (const point of [new Uint8Array(32), concatBytes(Uint8Array.of(1), new Uint8Array(31))]) {
      expect(await rejection(sealProvisioningMessage(point, address, utf8('x')))).toBe(ProtocolErrorCode.InvalidKey);
      const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('x'));
      sealed.set(point, 1);
      expect(await rejection(openProvisioningMessage(keyPair, address, sealed))).toBe(ProtocolErrorCode.InvalidKey);
    }
  });

  it('checks its arguments', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const tooBig = new Uint8Array(MAX_PROVISIONING_PLAINTEXT + 1);
    expect(await rejection(sealProvisioningMessage(keyPair.publicKey, address, tooBig))).toBe(
      ProtocolErrorCode.InvalidArgument,
    );
    expect(await rejection(sealProvisioningMessage(new Uint8Array(31), address, utf8('x')))).toBe(
      ProtocolErrorCode.InvalidArgument,
    );
    for (const bad of ['', 'short', `${address}A`, `${address.slice(0, 42)}+`, `${address.slice(0, 42)}B`]) {
      expect(await rejection(sealProvisioningMessage(keyPair.publicKey, bad, utf8('x'))), bad).toBe(
        ProtocolErrorCode.InvalidArgument,
      );
    }
    const sealed = await sealProvisioningMessage(keyPair.publicKey, address, utf8('x'));
    const forged = { publicKey: keyPair.publicKey };
    expect(await rejection(openProvisioningMessage(forged, address, sealed))).toBe(ProtocolErrorCode.InvalidArgument);
  });

  it('keeps the private key out of reach', async () => {
    const keyPair = await generateProvisioningKeyPair();
    expect(Object.keys(keyPair)).toEqual(['publicKey']);
    expect(Object.isFrozen(keyPair)).toBe(true);
    const pair = keyPairOf(keyPair);
    expect(pair.privateKey.extractable).toBe(false);
    await expect(globalThis.crypto.subtle.exportKey('pkcs8', pair.privateKey)).rejects.toThrow();
  });
});

describe('link code', () => {
  const publicKeyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const addressArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url'));

  it('round-trips every address and public key, as 87 base64url characters', () => {
    fc.assert(
      fc.property(addressArb, publicKeyArb, (address, publicKey) => {
        const code = encodeLinkCode({ address, publicKey });
        expect(code).toMatch(/^[A-Za-z0-9_-]{87}$/);
        expect(code.length).toBe(LINK_CODE_LENGTH);
        expect(decodeLinkCode(code)).toEqual({ address, publicKey });
      }),
    );
  });

  it('lays out version, address, public key', () => {
    const address = Buffer.alloc(32, 0xaa).toString('base64url');
    const code = encodeLinkCode({ address, publicKey: new Uint8Array(32).fill(0xbb) });
    expect(toHex(new Uint8Array(Buffer.from(code, 'base64url')))).toBe(`01${'aa'.repeat(32)}${'bb'.repeat(32)}`);
  });

  it('tolerates surrounding whitespace', () => {
    const address = randomAddress();
    const publicKey = new Uint8Array(32).fill(7);
    const code = encodeLinkCode({ address, publicKey });
    for (const text of [` ${code}`, `${code}\n`, `\t ${code} \r\n`]) expect(decodeLinkCode(text)).toEqual({ address, publicKey });
  });

  const code = encodeLinkCode({ address: Buffer.alloc(32, 1).toString('base64url'), publicKey: new Uint8Array(32).fill(2) });
  const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // 65 bytes end in a 3-character group carrying 16 bits in 18: the last character's two low bits must be zero.
  const nonCanonical = `${code.slice(0, -1)}${BASE64URL[BASE64URL.indexOf(code.slice(-1)) | 1]}`;
  const withVersion = (version: number) => {
    const bytes = Buffer.from(code, 'base64url');
    bytes[0] = version;
    return bytes.toString('base64url');
  };
  it.each([
    ['empty', ''],
    ['whitespace only', ' \n '],
    ['truncated', code.slice(0, -1)],
    ['half', code.slice(0, 43)],
    ['extended', `${code}A`],
    ['padded', `${code}=`],
    ['standard base64 characters', `${code.slice(0, -2)}+/`],
    ['inner whitespace', `${code.slice(0, 40)} ${code.slice(40, 86)}`],
    ['a URL around it', `https://example.org/${code}`],
    ['non-canonical in its last character', nonCanonical],
    ['version 0', withVersion(0)],
    ['version 2', withVersion(2)],
    ['non-ASCII', `${code.slice(0, -1)}é`],
  ])('rejects a code that is %s', (_name, text) => {
    expect(codeOf(() => decodeLinkCode(text))).toBe(ProtocolErrorCode.Decode);
  });

  it('rejects every string that is not a code (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        try {
          const decoded = decodeLinkCode(text);
          // Whatever passes must be a canonical code for what it decodes to.
          expect(encodeLinkCode(decoded)).toBe(text.trim());
        } catch (err) {
          expect(ProtocolError.is(err, ProtocolErrorCode.Decode)).toBe(true);
        }
      }),
    );
    fc.assert(
      fc.property(addressArb, publicKeyArb, fc.nat({ max: 86 }), fc.constantFrom('', '-', '=', '.', '~'), (a, k, cut, extra) => {
        const text = encodeLinkCode({ address: a, publicKey: k });
        const damaged = text.slice(0, cut) + extra + text.slice(cut + 1);
        if (damaged === text) return;
        try {
          decodeLinkCode(damaged);
          // A substituted base64url character decodes to other (valid-looking) bytes; it must still be canonical.
          expect(extra).toBe('-');
        } catch (err) {
          expect(ProtocolError.is(err, ProtocolErrorCode.Decode)).toBe(true);
        }
      }),
    );
  });

  it('refuses to encode a malformed address or key', () => {
    expect(codeOf(() => encodeLinkCode({ address: 'abc', publicKey: new Uint8Array(32) }))).toBe(
      ProtocolErrorCode.InvalidArgument,
    );
    expect(codeOf(() => encodeLinkCode({ address: randomAddress(), publicKey: new Uint8Array(33) }))).toBe(
      ProtocolErrorCode.InvalidArgument,
    );
  });

  it('carries everything sealProvisioningMessage needs', async () => {
    const keyPair = await generateProvisioningKeyPair();
    const address = randomAddress();
    const scanned = decodeLinkCode(encodeLinkCode({ address, publicKey: keyPair.publicKey }));
    const sealed = await sealProvisioningMessage(scanned.publicKey, scanned.address, utf8('welcome'));
    expect(await openProvisioningMessage(keyPair, address, sealed)).toEqual(utf8('welcome'));
  });
});
