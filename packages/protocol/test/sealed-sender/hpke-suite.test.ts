/**
 * The HPKE parts of sealed sender (src/sealed-sender/hpke-suite.ts) on both crypto providers: the KDF and AEAD open
 * every encryption of RFC 9180's vector for HKDF-SHA256 / AES-256-GCM (with @hpke's DHKEM(X25519) as the KEM) and
 * compute its exported values; and the whole suite interoperates with @hpke/core's own KDF and AEAD over
 * @hpke/hybridkem-x-wing, both ways, so envelopes sealed before this suite existed still open.
 */
import { readFileSync } from 'node:fs';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { NobleHkdfSha256, ProviderAes256Gcm, sealedSenderSuite } from '../../src/sealed-sender/hpke-suite.js';
import { providers } from '../crypto/providers.js';

interface Vector {
  readonly info: string;
  readonly skRm: string;
  readonly pkRm: string;
  readonly pkEm: string;
  readonly encryptions: ReadonlyArray<{ readonly aad: string; readonly ct: string; readonly pt: string }>;
  readonly exports: ReadonlyArray<{ readonly exporter_context: string; readonly L: number; readonly exported_value: string }>;
}
const vector = JSON.parse(readFileSync(new URL('../vectors/hpke/rfc-9180-x25519-sha256-aes256gcm.json', import.meta.url), 'utf8')) as Vector;
const bytes = (buffer: ArrayBuffer) => new Uint8Array(buffer);

describe.each(providers)('sealed-sender HPKE suite on the %s provider', (_name, crypto) => {
  it("opens RFC 9180's 257 encryptions and computes its exported values with our KDF and AEAD", async () => {
    const dhkem = new DhkemX25519HkdfSha256();
    const suite = new CipherSuite({ kem: dhkem, kdf: new NobleHkdfSha256(), aead: new ProviderAes256Gcm(crypto) });
    const recipientKey = await dhkem.importKey('raw', fromHex(vector.skRm).buffer as ArrayBuffer, false);
    const context = await suite.createRecipientContext({ recipientKey, enc: fromHex(vector.pkEm), info: fromHex(vector.info) });
    for (const [i, e] of vector.encryptions.entries()) {
      expect(toHex(bytes(await context.open(fromHex(e.ct), fromHex(e.aad)))), `encryption ${i}`).toBe(e.pt);
    }
    for (const x of vector.exports) expect(toHex(bytes(await context.export(fromHex(x.exporter_context), x.L)))).toBe(x.exported_value);
    await expect(context.open(fromHex(vector.encryptions[0]!.ct), fromHex(vector.encryptions[0]!.aad))).rejects.toThrow();
  });

  it('interoperates with the plain @hpke X-Wing suite both ways (seal, open, export)', async () => {
    const ours = sealedSenderSuite(crypto);
    expect(sealedSenderSuite(crypto)).toBe(ours);
    const plain = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    const pair = await plain.kem.generateKeyPair();
    const pk = bytes(await plain.kem.serializePublicKey(pair.publicKey));
    const sk = bytes(await plain.kem.serializePrivateKey(pair.privateKey));
    const info = utf8('Samizdat sealed sender v1\0 and a recipient');
    const label = utf8('chain');
    for (const [from, to] of [
      [ours, plain],
      [plain, ours],
    ] as const) {
      const sender = await from.createSenderContext({ recipientPublicKey: await from.kem.deserializePublicKey(pk), info });
      const recipient = await to.createRecipientContext({ recipientKey: await to.kem.deserializePrivateKey(sk), enc: sender.enc, info });
      for (const message of [utf8(''), utf8('one'), new Uint8Array(5000).fill(7)]) {
        expect(bytes(await recipient.open(await sender.seal(message, utf8('aad')), utf8('aad')))).toEqual(message);
      }
      expect(bytes(await recipient.export(label, 32))).toEqual(bytes(await sender.export(label, 32)));
      const tampered = bytes(await sender.seal(utf8('x')));
      tampered[0]! ^= 1;
      await expect(recipient.open(tampered)).rejects.toThrow();
    }
  });
});
